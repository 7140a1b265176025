using System;
using System.Reflection;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using CoolAmqp.Channels;
using CoolAmqp.Framing;
using NUnit.Framework;

namespace CoolAmqp.Tests.Integration;

/// <summary>Consuming with <see cref="ConsumerOptions.OnDelivery"/> against the real broker: bodies of every size
/// in both modes, settling after the callback returned, copies, stale handles, the channel closing under
/// unsettled deliveries, and no allocation per message.</summary>
[TestFixture]
[Category("Integration")]
public class DeliveryConsumeTests : SharedClusterFixture
{
    /// <summary>What a callback saw of one delivery, copied out while it was valid.</summary>
    private sealed record Seen(ulong Tag, bool Redelivered, string Exchange, string RoutingKey, string? ContentType, byte[] Body,
        bool NoAck, string ConsumerTag);

    private static Seen Copy(Delivery d) => new(d.DeliveryTag, d.Redelivered, d.Exchange, d.RoutingKey, d.Properties.ContentType,
        d.Body.ToArray(), d.NoAck, d.ConsumerTag);

    private static async Task<(long Ready, long Unacked)> CountsAsync(string queue)
    {
        foreach (JsonElement row in await Broker.ListAsync("list_queues", "name", "messages_ready", "messages_unacknowledged"))
        {
            if (row.GetProperty("name").GetString() == queue)
            {
                return (row.GetProperty("messages_ready").GetInt64(), row.GetProperty("messages_unacknowledged").GetInt64());
            }
        }

        throw new AssertionException($"Queue {queue} is not listed.");
    }

    private static T Take<T>(BlockingCollection<T> collection, string what)
    {
        Assert.That(collection.TryTake(out T? item, TimeSpan.FromSeconds(10)), Is.True, $"{what} did not arrive");
        return item!;
    }

    private static List<byte[]> Bodies()
    {
        var random = new Random(7);
        // Empty, small, one byte short of and beyond a frame (128 KiB), several frames.
        var bodies = new List<byte[]> { Array.Empty<byte>(), new byte[] { 42 }, new byte[1000], new byte[131_064], new byte[300_000] };
        foreach (byte[] body in bodies)
        {
            random.NextBytes(body);
        }

        return bodies;
    }

    [TestCase(true)]
    [TestCase(false)]
    public async Task Bodies_of_every_size_arrive_intact(bool noAck)
    {
        Queue queue = NewQueue(noAck ? "delivery-noack" : "delivery-ack");
        var seen = new BlockingCollection<Seen>();
        var stale = new ConcurrentQueue<string>();
        Delivery previous = default;
        var (consumer, ready) = SharedCluster.Consume(queue, new ConsumerOptions
        {
            NoAck = noAck,
            PrefetchCount = 3,
            OnDelivery = d =>
            {
                if (noAck && previous.InternalRecord is not null && previous.IsValid)
                {
                    stale.Enqueue("the previous no-ack delivery was still valid after its callback returned");
                }

                previous = d;
                seen.Add(Copy(d));
                if (!noAck && !d.Ack())
                {
                    stale.Enqueue($"ack of {d} failed");
                }
            },
        });
        await ready;
        List<byte[]> bodies = Bodies();
        foreach (byte[] body in bodies)
        {
            await SharedCluster.PublishAsync(new Message(body, new MessageProperties { ContentType = "application/x-test" }),
                routingKey: queue.Name);
        }

        foreach (byte[] body in bodies)
        {
            Seen s = Take(seen, $"the {body.Length}-byte body");
            Assert.Multiple(() =>
            {
                Assert.That(s.Body, Is.EqualTo(body));
                Assert.That(s.Exchange, Is.Empty);
                Assert.That(s.RoutingKey, Is.EqualTo(queue.Name));
                Assert.That(s.ContentType, Is.EqualTo("application/x-test"));
                Assert.That(s.NoAck, Is.EqualTo(noAck));
                Assert.That(s.ConsumerTag, Is.EqualTo(consumer.ConsumerTag));
                Assert.That(s.Redelivered, Is.False);
            });
        }

        Assert.That(stale, Is.Empty);
        Assert.That(await Broker.EventuallyAsync(async () => await CountsAsync(queue.Name) == (0, 0), TimeSpan.FromSeconds(5)), Is.True,
            "nothing left at the broker");
        await consumer.CancelAsync();
    }

