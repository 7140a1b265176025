using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using NUnit.Framework;

namespace CoolAmqp.Tests.Integration;

/// <summary>A memory alarm on the real broker (<c>set_vm_memory_high_watermark 0</c>) blocks publishing: the cluster
/// holds publishes back instead of sending them into a connection the broker stopped reading, tells the application,
/// fails those held too long, and sends the others in order once the alarm clears. The alarm is node-wide, so the fixture runs alone and always clears
/// it.</summary>
[TestFixture]
[Category("Integration")]
[NonParallelizable]
[CancelAfter(60_000)]
public class BlockedTests
{
    [TearDown]
    public async Task ClearAlarm() => await Broker.CtlAsync("set_vm_memory_high_watermark", "0.4");

    private static async Task<T> NextEventAsync<T>(Cluster cluster, double seconds)
        where T : ClusterEvent
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(seconds))
        {
            ClusterEvent e = await cluster.DrainAsync(TimeSpan.FromMilliseconds(200));
            if (e is T wanted)
            {
                return wanted;
            }
        }

        throw new AssertionException($"No {typeof(T).Name} within {seconds} s.");
    }

    /// <summary>RabbitMQ blocks a connection (stops reading it, and says connection.blocked) when it publishes during an
    /// alarm; the alarm itself takes effect at the node's next memory check. So: raise the alarm, then publish plain
    /// "trigger" messages until the cluster reports the block.</summary>
    private static async Task<PublishingBlocked> BlockAsync(Cluster cluster, Queue queue, List<Task> triggers)
    {
        await Broker.CtlAsync("set_vm_memory_high_watermark", "0");
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(15))
        {
            triggers.Add(cluster.PublishAsync(new Message("trigger"u8.ToArray()), routingKey: queue.Name).AsTask());
            ClusterEvent e = await cluster.DrainAsync(TimeSpan.FromMilliseconds(200));
            if (e is PublishingBlocked blocked)
            {
                return blocked;
            }
        }

        throw new AssertionException("No PublishingBlocked within 15 s of the memory alarm.");
    }

    private static async Task<List<string>> BodiesAsync(Cluster cluster, Queue queue)
    {
        var bodies = new List<string>();
        while (await cluster.GetAsync(queue, noAck: true) is { } message)
        {
            using (message)
            {
                string body = Encoding.UTF8.GetString(message.Body.Span);
                if (body != "trigger")
                {
                    bodies.Add(body);
                }
            }
        }

        return bodies;
    }

    [Test]
    public async Task A_blocked_broker_holds_publishes_back_and_they_go_out_in_order_when_it_unblocks()
    {
        int callbacks = 0;
        bool? lastCallback = null;
        await using Cluster cluster = await Broker.StartAsync(new ClusterOptions
        {
            Name = TestContext.CurrentContext.Test.Name,
            OnBlocked = blocked =>
            {
                lastCallback = blocked;
                Interlocked.Increment(ref callbacks);
            },
        });
        var queue = new Queue(Broker.Unique("blocked"), exclusive: true);
        await cluster.DeclareAsync(queue);
        await cluster.PublishAsync(new Message("before"u8.ToArray()), routingKey: queue.Name, confirm: true);

        var triggers = new List<Task>();
        PublishingBlocked blocked = await BlockAsync(cluster, queue, triggers);
        Assert.That(blocked.Node, Is.SameAs(cluster.ConnectedNode));
        Assert.That(blocked.Reason, Does.Contain("memory").IgnoreCase);
        Assert.That(() => lastCallback, Is.True.After(2000, 20), "OnBlocked(true) ran");

        var held = new Task[6];
        for (int i = 0; i < held.Length; i++)
        {
            held[i] = cluster.PublishAsync(new Message(Encoding.UTF8.GetBytes($"held-{i}")), routingKey: queue.Name,
                confirm: i % 2 == 0).AsTask();
        }

        await Task.Delay(1000);
        foreach (Task publish in held)
        {
            Assert.That(publish.IsCompleted, Is.False, "publishes are held while blocked, plain ones too");
        }

        await Broker.CtlAsync("set_vm_memory_high_watermark", "0.4");
        await NextEventAsync<PublishingUnblocked>(cluster, 15);
        await Task.WhenAll(held).WaitAsync(TimeSpan.FromSeconds(10));
        await Task.WhenAll(triggers).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That(() => lastCallback, Is.False.After(2000, 20), "OnBlocked(false) ran");
        Assert.That(callbacks, Is.EqualTo(2));

        List<string> bodies = await BodiesAsync(cluster, queue);
        Assert.That(bodies, Is.EquivalentTo(new[] { "before", "held-0", "held-1", "held-2", "held-3", "held-4", "held-5" }));
        Assert.That(bodies.FindAll(b => b.EndsWith('0') || b.EndsWith('2') || b.EndsWith('4')), Is.EqualTo(new[] { "held-0", "held-2", "held-4" }),
            "confirmed publishes in order");
        Assert.That(bodies.FindAll(b => b.EndsWith('1') || b.EndsWith('3') || b.EndsWith('5')), Is.EqualTo(new[] { "held-1", "held-3", "held-5" }),
            "plain publishes in order");
    }

    [Test]
    public async Task A_publish_held_longer_than_the_blocked_timeout_fails_with_PublishBlockedException_and_is_not_sent()
    {
        await using Cluster cluster = await Broker.StartAsync(new ClusterOptions
        {
            Name = TestContext.CurrentContext.Test.Name,
            BlockedPublishTimeout = TimeSpan.FromMilliseconds(700),
        });
        var queue = new Queue(Broker.Unique("blocked-timeout"), exclusive: true);
        await cluster.DeclareAsync(queue);
        await cluster.PublishAsync(new Message("before"u8.ToArray()), routingKey: queue.Name, confirm: true);

        var triggers = new List<Task>();
        await BlockAsync(cluster, queue, triggers);
        var clock = Stopwatch.StartNew();
        Task held = cluster.PublishAsync(new Message("too late"u8.ToArray()), routingKey: queue.Name, confirm: true).AsTask();
        Task heldPlain = cluster.PublishAsync(new Message("too late, plain"u8.ToArray()), routingKey: queue.Name).AsTask();
        var error = Assert.ThrowsAsync<PublishBlockedException>(async () => await held.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.That(clock.Elapsed, Is.GreaterThan(TimeSpan.FromMilliseconds(600)).And.LessThan(TimeSpan.FromSeconds(4)));
        Assert.That(error!.Message, Does.Contain("blocked publishing"));
        Assert.ThrowsAsync<PublishBlockedException>(async () => await heldPlain.WaitAsync(TimeSpan.FromSeconds(5)));

        await Broker.CtlAsync("set_vm_memory_high_watermark", "0.4");
        await NextEventAsync<PublishingUnblocked>(cluster, 15);
        foreach (Task trigger in triggers)
        {
            // Sent before the block, or held until it timed out: either is fine here.
            await trigger.ContinueWith(static t => _ = t.Exception, TaskScheduler.Default);
        }

        // A publish after the block goes out; the ones that timed out never did.
        await cluster.PublishAsync(new Message("after"u8.ToArray()), routingKey: queue.Name, confirm: true);
        Assert.That(await BodiesAsync(cluster, queue), Is.EqualTo(new[] { "before", "after" }));
    }
}
