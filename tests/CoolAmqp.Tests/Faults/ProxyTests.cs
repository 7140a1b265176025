using System;
using System.Diagnostics;
using System.Threading.Tasks;
using CoolAmqp.Tests.Integration;
using NUnit.Framework;

namespace CoolAmqp.Tests.Faults;

/// <summary>
/// The real broker (COOLAMQP_BROKER) behind a <see cref="TcpProxy"/> that cuts and stalls the connection, as a
/// network would. Queues are exclusive to the proxied connection, so the broker drops them when it goes.
/// </summary>
[TestFixture]
[Category("Faults")]
[Category("Integration")]
[CancelAfter(30_000)]
public class ProxyTests : ProxyFaultTest
{
    private async Task<(Cluster Cluster, string Queue)> StartWithQueueAsync(int? heartbeat = null)
    {
        var cluster = new Cluster(ThroughProxy(heartbeat), Options());
        await Within(cluster.StartAsync(), 10, "StartAsync through the proxy");
        Assert.That(Proxy.Accepted, Is.EqualTo(1), "the cluster connects through the proxy");
        string queue = Broker.Unique("faults");
        await Within(cluster.DeclareAsync(new Queue(queue, exclusive: true)), 5, "DeclareAsync");
        return (cluster, queue);
    }

    [Test]
    public async Task Cutting_the_connection_with_1000_confirmed_publishes_in_flight_completes_every_one_of_them()
    {
        const int count = 1000;
        var (cluster, queue) = await StartWithQueueAsync();
        await using var _ = cluster;
        var body = new Message(new byte[256]);

        // Half go out while confirms stream in; once the first is confirmed the network stops delivering, the
        // other half is published into the stall, and then the connection is cut. Whatever the timing, some were
        // confirmed before the cut and at least half were not.
        var publishes = new Task[count];
        for (int i = 0; i < count / 2; i++)
        {
            publishes[i] = cluster.PublishAsync(body, routingKey: queue, confirm: true).AsTask();
        }

        await Within(Task.WhenAny(publishes[..(count / 2)]), 10, "the first confirm");
        Proxy.Stall();
        for (int i = count / 2; i < count; i++)
        {
            publishes[i] = cluster.PublishAsync(body, routingKey: queue, confirm: true).AsTask();
        }

        await Task.Delay(100, Deadline);
        Proxy.CutAll();

        await Within(SettledAsync(publishes), 5, "every publish completing after the cut");
        int acked = 0, dead = 0;
        foreach (Task publish in publishes)
        {
            if (publish.IsCompletedSuccessfully)
            {
                acked++;
            }
            else
            {
                AssertOutcomeUnknown(publish.Exception!.InnerException!);
                dead++;
            }
        }

        TestContext.Out.WriteLine($"{acked} acked before the cut, {dead} failed with PublishOutcomeUnknownException");
        Assert.That(acked + dead, Is.EqualTo(count), "every publish completed, none is left pending");
        Assert.That(acked, Is.GreaterThanOrEqualTo(1));
        Assert.That(dead, Is.GreaterThanOrEqualTo(count / 2));
        await AssertConnectionLostAsync(cluster, AssertConnectionDead);

        // Nothing waits for a connection that is gone.
        AssertConnectionDead(await FailureOf(cluster.PublishAsync(body, routingKey: queue, confirm: true).AsTask(), 2,
            "a publish after the cut"));
    }