    [Test]
    public async Task Deliveries_settled_from_another_thread_after_the_callback_returned()
    {
        Queue queue = NewQueue("delivery-later");
        var handedOut = new BlockingCollection<Delivery>();
        var (consumer, ready) = SharedCluster.Consume(queue, new ConsumerOptions { NoAck = false, PrefetchCount = 50, OnDelivery = handedOut.Add });
        await ready;
        const int count = 20;
        for (int i = 0; i < count; i++)
        {
            await SharedCluster.PublishAsync(new Message($"later-{i}"), routingKey: queue.Name);
        }

        var results = await Task.Run(() =>
        {
            var list = new List<(string Body, bool First, bool Second)>();
            for (int i = 0; i < count; i++)
            {
                Delivery d = Take(handedOut, $"delivery {i}");
                string body = System.Text.Encoding.UTF8.GetString(d.Body);
                bool first = i % 3 == 0 ? d.Nack(requeue: false) : i % 3 == 1 ? d.Reject(requeue: false) : d.Ack();
                list.Add((body, first, d.Ack()));
                Assert.Throws<ObjectDisposedException>(() => _ = d.Body.Length);
            }

            return list;
        });

        Assert.Multiple(() =>
        {
            Assert.That(results.Select(r => r.Body), Is.EqualTo(Enumerable.Range(0, count).Select(i => $"later-{i}")));
            Assert.That(results.Select(r => r.First), Is.All.True);
            Assert.That(results.Select(r => r.Second), Is.All.False, "a settled delivery settles nothing more");
        });
        Assert.That(await Broker.EventuallyAsync(async () => await CountsAsync(queue.Name) == (0, 0), TimeSpan.FromSeconds(5)), Is.True,
            "every delivery was settled (none requeued)");
        await consumer.CancelAsync();
    }

    [Test]
    public async Task A_copy_survives_settlement_and_a_stale_delivery_throws()
    {
        Queue queue = NewQueue("delivery-copy");
        var copies = new BlockingCollection<(Delivery Delivery, ReceivedMessage Copy)>();
        var (consumer, ready) = SharedCluster.Consume(queue, new ConsumerOptions
        {
            NoAck = false,
            OnDelivery = d =>
            {
                ReceivedMessage copy = d.ToReceivedMessage();
                if (copy.Body.Span[0] == (byte)'a')
                {
                    d.Ack();
                }

                copies.Add((d, copy));
            },
        });
        await ready;
        await SharedCluster.PublishAsync(new Message("acked", new MessageProperties { MessageId = "id-1" }), routingKey: queue.Name);
        await SharedCluster.PublishAsync(new Message("by the copy"), routingKey: queue.Name);

        var (delivery, copy) = Take(copies, "the first delivery");
        Assert.Multiple(() =>
        {
            Assert.Throws<ObjectDisposedException>(() => _ = delivery.Body.Length, "settled in the callback");
            Assert.Throws<ObjectDisposedException>(() => _ = delivery.DeliveryTag);
            Assert.That(delivery.Ack(), Is.False);
            Assert.That(System.Text.Encoding.UTF8.GetString(copy.Body.Span), Is.EqualTo("acked"));
            Assert.That(copy.Properties.MessageId, Is.EqualTo("id-1"));
            Assert.That(copy.RoutingKey, Is.EqualTo(queue.Name));
            Assert.That(copy.Ack(), Is.False, "its delivery was settled already");
        });

        var (unsettled, byCopy) = Take(copies, "the second delivery");
        Assert.That(unsettled.IsValid, Is.True, "an acknowledged delivery outlives its callback until settled");
        Assert.That(byCopy.Ack(), Is.True);
        Assert.That(unsettled.IsValid, Is.False, "settling the copy settled the delivery");
        Assert.That(unsettled.Reject(), Is.False);
        Assert.That(await Broker.EventuallyAsync(async () => await CountsAsync(queue.Name) == (0, 0), TimeSpan.FromSeconds(5)), Is.True);
        await consumer.CancelAsync();
    }

