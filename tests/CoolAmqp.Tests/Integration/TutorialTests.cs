using System;
using System.Threading.Tasks;
using NUnit.Framework;

namespace CoolAmqp.Tests.Integration;

/// <summary>The tutorial of the CoolAMQP documentation, step by step, against a real broker.</summary>
[TestFixture]
[Category("Integration")]
public class TutorialTests
{
    [Test]
    public async Task Tutorial_publishes_consumes_drains_and_acks()
    {
        string name = Broker.Unique("tutorial");
        var node = Broker.Node(heartbeat: 20);
        await using var cluster = new Cluster([node], new ClusterOptions { Name = "My Cluster" });
        await cluster.StartAsync();

        var queue = new Queue(name, autoDelete: true, exclusive: true);
        var (consumer, ready) = cluster.Consume(queue, noAck: false);
        await ready;
        Assert.That(consumer.State, Is.EqualTo(ConsumerState.Online));

        await cluster.PublishAsync(new Message("hello world"u8.ToArray()), routingKey: name, confirm: true);

        ClusterEvent e = await cluster.DrainAsync(TimeSpan.FromSeconds(5));
        Assert.That(e, Is.TypeOf<MessageReceived>());
        ReceivedMessage message = ((MessageReceived)e).Message;
        Assert.Multiple(() =>
        {
            Assert.That(message.Body.ToArray(), Is.EqualTo("hello world"u8.ToArray()));
            Assert.That(message.RoutingKey, Is.EqualTo(name));
            Assert.That(message.Exchange, Is.EqualTo(string.Empty));
            Assert.That(message.Redelivered, Is.False);
        });
        message.Ack();

        // The broker saw the ack: nothing ready, nothing unacknowledged.
        Assert.That(await Broker.EventuallyAsync(async () =>
        {
            var rows = await Broker.ListAsync("list_queues", "name", "messages");
            return rows.Exists(r => r.GetProperty("name").GetString() == name && r.GetProperty("messages").GetInt64() == 0);
        }, TimeSpan.FromSeconds(5)), Is.True, "the queue should be empty after the ack");

        await consumer.CancelAsync();
        Assert.That(consumer.State, Is.EqualTo(ConsumerState.Cancelled));
        await cluster.ShutdownAsync();
    }
}