    [Test]
    public async Task Cutting_a_stalled_connection_fails_all_1000_unconfirmed_publishes_fast()
    {
        const int count = 1000;
        var (cluster, queue) = await StartWithQueueAsync();
        await using var _ = cluster;
        var body = new Message(new byte[256]);

        // The confirm channel is open and working; then the network stops delivering.
        await Within(cluster.PublishAsync(body, routingKey: queue, confirm: true).AsTask(), 5, "a first confirmed publish");
        Proxy.Stall();
        var publishes = new Task[count];
        for (int i = 0; i < count; i++)
        {
            publishes[i] = cluster.PublishAsync(body, routingKey: queue, confirm: true).AsTask();
        }

        await Task.Delay(300, Deadline);
        foreach (Task publish in publishes)
        {
            Assert.That(publish.IsCompleted, Is.False, "nothing can be confirmed through a stalled network");
        }

        var clock = Stopwatch.StartNew();
        Proxy.CutAll();
        await Within(SettledAsync(publishes), 5, "every publish completing after the cut");
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(2)), "all failed promptly after the cut");
        foreach (Task publish in publishes)
        {
            Assert.That(publish.IsFaulted, Is.True);
            AssertOutcomeUnknown(publish.Exception!.InnerException!);
        }
        await AssertConnectionLostAsync(cluster, AssertConnectionDead);
    }

    [Test]
    public async Task Cutting_a_stalled_connection_fails_consumer_ready_tasks_and_RPCs_fast([Values(false, true)] bool reset)
    {
        var (cluster, queue) = await StartWithQueueAsync();
        await using var _ = cluster;
        Proxy.Stall();
        var (_, ready) = cluster.Consume(new Queue(queue, exclusive: true));
        Task declare = cluster.DeclareAsync(new Queue(Broker.Unique("faults-stalled"), exclusive: true));
        Task delete = cluster.DeleteQueueAsync(queue);
        await Task.Delay(300, Deadline);
        Assert.That(ready.IsCompleted || declare.IsCompleted || delete.IsCompleted, Is.False, "all wait on the stalled network");

        var clock = Stopwatch.StartNew();
        Proxy.CutAll(reset);
        AssertConnectionDead(await FailureOf(ready, 3, "the consumer's ready task"));
        AssertConnectionDead(await FailureOf(declare, 3, "DeclareAsync"));
        AssertConnectionDead(await FailureOf(delete, 3, "DeleteQueueAsync"));
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(2)));
        await AssertConnectionLostAsync(cluster, AssertConnectionDead);
    }

    [Test]
    public async Task A_stall_shorter_than_the_heartbeat_timeout_is_survived()
    {
        var (cluster, queue) = await StartWithQueueAsync(heartbeat: 2);
        await using var _ = cluster;
        Message message = new("through the stall"u8.ToArray());
        var (_, ready) = cluster.Consume(new Queue(queue, exclusive: true), noAck: true);
        await Within(ready, 5, "the consumer going online");

        Proxy.Stall();
        Task publish = cluster.PublishAsync(message, routingKey: queue, confirm: true).AsTask();
        await Task.Delay(1500, Deadline);
        Assert.That(publish.IsCompleted, Is.False);
        Proxy.Resume();

        await Within(publish, 5, "the confirm after the stall");
        await AssertReceivesAsync(cluster, message.Body.ToArray());

        Assert.That(cluster.IsConnected, Is.True);
    }

    [Test]
    public async Task A_stall_longer_than_two_heartbeats_is_detected_and_pending_operations_fail()
    {
        const int heartbeat = 1;
        var (cluster, queue) = await StartWithQueueAsync(heartbeat: heartbeat);
        await using var _ = cluster;
        await Within(cluster.PublishAsync(new Message("warm"u8.ToArray()), routingKey: queue, confirm: true).AsTask(), 5,
            "a first confirmed publish");

        Proxy.Stall();
        var clock = Stopwatch.StartNew();
        Task publish = cluster.PublishAsync(new Message("x"u8.ToArray()), routingKey: queue, confirm: true).AsTask();
        Task declare = cluster.DeclareAsync(new Queue(Broker.Unique("faults-hb"), exclusive: true));
        Exception error = await FailureOf(declare, 2 * heartbeat + 3, "DeclareAsync on a stalled connection");
        AssertConnectionDead(error);
        Assert.That(error.Message, Does.Contain("heartbeat"));
        Assert.That(clock.Elapsed.TotalSeconds, Is.LessThan(2 * heartbeat + 1.5));
        AssertOutcomeUnknown(await FailureOf(publish, 2, "the confirmed publish"));
        await AssertConnectionLostAsync(cluster, AssertConnectionDead);
    }

    /// <summary>Completes when every task has, whatever its outcome (each is looked at by the caller).</summary>
    private static Task SettledAsync(Task[] tasks) =>
        Task.WhenAll(tasks).ContinueWith(static t => { _ = t.Exception; }, TaskScheduler.Default);
}