    [Test]
    public async Task A_multiple_ack_settles_and_ends_the_earlier_deliveries()
    {
        Queue queue = NewQueue("delivery-multiple");
        var handedOut = new BlockingCollection<Delivery>();
        var (consumer, ready) = SharedCluster.Consume(queue, new ConsumerOptions { NoAck = false, PrefetchCount = 20, OnDelivery = handedOut.Add });
        await ready;
        for (int i = 0; i < 10; i++)
        {
            await SharedCluster.PublishAsync(new Message($"m{i}"), routingKey: queue.Name);
        }

        Delivery[] deliveries = Enumerable.Range(0, 10).Select(i => Take(handedOut, $"delivery {i}")).ToArray();
        Assert.That(deliveries[2].Ack(), Is.True);
        Assert.That(deliveries[7].Ack(multiple: true), Is.True);

        Assert.Multiple(() =>
        {
            Assert.That(deliveries.Take(8).Select(d => d.IsValid), Is.All.False);
            Assert.That(deliveries.Take(8).Select(d => d.Ack()), Is.All.False);
            Assert.That(deliveries.Skip(8).Select(d => d.IsValid), Is.All.True);
        });
        Assert.That(deliveries[9].Ack(multiple: true), Is.True);
        Assert.That(deliveries[8].IsValid, Is.False);
        Assert.That(await Broker.EventuallyAsync(async () => await CountsAsync(queue.Name) == (0, 0), TimeSpan.FromSeconds(5)), Is.True);

        // The channel survived (no tag was settled twice): the next delivery comes with the next tag.
        await SharedCluster.PublishAsync(new Message("marker"), routingKey: queue.Name);
        Delivery marker = Take(handedOut, "the marker");
        Assert.That(marker.DeliveryTag, Is.EqualTo(11));
        marker.Ack();
        await consumer.CancelAsync();
    }

    [Test]
    public async Task The_broker_closing_the_channel_ends_unsettled_deliveries_and_they_come_again()
    {
        // Not auto-delete: the queue must outlive its only consumer's channel for the broker to requeue.
        Queue queue = new(Broker.Unique("delivery-closed"), autoDelete: false);
        var handedOut = new BlockingCollection<Delivery>();
        var (consumer, ready) = SharedCluster.Consume(queue, new ConsumerOptions { NoAck = false, PrefetchCount = 10, OnDelivery = handedOut.Add });
        await ready;
        for (int i = 0; i < 5; i++)
        {
            await SharedCluster.PublishAsync(new Message($"c{i}"), routingKey: queue.Name);
        }

        Delivery[] held = Enumerable.Range(0, 5).Select(i => Take(handedOut, $"delivery {i}")).ToArray();
        DeliveryRecordPool pool = held[0].InternalRecord!.Pool;
        var channel = (AmqpChannel)pool.Acknowledger;
        Assert.That(pool.LiveCount, Is.EqualTo(5));

        // An ack of a tag the broker never sent: it closes the channel (406 PRECONDITION_FAILED).
        channel.Send(new BasicAck(999, multiple: false));
        Assert.That(await channel.Closed.WaitAsync(TimeSpan.FromSeconds(10)), Is.InstanceOf<AmqpException>());

        Assert.Multiple(() =>
        {
            Assert.That(held.Select(d => d.IsValid), Is.All.False);
            Assert.That(held.Select(d => d.Ack()), Is.All.False, "nothing is sent for them");
            Assert.That(pool.LiveCount, Is.Zero);
        });
        Assert.Throws<ObjectDisposedException>(() => _ = held[0].Body.Length);

        // The consumer consumes again on a new channel; the broker requeued the five.
        Delivery[] again = Enumerable.Range(0, 5).Select(i => Take(handedOut, $"redelivery {i}")).ToArray();
        Assert.Multiple(() =>
        {
            Assert.That(again.Select(d => d.Redelivered), Is.All.True);
            Assert.That(again.Select(d => System.Text.Encoding.UTF8.GetString(d.Body)), Is.EquivalentTo(Enumerable.Range(0, 5).Select(i => $"c{i}")));
            Assert.That(again[0].InternalRecord!.Pool, Is.Not.SameAs(pool));
        });
        Assert.That(again[4].Ack(multiple: true), Is.True);
        Assert.That(await Broker.EventuallyAsync(async () => await CountsAsync(queue.Name) == (0, 0), TimeSpan.FromSeconds(5)), Is.True);
        await consumer.CancelAsync();
        await SharedCluster.DeleteQueueAsync(queue);
    }

