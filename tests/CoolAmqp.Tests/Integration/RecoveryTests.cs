using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using CoolAmqp.Framing;
using NUnit.Framework;

namespace CoolAmqp.Tests.Integration;

/// <summary>The cluster rides through the loss of its connection against the real broker: it reconnects, declares
/// again what was declared persistent, re-establishes consumers, and tells the application what happened.</summary>
[TestFixture]
[Category("Integration")]
[NonParallelizable]
[CancelAfter(60_000)]
public class RecoveryTests
{
    private static ClusterOptions Fast(string name, TimeSpan? initialDelay = null, Action? onFail = null) => new()
    {
        Name = name,
        OnFail = onFail,
        Recovery = new RecoveryOptions { InitialDelay = initialDelay ?? TimeSpan.FromMilliseconds(50), MaxDelay = TimeSpan.FromSeconds(1) },
    };

    private static int DeadPort()
    {
        using var listener = new TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    [Test]
    public async Task After_the_broker_closes_the_connection_publishing_and_a_consumer_of_a_recovered_topology_go_on()
    {
        string name = Broker.Unique("recover");
        int failures = 0;
        await using Cluster cluster = await Broker.StartAsync(Fast(name, onFail: () => Interlocked.Increment(ref failures)));

        // A server-named exclusive queue goes with its connection, and the auto-delete exchange with its last
        // binding: both must be declared again, and the binding made to the queue's new name.
        var exchange = new Exchange(Broker.Unique("recover-x"), ExchangeType.Fanout, autoDelete: true);
        var queue = new Queue(exclusive: true);
        await cluster.DeclareAsync(exchange, persistent: true);
        await cluster.DeclareAsync(queue, persistent: true);
        await cluster.BindAsync(queue, exchange, persistent: true);
        string firstName = queue.Name;
        var (consumer, ready) = cluster.Consume(queue, new ConsumerOptions { ReadFromConsumer = true, NoAck = false });
        await ready.WaitAsync(TimeSpan.FromSeconds(10));
        await using IAsyncEnumerator<ReceivedMessage> messages = consumer.ReadAllAsync().GetAsyncEnumerator();

        await cluster.PublishAsync(new Message("before"u8.ToArray()), exchange, confirm: true);
        Assert.That(await messages.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)), Is.True);
        Assert.That(messages.Current.Ack(), Is.True);

        await Broker.CloseConnectionAsync(name, "closed by the test");
        List<ClusterEvent> events = await Broker.EventsUntilAsync<Reconnected>(cluster, 20);
        TestContext.Out.WriteLine(string.Join(", ", events.Select(e => e.GetType().Name)));
        Assert.That(events[0], Is.TypeOf<ConnectionLost>());
        Assert.That(((AmqpException)((ConnectionLost)events[0]).Reason!).ReplyCode, Is.EqualTo(320), "the broker's reason survives");
        QueueRenamed renamed = events.OfType<QueueRenamed>().Single();
        Assert.Multiple(() =>
        {
            Assert.That(renamed.Queue, Is.SameAs(queue));
            Assert.That(renamed.OldName, Is.EqualTo(firstName));
            Assert.That(queue.Name, Is.EqualTo(renamed.NewName).And.Not.EqualTo(firstName).And.StartWith("amq.gen-"));
            Assert.That(events.OfType<TopologyRecoveryFailed>(), Is.Empty);
            Assert.That(((Reconnected)events[^1]).Node, Is.EqualTo(cluster.Nodes[0]));
            Assert.That(cluster.IsConnected, Is.True);
        });

