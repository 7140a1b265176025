using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Text;
using System.Threading.Tasks;
using CoolAmqp.Tests.Integration;
using NUnit.Framework;

namespace CoolAmqp.Tests.Faults;

/// <summary>
/// In-flight work when the link to the real broker (behind a <see cref="TcpProxy"/>) is cut and the cluster recovers:
/// what was sent and not confirmed is reported as of unknown outcome, what was not sent waits for the next connection
/// (within its limits) and then goes out in order.
/// </summary>
[TestFixture]
[Category("Faults")]
[Category("Integration")]
[CancelAfter(60_000)]
public class ProxyRecoveryTests : FaultTest
{
    private TcpProxy _proxy = null!;
    private NodeDefinition _broker = null!;
    private string _queue = null!;

    [SetUp]
    public void StartProxy()
    {
        _broker = NodeDefinition.Parse(Broker.Uri);
        _proxy = new TcpProxy(_broker.Host, _broker.Port);
        _queue = Broker.Unique("proxy-recovery");
    }

    [TearDown]
    public async Task StopProxy()
    {
        await _proxy.DisposeAsync();
        // The queue outlives the proxied connections (it must, to be found after a reconnect).
        await using Cluster direct = await Broker.StartAsync();
        await direct.DeleteQueueAsync(_queue);
    }

    private async Task<Cluster> StartAsync(RecoveryOptions? recovery = null)
    {
        var node = new NodeDefinition("127.0.0.1", _broker.User, _broker.Password, _broker.VirtualHost, port: _proxy.Port)
        {
            ConnectionTimeout = TimeSpan.FromSeconds(2),
        };
        var cluster = new Cluster(node, Options() with
        {
            Recovery = recovery ?? new RecoveryOptions
            {
                InitialDelay = TimeSpan.FromMilliseconds(50),
                MaxDelay = TimeSpan.FromMilliseconds(500),
                ConnectionWaitTimeout = TimeSpan.FromSeconds(20),
            },
        });
        await Within(cluster.StartAsync(), 10, "StartAsync through the proxy");
        await Within(cluster.DeclareAsync(new Queue(_queue, durable: false, exclusive: false, autoDelete: false), persistent: true),
            5, "DeclareAsync");
        return cluster;
    }

    private async Task<List<string>> BodiesAsync(Cluster cluster)
    {
        var bodies = new List<string>();
        while (await cluster.GetAsync(new Queue(_queue), noAck: true) is { } message)
        {
            using (message)
            {
                bodies.Add(Encoding.UTF8.GetString(message.Body.Span));
            }
        }

        return bodies;
    }

    [Test]
    public async Task Confirmed_publishes_cut_before_their_confirm_are_of_unknown_outcome_and_publishes_made_while_reconnecting_go_out_after_it()
    {
        await using Cluster cluster = await StartAsync();
        await Within(cluster.PublishAsync(new Message("warm"u8.ToArray()), routingKey: _queue, confirm: true).AsTask(), 5,
            "a first confirmed publish");

        _proxy.Stall();
        var inFlight = new Task[200];
        for (int i = 0; i < inFlight.Length; i++)
        {
            inFlight[i] = cluster.PublishAsync(new Message(Encoding.UTF8.GetBytes($"cut-{i}")), routingKey: _queue, confirm: true).AsTask();
        }

        await Task.Delay(200, Deadline);
        _proxy.CutAll();
        foreach (Task publish in inFlight)
        {
            Exception error = await FailureOf(publish, 5, "a publish cut before its confirm");
            AssertOutcomeUnknown(error);
            var unknown = (PublishOutcomeUnknownException)error;
            Assert.That(unknown.RoutingKey, Is.EqualTo(_queue));
            Assert.That(unknown.Exchange, Is.EqualTo(""));
        }

        // The proxy still stalls, so the reconnection cannot finish: these wait for it, in order, plain and confirmed.
        await AssertConnectionLostAsync(cluster, AssertConnectionDead);
        var waiting = new Task[10];
        for (int i = 0; i < waiting.Length; i++)
        {
            waiting[i] = cluster.PublishAsync(new Message(Encoding.UTF8.GetBytes($"after-{i}")), routingKey: _queue,
                confirm: i % 2 == 1).AsTask();
        }

        await Task.Delay(500, Deadline);
        foreach (Task publish in waiting)
        {
            Assert.That(publish.IsCompleted, Is.False, "a publish made while disconnected waits for the connection");
        }

        _proxy.Resume();
        await Within(Task.WhenAll(waiting), 15, "the waiting publishes after recovery");
        Assert.That(cluster.IsConnected, Is.True);

        List<string> bodies = await BodiesAsync(cluster);
        Assert.That(bodies[0], Is.EqualTo("warm"));
        List<string> after = bodies.FindAll(b => b.StartsWith("after-", StringComparison.Ordinal));
        Assert.That(after, Is.EquivalentTo(new[] { "after-0", "after-1", "after-2", "after-3", "after-4", "after-5", "after-6", "after-7", "after-8", "after-9" }),
            "every publish that waited was sent");
        Assert.That(after.FindAll(b => b[^1] % 2 == 0), Is.Ordered.Using<string>(string.CompareOrdinal), "plain publishes keep their order");
        Assert.That(after.FindAll(b => b[^1] % 2 == 1), Is.Ordered.Using<string>(string.CompareOrdinal), "confirmed publishes keep their order");
        TestContext.Out.WriteLine($"{bodies.Count - 11} of the 200 cut publishes had reached the queue anyway");
    }