    [Test]
    public void Only_one_callback_kind_may_be_set()
    {
        var both = new ConsumerOptions { OnMessage = _ => { }, OnDelivery = _ => { } };
        var asyncToo = new ConsumerOptions { OnMessageAsync = (_, _) => ValueTask.CompletedTask, OnDelivery = _ => { } };
        var concurrent = new ConsumerOptions { OnDelivery = _ => { }, MaxConcurrency = 2 };

        var e = Assert.Throws<ArgumentException>(() => SharedCluster.Consume(NewQueue("both"), both));
        Assert.That(e!.Message, Does.Contain("OnMessage").And.Contain("OnMessageAsync").And.Contain("OnDelivery"));
        Assert.Throws<ArgumentException>(() => SharedCluster.Consume(NewQueue("async-too"), asyncToo));
        e = Assert.Throws<ArgumentException>(() => SharedCluster.Consume(NewQueue("concurrent"), concurrent));
        Assert.That(e!.Message, Does.Contain("MaxConcurrency"));
    }

    [Test]
    public async Task A_throwing_callback_is_reported_with_a_copy_and_later_deliveries_continue()
    {
        Queue queue = NewQueue("delivery-throws");
        var errors = new BlockingCollection<(ReceivedMessage Message, Exception Error)>();
        var bodies = new BlockingCollection<string>();
        var (consumer, ready) = SharedCluster.Consume(queue, new ConsumerOptions
        {
            NoAck = false,
            OnDelivery = d =>
            {
                string body = System.Text.Encoding.UTF8.GetString(d.Body);
                if (body == "boom")
                {
                    throw new InvalidOperationException("boom");
                }

                bodies.Add(body);
                d.Ack();
            },
            OnCallbackError = (m, e) => errors.Add((m, e)),
        });
        await ready;
        await SharedCluster.PublishAsync(new Message("boom"), routingKey: queue.Name);
        await SharedCluster.PublishAsync(new Message("fine"), routingKey: queue.Name);

        var (message, error) = Take(errors, "the error");
        Assert.Multiple(() =>
        {
            Assert.That(error.Message, Is.EqualTo("boom"));
            Assert.That(System.Text.Encoding.UTF8.GetString(message.Body.Span), Is.EqualTo("boom"));
            Assert.That(Take(bodies, "the next delivery"), Is.EqualTo("fine"));
        });
        Assert.That(message.Nack(requeue: false), Is.True, "the copy settles the failed delivery");
        Assert.That(await Broker.EventuallyAsync(async () => await CountsAsync(queue.Name) == (0, 0), TimeSpan.FromSeconds(5)), Is.True);
        await consumer.CancelAsync();
    }

