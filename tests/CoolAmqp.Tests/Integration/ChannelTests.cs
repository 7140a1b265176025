using System;
using System.Threading.Tasks;
using NUnit.Framework;

namespace CoolAmqp.Tests.Integration;

/// <summary>Channel numbers up to channel-max and their reuse; SASL mechanisms.</summary>
[TestFixture]
[Category("Integration")]
public class ChannelTests
{
    [Test]
    public async Task Channel_numbers_are_reused_so_many_consumers_fit_a_small_channel_max()
    {
        string name = Broker.Unique("channelmax");
        await using var cluster = new Cluster([new NodeDefinition(Broker.Uri) { ChannelMax = 3 }], new ClusterOptions { Name = name });
        await cluster.StartAsync();
        var row = await Broker.ConnectionNamedAsync(name, "channel_max");
        Assert.That(row?.GetProperty("channel_max").GetInt64(), Is.EqualTo(3));

        // One channel for declarations, at most two consumers at a time, twenty in a row.
        await cluster.DeclareAsync(new Queue(exclusive: true));
        for (int i = 0; i < 20; i++)
        {
            var (consumer, ready) = cluster.Consume(new Queue(exclusive: true), _ => { });
            await ready;
            await consumer.CancelAsync();
        }

        Assert.That(cluster.IsConnected, Is.True);
    }

    [Test]
    public async Task Running_out_of_channel_numbers_fails_the_ready_task()
    {
        await using var cluster = new Cluster([new NodeDefinition(Broker.Uri) { ChannelMax = 2 }]);
        await cluster.StartAsync();
        var (first, firstReady) = cluster.Consume(new Queue(exclusive: true), _ => { });
        var (second, secondReady) = cluster.Consume(new Queue(exclusive: true), _ => { });
        await Task.WhenAll(firstReady, secondReady);

        var (third, thirdReady) = cluster.Consume(new Queue(exclusive: true), _ => { });
        Assert.That(await Task.WhenAny(thirdReady, Task.Delay(TimeSpan.FromSeconds(5))), Is.SameAs(thirdReady), "must not hang");
        var error = Assert.ThrowsAsync<InvalidOperationException>(() => thirdReady);
        Assert.Multiple(() =>
        {
            Assert.That(error!.Message, Does.Contain("channels"));
            Assert.That(third.State, Is.EqualTo(ConsumerState.Cancelled));
            Assert.That(first.State, Is.EqualTo(ConsumerState.Online));
        });

        await second.CancelAsync();
        var (fourth, fourthReady) = cluster.Consume(new Queue(exclusive: true), _ => { });
        await fourthReady;
        await Task.WhenAll(first.CancelAsync(), fourth.CancelAsync());
    }

    [Test]
    public async Task Authenticates_with_AMQPLAIN()
    {
        string name = Broker.Unique("amqplain");
        await using var cluster = new Cluster([new NodeDefinition(Broker.Uri) { AuthMechanisms = ["AMQPLAIN"] }], new ClusterOptions { Name = name });
        await cluster.StartAsync();
        var row = await Broker.ConnectionNamedAsync(name, "auth_mechanism");
        Assert.That(row?.GetProperty("auth_mechanism").GetString(), Is.EqualTo("AMQPLAIN"));
    }

    [Test]
    public async Task Wrong_password_with_AMQPLAIN_is_refused_too()
    {
        NodeDefinition broker = Broker.Node();
        var node = new NodeDefinition(broker.Host, broker.User, "wrong", broker.VirtualHost, port: broker.Port) { AuthMechanisms = ["AMQPLAIN"] };
        await using var cluster = new Cluster([node]);
        Assert.ThrowsAsync<AuthenticationFailedException>(() => cluster.StartAsync(timeout: TimeSpan.FromSeconds(10)));
    }
}