    [Test]
    public async Task Publishes_made_while_disconnected_beyond_the_limit_fail_at_once_and_the_others_go_out_after_recovery(
        [Values("count", "bytes")] string limit)
    {
        await using Cluster cluster = await StartAsync(new RecoveryOptions
        {
            InitialDelay = TimeSpan.FromMilliseconds(50),
            MaxDelay = TimeSpan.FromMilliseconds(500),
            ConnectionWaitTimeout = TimeSpan.FromSeconds(20),
            MaxWaitingPublishes = limit == "count" ? 3 : 1000,
            MaxWaitingPublishBytes = limit == "count" ? 1 << 20 : 300,
        });
        await Within(cluster.PublishAsync(new Message("warm"u8.ToArray()), routingKey: _queue, confirm: true).AsTask(), 5,
            "a first confirmed publish");
        _proxy.Stall();
        _proxy.CutAll();
        await AssertConnectionLostAsync(cluster, AssertConnectionDead);

        var waiting = new Task[3];
        for (int i = 0; i < waiting.Length; i++)
        {
            waiting[i] = cluster.PublishAsync(new Message(new byte[100]), routingKey: _queue, confirm: i == 0).AsTask();
        }

        var clock = Stopwatch.StartNew();
        Exception error = await FailureOf(
            cluster.PublishAsync(new Message(new byte[100]), routingKey: _queue, confirm: true).AsTask(), 1,
            "a publish beyond the limit");
        Assert.That(error, Is.TypeOf<PublishBufferFullException>(), error.ToString());
        Assert.That(error, Is.InstanceOf<ConnectionDeadException>(), "callers that catch ConnectionDeadException see it");
        Assert.That(error.Message, Does.Contain("3 publishes (300 body bytes) already wait"));
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(1)), "it fails at once, not after the wait");
        foreach (Task publish in waiting)
        {
            Assert.That(publish.IsCompleted, Is.False, "the publishes within the limit still wait");
        }

        _proxy.Resume();
        await Within(Task.WhenAll(waiting), 15, "the waiting publishes after recovery");
        Assert.That(await BodiesAsync(cluster), Has.Count.EqualTo(4), "warm and the three that waited");
    }

    [Test]
    public async Task A_publish_made_while_disconnected_fails_after_the_connection_wait_timeout_and_is_never_sent()
    {
        await using Cluster cluster = await StartAsync(new RecoveryOptions
        {
            InitialDelay = TimeSpan.FromMilliseconds(50),
            MaxDelay = TimeSpan.FromMilliseconds(500),
            ConnectionWaitTimeout = TimeSpan.FromSeconds(1.5),
        });
        _proxy.Stall();
        _proxy.CutAll();
        await AssertConnectionLostAsync(cluster, AssertConnectionDead);

        var clock = Stopwatch.StartNew();
        Exception error = await FailureOf(
            cluster.PublishAsync(new Message("never"u8.ToArray()), routingKey: _queue, confirm: true).AsTask(), 5,
            "a publish while disconnected");
        AssertConnectionDead(error);
        Assert.That(error.Message, Does.Contain("within 1.5 s"));
        Assert.That(clock.Elapsed, Is.GreaterThan(TimeSpan.FromSeconds(1.3)).And.LessThan(TimeSpan.FromSeconds(4)));

        _proxy.Resume();
        await Within(cluster.PublishAsync(new Message("later"u8.ToArray()), routingKey: _queue, confirm: true).AsTask(), 15,
            "a publish after recovery");
        Assert.That(await BodiesAsync(cluster), Is.EqualTo(new[] { "later" }), "the timed-out publish was never sent");
    }

    [Test]
    public async Task Plain_publishes_lost_in_the_outbound_buffer_are_counted_and_reported_and_the_unsent_ones_go_out_after_recovery()
    {
        const int count = 1000;
        const int size = 32 * 1024;
        await using Cluster cluster = await StartAsync();
        await Within(cluster.PublishAsync(new Message("warm"u8.ToArray()), routingKey: _queue, confirm: true).AsTask(), 5,
            "a first confirmed publish");
        // The plain publishing channel opens on first use: open it before the stall.
        await Within(cluster.PublishAsync(new Message("warm plain"u8.ToArray()), routingKey: _queue).AsTask(), 5,
            "a first plain publish");

        // 32 MiB of plain publishes into a stalled link: the socket buffers and then the client's outbound buffer fill,
        // and the rest wait for room.
        _proxy.Stall();
        var publishes = new Task[count];
        for (int i = 0; i < count; i++)
        {
            byte[] body = new byte[size];
            BitConverter.TryWriteBytes(body, i);
            publishes[i] = cluster.PublishAsync(new Message(body), routingKey: _queue).AsTask();
        }

        await Task.Delay(500, Deadline);
        int appended = Array.FindAll(publishes, p => p.IsCompleted).Length;
        Assert.That(appended, Is.LessThan(count), "the outbound buffer filled up and publishes wait for room");
        _proxy.CutAll();
        await AssertConnectionLostAsync(cluster, AssertConnectionDead);
        ClusterEvent next = await cluster.DrainAsync(TimeSpan.FromSeconds(5));
        Assert.That(next, Is.TypeOf<PlainPublishesUnsent>(), "the loss is followed by the count of lost plain publishes");
        var unsent = (PlainPublishesUnsent)next;
        Assert.That(unsent.Count, Is.GreaterThan(0));
        Assert.That(unsent.Node.Port, Is.EqualTo(_proxy.Port));

        _proxy.Resume();
        await Within(Task.WhenAll(publishes), 30, "the publishes that waited, after recovery");
        await Within(cluster.PublishAsync(new Message("last"u8.ToArray()), routingKey: _queue, confirm: true).AsTask(), 10,
            "a confirmed publish behind them");

        var present = new bool[count];
        while (await cluster.GetAsync(new Queue(_queue), noAck: true) is { } message)
        {
            using (message)
            {
                if (message.Body.Length == size)
                {
                    present[BitConverter.ToInt32(message.Body.Span)] = true;
                }
            }
        }

        // What was lost is one run of publishes: those in the network (proxy, kernel buffers) and, last of it, the ones
        // still in the client's buffer, which is what was reported. Everything after the run went out after recovery.
        int first = Array.IndexOf(present, false);
        int end = Array.IndexOf(present, true, Math.Max(first, 0));
        Assert.That(first, Is.GreaterThanOrEqualTo(0), "something was lost in the cut");
        end = end < 0 ? count : end;
        Assert.That(Array.IndexOf(present, false, end), Is.EqualTo(-1), "nothing after the lost run is missing");
        TestContext.Out.WriteLine($"{appended} appended before the cut; lost {first}..{end - 1} ({end - first}); reported {unsent.Count}");
        Assert.That(unsent.Count, Is.LessThanOrEqualTo(end - first), "the count reports only publishes really lost");
    }
}