    // 64 KiB with a prefetch of 1,000: a window of 64 MB of bodies, more than a channel's default record budget
    // if each took a power-of-two buffer (128 KiB).
    [TestCase(true, 100, 20_000)]
    [TestCase(false, 100, 20_000)]
    [TestCase(true, 64 * 1024, 20_000)]
    [TestCase(false, 64 * 1024, 20_000)]
    [NonParallelizable]
    public async Task Consuming_allocates_nothing_per_message(bool noAck, int size, int count)
    {
        const int Batch = 1000;
        Queue queue = NewQueue((noAck ? "delivery-alloc-noack-" : "delivery-alloc-ack-") + size);
        int received = 0;
        int target = int.MaxValue;
        int wrong = 0;
        DeliveryRecordPool? pool = null;
        using var gate = new ManualResetEventSlim(false);
        TaskCompletionSource done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        var (consumer, ready) = SharedCluster.Consume(queue, new ConsumerOptions
        {
            NoAck = noAck,
            PrefetchCount = 1000,
            OnDelivery = d =>
            {
                pool ??= d.InternalRecord!.Pool;
                gate.Wait();
                if (d.Body.Length != size || d.DeliveryTag == 0)
                {
                    wrong++;
                }

                if (!noAck && !d.Ack())
                {
                    wrong++;
                }

                if (++received == Volatile.Read(ref target))
                {
                    done.TrySetResult();
                }
            },
        });
        await ready;
        var message = new Message(new byte[size]);
        string routingKey = queue.Name;

        // The measured loops resume with ConfigureAwait(false): a test runner's synchronization context allocates
        // per posted continuation, which is the runner's cost, not the library's.
        // In batches of 1,000 so the backlog stays bounded (steady state): a no-ack consumer has no prefetch
        // window, and a backlog that keeps growing grows the record pool and the dispatch queue with it.
        async Task RoundAsync()
        {
            for (int sent = 0; sent < count; sent += Batch)
            {
                done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                Volatile.Write(ref target, Volatile.Read(ref received) + Batch);
                for (int i = 0; i < Batch; i++)
                {
                    await SharedCluster.PublishAsync(message, routingKey: routingKey).ConfigureAwait(false);
                }

                await done.Task.WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
            }
        }

        // Warm-up: JIT, the record pool and the dispatch queue grown to the largest backlog (a whole batch, held
        // up behind the first callback), the buffer pool filled.
        Task warmUp = RoundAsync();
        Assert.That(await Broker.EventuallyAsync(() => Task.FromResult(Volatile.Read(ref pool) is { } p && p.Created + p.Adopted >= Batch), TimeSpan.FromSeconds(20)),
            Is.True, "a whole batch waits for the callback");
        gate.Set();
        await warmUp.ConfigureAwait(false);
        await RoundAsync().ConfigureAwait(false);
        GC.Collect();
        int records = pool!.Created + pool.Adopted;
        long before = GC.GetTotalAllocatedBytes(precise: true);
        await RoundAsync().ConfigureAwait(false);
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        TestContext.Out.WriteLine($"records: {records} after the warm-up, {pool.Created + pool.Adopted} after");

        TestContext.Out.WriteLine($"{allocated} bytes for {count} deliveries published and consumed ({(double)allocated / count:F2} per message)");
        Assert.That(wrong, Is.Zero);
        // A backlog one deeper than any in the warm-up grows the pool by a record and its buffer (at 64 KiB, 68 KiB):
        // growth, not a cost per message, so it is taken out (and printed above).
        int grown = pool.Created + pool.Adopted - records;
        long growth = grown * (long)(((size + 4095) & ~4095) + 512);
        Assert.That(grown, Is.LessThanOrEqualTo(2), "the pool grew in the measured round: the warm-up did not reach the steady state");
        // On the netstandard2.0 asset a publish that waits for room in the outbound buffer allocates its state machines
        // (no pooling builder there): about 5 B per 64 KiB publish, on the publishing side of this test.
        bool waitsAllocate = size > 8 * 1024 && typeof(Cluster).Assembly
            .GetCustomAttribute<System.Runtime.Versioning.TargetFrameworkAttribute>()!.FrameworkName.StartsWith(".NETStandard", StringComparison.Ordinal);
        Assert.That((double)(allocated - growth) / count, Is.LessThan(waitsAllocate ? 16 : 8), "bytes per message (publish and consume)");
        await consumer.CancelAsync();
    }
}