        // The consumer comes back on the renamed queue; what is published through the recovered exchange reaches it.
        Assert.That(await Broker.EventuallyAsync(() => Task.FromResult(consumer.State == ConsumerState.Online), TimeSpan.FromSeconds(10)), Is.True);
        await cluster.PublishAsync(new Message("after"u8.ToArray()), exchange, confirm: true);
        Assert.That(await messages.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)), Is.True,
            "ReadAllAsync goes on after recovery");
        Assert.That(messages.Current.Body.ToArray(), Is.EqualTo("after"u8.ToArray()));
        Assert.That(messages.Current.Ack(), Is.True);
        Assert.That(Volatile.Read(ref failures), Is.EqualTo(1), "OnFail once, for the loss");
        await consumer.CancelAsync();
    }

    [Test]
    public async Task A_persistent_queue_deleted_on_the_broker_while_disconnected_is_there_again_after_recovery()
    {
        string name = Broker.Unique("recover-deleted");
        // rabbitmqctl takes about a second a call: time enough for the deletion before the first attempt.
        await using Cluster cluster = await Broker.StartAsync(Fast(name, initialDelay: TimeSpan.FromSeconds(5)));
        var queue = new Queue(Broker.Unique("recover-deleted-q"), durable: false, autoDelete: false);
        await cluster.DeclareAsync(queue, persistent: true);
        try
        {
            await Broker.CloseConnectionAsync(name, "closed by the test");
            await Broker.CtlAsync("delete_queue", queue.Name);
            Assert.That(await Broker.MessageCountAsync(queue.Name), Is.Null, "deleted while the cluster waits to reconnect");

            await Broker.EventsUntilAsync<Reconnected>(cluster, 20);
            Assert.That(await Broker.MessageCountAsync(queue.Name), Is.Not.Null, "declared again on the new connection");
            await cluster.PublishAsync(new Message("x"u8.ToArray()), routingKey: queue.Name, confirm: true);
            Assert.That((await cluster.DeclareAsync(queue, passive: true)).MessageCount, Is.EqualTo(1));
        }
        finally
        {
            await cluster.DeleteQueueAsync(queue);
        }
    }

    [Test]
    public async Task One_entity_that_cannot_be_recovered_is_reported_and_the_rest_recovers()
    {
        string name = Broker.Unique("recover-clash");
        await using Cluster cluster = await Broker.StartAsync(Fast(name, initialDelay: TimeSpan.FromSeconds(3)));
        await using Cluster other = await Broker.StartAsync();
        var clashing = new Queue(Broker.Unique("recover-clash-a"));
        var fine = new Queue(Broker.Unique("recover-clash-b"));
        await cluster.DeclareAsync(clashing, persistent: true);
        await cluster.DeclareAsync(fine, persistent: true);
        try
        {
            await Broker.CloseConnectionAsync(name, "closed by the test");
            // Meanwhile someone declares the first queue again with other arguments.
            await other.DeleteQueueAsync(clashing.Name);
            await other.DeleteQueueAsync(fine.Name);
            await other.DeclareAsync(new Queue(clashing.Name, arguments: new FieldTable { { "x-max-length", 10 } }));

            List<ClusterEvent> events = await Broker.EventsUntilAsync<Reconnected>(cluster, 20);
            TopologyRecoveryFailed failed = events.OfType<TopologyRecoveryFailed>().Single();
            Assert.Multiple(() =>
            {
                Assert.That(failed.What, Does.Contain(clashing.Name));
                Assert.That(failed.Error, Is.InstanceOf<AmqpException>());
                Assert.That(((AmqpException)failed.Error).ReplyCode, Is.EqualTo(406), "PRECONDITION_FAILED");
            });
            Assert.That(await Broker.MessageCountAsync(fine.Name), Is.Not.Null, "the queue after the failed one was recovered");
            await cluster.PublishAsync(new Message("x"u8.ToArray()), routingKey: fine.Name, confirm: true);
        }
        finally
        {
            await other.DeleteQueueAsync(clashing.Name);
            await other.DeleteQueueAsync(fine.Name);
        }
    }

    [Test]
    public async Task A_login_refused_on_reconnect_is_reported_and_retried_until_it_works()
    {
        string user = Broker.Unique("user");
        await Broker.CtlAsync("add_user", user, "first-password");
        await Broker.CtlAsync("set_permissions", "-p", "/", user, ".*", ".*", ".*");
        try
        {
            NodeDefinition broker = Broker.Node();
            var node = new NodeDefinition(broker.Host, user, "first-password", broker.VirtualHost, port: broker.Port);
            string name = Broker.Unique("recover-login");
            await using var cluster = new Cluster(node, Fast(name, initialDelay: TimeSpan.FromMilliseconds(200)));
            await cluster.StartAsync(timeout: TimeSpan.FromSeconds(10));

            await Broker.CtlAsync("change_password", user, "second-password");
            await Broker.CloseConnectionAsync(name, "closed by the test");
            List<ClusterEvent> refused = await Broker.EventsUntilAsync<ReconnectFailed>(cluster, 20);
            var failed = (ReconnectFailed)refused[^1];
            Assert.Multiple(() =>
            {
                Assert.That(failed.Error, Is.InstanceOf<AuthenticationFailedException>(), failed.Error.ToString());
                Assert.That(failed.NextDelay, Is.Not.Null, "retried");
                Assert.That(cluster.IsConnected, Is.False);
            });

            await Broker.CtlAsync("change_password", user, "first-password");
            List<ClusterEvent> after = await Broker.EventsUntilAsync<Reconnected>(cluster, 20);
            Assert.That(((Reconnected)after[^1]).Attempts, Is.GreaterThan(1));
            await cluster.DeclareAsync(new Queue(Broker.Unique("after-login"), exclusive: true));
        }
        finally
        {
            await Broker.CtlAsync("delete_user", user);
        }
    }

    [Test]
    public async Task Shutdown_never_reconnects()
    {
        string name = Broker.Unique("recover-shutdown");
        Cluster cluster = await Broker.StartAsync(Fast(name));
        await cluster.ShutdownAsync();
        await Task.Delay(500);
        Assert.That(await Broker.ConnectionNamedAsync(name), Is.Null, "no connection after a planned shutdown");
        Assert.ThrowsAsync<ConnectionDeadException>(() => cluster.DeclareAsync(new Queue(Broker.Unique("x"))));
        await cluster.DisposeAsync();
    }

    [Test]
    public async Task StartAsync_tries_every_node_and_connects_to_the_first_that_answers()
    {
        NodeDefinition good = Broker.Node();
        var dead = new NodeDefinition("127.0.0.1", port: DeadPort());
        await using var cluster = new Cluster([dead, good]);
        await cluster.StartAsync(timeout: TimeSpan.FromSeconds(10));
        Assert.That(cluster.ConnectedNode, Is.EqualTo(good));
    }

    [Test]
    public async Task StartAsync_names_each_node_and_why_when_none_answers()
    {
        var first = new NodeDefinition("127.0.0.1", port: DeadPort());
        var second = new NodeDefinition("127.0.0.1", port: DeadPort());
        await using var cluster = new Cluster([first, second]);
        var error = Assert.ThrowsAsync<ConnectionDeadException>(() => cluster.StartAsync(timeout: TimeSpan.FromSeconds(10)));
        Assert.Multiple(() =>
        {
            Assert.That(error!.NodeFailures.Select(f => f.Node), Is.EqualTo(new[] { first, second }));
            Assert.That(error.Message, Does.Contain($":{first.Port} ").And.Contain($":{second.Port} "));
            Assert.That(error.NodeFailures.Select(f => f.Error), Is.All.InstanceOf<ConnectionDeadException>());
        });
        Assert.That(await cluster.DrainAsync(TimeSpan.FromMilliseconds(200)), Is.SameAs(NothingMuch.Instance));
    }
}
