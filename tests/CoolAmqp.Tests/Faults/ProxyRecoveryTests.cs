using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Text;
using System.Threading;
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
public class ProxyRecoveryTests : ProxyFaultTest
{
    private string _queue = null!;

    [SetUp]
    public void NameQueue() => _queue = Broker.Unique("proxy-recovery");

    [TearDown]
    public async Task DeleteQueue()
    {
        // The queue outlives the proxied connections (it must, to be found after a reconnect).
        await using Cluster direct = await Broker.StartAsync();
        await direct.DeleteQueueAsync(_queue);
    }

    private async Task<Cluster> StartAsync(RecoveryOptions? recovery = null)
    {
        NodeDefinition node = ThroughProxy(connectionTimeoutSeconds: 2);
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

        Proxy.Stall();
        var inFlight = new Task[200];
        for (int i = 0; i < inFlight.Length; i++)
        {
            inFlight[i] = cluster.PublishAsync(new Message(Encoding.UTF8.GetBytes($"cut-{i}")), routingKey: _queue, confirm: true).AsTask();
        }

        await Task.Delay(200, Deadline);
        Proxy.CutAll();
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

        Proxy.Resume();
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
        Proxy.Stall();
        Proxy.CutAll();
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

        Proxy.Resume();
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
        Proxy.Stall();
        Proxy.CutAll();
        await AssertConnectionLostAsync(cluster, AssertConnectionDead);

        var clock = Stopwatch.StartNew();
        Exception error = await FailureOf(
            cluster.PublishAsync(new Message("never"u8.ToArray()), routingKey: _queue, confirm: true).AsTask(), 5,
            "a publish while disconnected");
        AssertConnectionDead(error);
        Assert.That(error.Message, Does.Contain("within 1.5 s"));
        Assert.That(clock.Elapsed, Is.GreaterThan(TimeSpan.FromSeconds(1.3)).And.LessThan(TimeSpan.FromSeconds(4)));

        Proxy.Resume();
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
        Proxy.Stall();
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
        Proxy.CutAll();
        await AssertConnectionLostAsync(cluster, AssertConnectionDead);
        ClusterEvent next = await cluster.DrainAsync(TimeSpan.FromSeconds(5));
        Assert.That(next, Is.TypeOf<PlainPublishesUnsent>(), "the loss is followed by the count of lost plain publishes");
        var unsent = (PlainPublishesUnsent)next;
        Assert.That(unsent.Count, Is.GreaterThan(0));
        Assert.That(unsent.Node.Port, Is.EqualTo(Proxy.Port));

        Proxy.Resume();
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

    // ---- RecoveryOptions.RepublishUnconfirmed ----

    private static RecoveryOptions Republishing(double waitSeconds = 20) => new()
    {
        InitialDelay = TimeSpan.FromMilliseconds(50),
        MaxDelay = TimeSpan.FromMilliseconds(500),
        ConnectionWaitTimeout = TimeSpan.FromSeconds(waitSeconds),
        RepublishUnconfirmed = true,
    };

    [Test]
    public async Task With_republishing_publishes_cut_before_their_confirm_are_sent_again_in_order_before_later_ones_and_confirmed()
    {
        await using Cluster cluster = await StartAsync(Republishing());
        await Within(cluster.PublishAsync(new Message("warm"u8.ToArray()), routingKey: _queue, confirm: true).AsTask(), 5,
            "a first confirmed publish");

        // Stalled, so none of these reaches the broker before the cut: each must arrive exactly once, from the republish.
        Proxy.Stall();
        var cut = new Task[200];
        for (int i = 0; i < cut.Length; i++)
        {
            cut[i] = cluster.PublishAsync(new Message(Encoding.UTF8.GetBytes($"cut-{i:D3}")), routingKey: _queue, confirm: true).AsTask();
        }

        await Task.Delay(200, Deadline);
        Proxy.CutAll();
        await AssertConnectionLostAsync(cluster, AssertConnectionDead);
        var after = new Task[10];
        for (int i = 0; i < after.Length; i++)
        {
            after[i] = cluster.PublishAsync(new Message(Encoding.UTF8.GetBytes($"later-{i}")), routingKey: _queue, confirm: true).AsTask();
        }

        await Task.Delay(300, Deadline);
        Assert.That(Array.FindAll(cut, t => t.IsCompleted), Is.Empty, "a cut publish waits for its new confirm");

        Proxy.Resume();
        await Within(Task.WhenAll(cut), 15, "the republished publishes' confirms");
        await Within(Task.WhenAll(after), 5, "the later publishes");

        var expected = new List<string> { "warm" };
        for (int i = 0; i < cut.Length; i++)
        {
            expected.Add($"cut-{i:D3}");
        }

        for (int i = 0; i < after.Length; i++)
        {
            expected.Add($"later-{i}");
        }

        Assert.That(await BodiesAsync(cluster), Is.EqualTo(expected),
            "each once, in their first order, and before the publishes made after the loss");
    }

    [Test]
    public async Task With_republishing_a_cut_publish_that_finds_no_connection_in_time_fails_as_of_unknown_outcome()
    {
        await using Cluster cluster = await StartAsync(Republishing(waitSeconds: 1.5));
        await Within(cluster.PublishAsync(new Message("warm"u8.ToArray()), routingKey: _queue, confirm: true).AsTask(), 5,
            "a first confirmed publish (opens the confirming channel)");
        Proxy.Stall();
        Task publish = cluster.PublishAsync(new Message("stranded"u8.ToArray()), routingKey: _queue, confirm: true).AsTask();
        await Task.Delay(100, Deadline);
        var clock = Stopwatch.StartNew();
        Proxy.CutAll();

        Exception error = await FailureOf(publish, 10, "a republishable publish with no connection to go to");
        AssertOutcomeUnknown(error);
        Assert.That(clock.Elapsed, Is.GreaterThan(TimeSpan.FromSeconds(1.2)), "it waited for a connection first");
        Assert.That(error.InnerException, Is.InstanceOf<ConnectionDeadException>());
        Assert.That(error.InnerException!.Message, Does.Contain("within 1.5 s"));

        Proxy.Resume();
        await Within(cluster.PublishAsync(new Message("later"u8.ToArray()), routingKey: _queue, confirm: true).AsTask(), 15,
            "a publish after recovery");
        Assert.That(await BodiesAsync(cluster), Is.EqualTo(new[] { "warm", "later" }), "the failed one was not sent again");
    }

    [Test]
    public async Task With_republishing_a_cut_publish_cancelled_while_it_waits_is_not_sent_again()
    {
        await using Cluster cluster = await StartAsync(Republishing());
        using var cancel = new CancellationTokenSource();
        await Within(cluster.PublishAsync(new Message("warm"u8.ToArray()), routingKey: _queue, confirm: true).AsTask(), 5,
            "a first confirmed publish (opens the confirming channel)");
        Proxy.Stall();
        Task first = cluster.PublishAsync(new Message("one"u8.ToArray()), routingKey: _queue, confirm: true).AsTask();
        Task second = cluster.PublishAsync(new Message("two"u8.ToArray()), routingKey: _queue, confirm: true,
            cancellationToken: cancel.Token).AsTask();
        Task third = cluster.PublishAsync(new Message("three"u8.ToArray()), routingKey: _queue, confirm: true).AsTask();
        await Task.Delay(100, Deadline);
        Proxy.CutAll();
        await AssertConnectionLostAsync(cluster, AssertConnectionDead);

        await cancel.CancelAsync();
        Assert.That(await FailureOf(second, 5, "the cancelled publish"), Is.InstanceOf<OperationCanceledException>());
        Proxy.Resume();
        await Within(Task.WhenAll(first, third), 15, "the other two, republished");
        Assert.That(await BodiesAsync(cluster), Is.EqualTo(new[] { "warm", "one", "three" }));
    }

    [Test]
    public async Task With_republishing_publishes_cut_at_random_moments_all_complete_and_every_one_reaches_the_queue()
    {
        await using Cluster cluster = await StartAsync(Republishing());
        const int count = 3000;
        var publishes = new Task[count];
        var random = new Random(9);
        int cuts = 0;
        for (int i = 0; i < count; i++)
        {
            var message = new Message(BitConverter.GetBytes(i), new MessageProperties { MessageId = i.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            publishes[i] = cluster.PublishAsync(message, routingKey: _queue, confirm: true).AsTask();
            if (i % 500 == 250)
            {
                // Cut while publishes are in the socket, in the broker and in its confirms.
                await Task.Delay(random.Next(1, 20), Deadline);
                Proxy.CutAll();
                cuts++;
            }
        }

        await Within(Task.WhenAll(publishes), 40, "every publish, through the cuts");
        var copies = new int[count];
        int duplicates = 0;
        while (await cluster.GetAsync(new Queue(_queue), noAck: true) is { } received)
        {
            using (received)
            {
                int id = BitConverter.ToInt32(received.Body.Span);
                Assert.That(received.Properties.MessageId, Is.EqualTo(id.ToString(System.Globalization.CultureInfo.InvariantCulture)));
                if (++copies[id] > 1)
                {
                    duplicates++;
                }
            }
        }

        Assert.That(Array.IndexOf(copies, 0), Is.EqualTo(-1), "every confirmed publish is in the queue");
        TestContext.Out.WriteLine($"{cuts} cuts; {duplicates} duplicates (first copies the broker had taken before a cut)");
    }

    // ---- consuming ----

    [Test]
    public async Task A_link_cut_inside_a_delivery_frame_leaves_no_corrupt_message_and_the_consumer_gets_every_one_after_recovery()
    {
        const int count = 60;
        const int size = 64 * 1024;
        await using (Cluster direct = await Broker.StartAsync())
        {
            await direct.DeclareAsync(new Queue(_queue, durable: false, exclusive: false, autoDelete: false));
            for (int i = 0; i < count; i++)
            {
                await direct.PublishAsync(new Message(Patterned(i, size)), routingKey: _queue, confirm: true);
            }
        }

        await using Cluster cluster = await StartAsync();
        var seen = new int[count];
        int received = 0, redelivered = 0, corrupt = 0, cutArmed = 0;
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var (consumer, ready) = cluster.Consume(new Queue(_queue), new ConsumerOptions
        {
            NoAck = false,
            PrefetchCount = 4,
            DeclareQueue = false,
            OnMessage = m =>
            {
                int id = BitConverter.ToInt32(m.Body.Span);
                if (m.Body.Length != size || id < 0 || id >= count || !m.Body.Span.SequenceEqual(Patterned(id, size)))
                {
                    Interlocked.Increment(ref corrupt);
                    return;
                }

                if (m.Redelivered)
                {
                    Interlocked.Increment(ref redelivered);
                }

                if (Interlocked.Increment(ref received) == 10 && Interlocked.Exchange(ref cutArmed, 1) == 0)
                {
                    // The frames in flight are 64 KiB bodies: 10,000 bytes from here ends inside one of them.
                    Proxy.CutDownstreamAfter(10_000);
                }

                if (Interlocked.Increment(ref seen[id]) == 1 && Array.TrueForAll(seen, c => c > 0))
                {
                    all.TrySetResult();
                }

                m.Ack();
            },
        });
        await Within(ready, 10, "the consumer");
        await Within(all.Task, 30, "every message, through the cut and the recovery");

        Assert.Multiple(() =>
        {
            Assert.That(Volatile.Read(ref corrupt), Is.Zero, "no half-received or mixed-up body reached the callback");
            Assert.That(Proxy.Accepted, Is.GreaterThanOrEqualTo(2), "the cluster reconnected through the proxy");
            Assert.That(Volatile.Read(ref redelivered), Is.GreaterThan(0), "the unacked deliveries of the cut came again");
            Assert.That(consumer.State, Is.EqualTo(ConsumerState.Online));
        });
        await consumer.CancelAsync();

        static byte[] Patterned(int id, int size)
        {
            byte[] body = new byte[size];
            for (int i = 4; i < size; i++)
            {
                body[i] = (byte)(id * 31 + i);
            }

            BitConverter.TryWriteBytes(body, id);
            return body;
        }
    }
}
