using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using CoolAmqp.Channels;
using CoolAmqp.Framing;
using NUnit.Framework;

namespace CoolAmqp.Tests.Integration;

/// <summary>Settling against the real broker: a settle that an earlier multiple-settle covered, a settle of a
/// message from a channel that has since closed, and many threads settling interleaved tags at once. A second
/// settle of one tag makes RabbitMQ close the channel (406 PRECONDITION_FAILED, unknown delivery tag), which the
/// tests see as the next delivery arriving on a new channel (its delivery tag starts again at 1).</summary>
[TestFixture]
[Category("Integration")]
public class SettlementTests : SharedClusterFixture
{
    private static async Task PublishAsync(Cluster cluster, Queue queue, int count, string prefix = "m")
    {
        for (int i = 0; i < count; i++)
        {
            await cluster.PublishAsync(new Message($"{prefix}{i}"), routingKey: queue.Name, confirm: true);
        }
    }

    private static List<ReceivedMessage> Take(BlockingCollection<ReceivedMessage> received, int count)
    {
        var messages = new List<ReceivedMessage>();
        for (int i = 0; i < count; i++)
        {
            Assert.That(received.TryTake(out ReceivedMessage? m, TimeSpan.FromSeconds(10)), Is.True, $"message {i} of {count} did not arrive");
            messages.Add(m!);
        }

        return messages;
    }

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

    private (Consumer Consumer, Task Ready, BlockingCollection<ReceivedMessage> Received) Consume(Queue queue, ushort? prefetch = null)
    {
        var received = new BlockingCollection<ReceivedMessage>();
        var (consumer, ready) = SharedCluster.Consume(queue, new ConsumerOptions { NoAck = false, PrefetchCount = prefetch, OnMessage = received.Add });
        return (consumer, ready, received);
    }

    /// <summary>A marker published now arrives with the next tag of the same channel: the channel survived.</summary>
    private async Task AssertChannelSurvivedAsync(Queue queue, BlockingCollection<ReceivedMessage> received, ulong expectedTag)
    {
        await SharedCluster.PublishAsync(new Message("marker"), routingKey: queue.Name, confirm: true);
        ReceivedMessage marker = Take(received, 1)[0];
        Assert.Multiple(() =>
        {
            Assert.That(marker.DeliveryTag, Is.EqualTo(expectedTag), "the marker came on a new channel: the old one was closed by the broker");
            Assert.That(marker.Redelivered, Is.False);
        });
        Assert.That(marker.Ack(), Is.True);
    }

    [Test]
    public async Task Ack_of_a_message_covered_by_an_earlier_multiple_ack_sends_nothing()
    {
        Queue queue = NewQueue("settle-multi");
        var (consumer, ready, received) = Consume(queue);
        await ready;
        await PublishAsync(SharedCluster, queue, 5);
        List<ReceivedMessage> m = Take(received, 5);
        Assert.That(m.Select(x => x.DeliveryTag), Is.EqualTo(new ulong[] { 1, 2, 3, 4, 5 }));

        Assert.That(m[4].Ack(multiple: true), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(m[2].Ack(), Is.False, "tag 3 was settled by the multiple-ack of tag 5");
            Assert.That(m[0].Nack(multiple: true), Is.False);
            Assert.That(m[1].Reject(), Is.False);
            Assert.That(m[3].Ack(multiple: true), Is.False);
        });

        await AssertChannelSurvivedAsync(queue, received, expectedTag: 6);
        Assert.That(consumer.State, Is.EqualTo(ConsumerState.Online));
        Assert.That(await Broker.EventuallyAsync(async () => await CountsAsync(queue.Name) == (0, 0), TimeSpan.FromSeconds(5)), Is.True);
        await consumer.CancelAsync();
    }

    [Test]
    public async Task Reject_after_a_multiple_nack_and_a_multiple_ack_over_a_settled_tag_send_only_what_is_unsettled()
    {
        Queue queue = NewQueue("settle-nack");
        var (consumer, ready, received) = Consume(queue);
        await ready;
        await PublishAsync(SharedCluster, queue, 6);
        List<ReceivedMessage> m = Take(received, 6);

        Assert.That(m[3].Nack(requeue: false, multiple: true), Is.True, "drops tags 1..4");
        Assert.That(m[1].Reject(requeue: false), Is.False, "tag 2 was nacked with tag 4");
        Assert.That(m[5].Ack(), Is.True, "tag 6 alone");
        Assert.That(m[0].Ack(multiple: true), Is.False, "tags 1.. were settled");
        // Tag 5 is the only one left: a multiple-ack of it must not stumble over 6, already acked.
        Assert.That(m[4].Ack(multiple: true), Is.True);

        await AssertChannelSurvivedAsync(queue, received, expectedTag: 7);
        Assert.That(await Broker.EventuallyAsync(async () => await CountsAsync(queue.Name) == (0, 0), TimeSpan.FromSeconds(5)), Is.True);
        await consumer.CancelAsync();
    }

    [Test]
    public async Task Settling_a_message_of_a_channel_closed_by_a_channel_error_does_nothing_on_the_reopened_channel()
    {
        // Not auto-delete: the queue must outlive its only consumer's channel, or the broker drops it with m1.
        Queue queue = new(Broker.Unique("settle-stale"), autoDelete: false);
        var (consumer, ready, received) = Consume(queue);
        await ready;
        try
        {
            await PublishAsync(SharedCluster, queue, 2);
            List<ReceivedMessage> old = Take(received, 2);
            Assert.That(old[0].Ack(), Is.True);

            // A channel error under the consumer: the broker requeues m1 (tag 2 here) and the consumer consumes again
            // on a new channel (likely with the same number), where m1 comes back as tag 1 and the next one is tag 2.
            var channel = (AmqpChannel)old[1].Acknowledger!;
            channel.Send(new BasicAck(999, false));
            Assert.That(await channel.Closed.WaitAsync(TimeSpan.FromSeconds(10)), Is.InstanceOf<AmqpException>());
            ReceivedMessage again = Take(received, 1)[0];
            Assert.Multiple(() =>
            {
                Assert.That(again.DeliveryTag, Is.EqualTo(1UL));
                Assert.That(again.Redelivered, Is.True);
                Assert.That(again.Acknowledger, Is.Not.SameAs(channel));
            });
            await SharedCluster.PublishAsync(new Message("m2"), routingKey: queue.Name, confirm: true);
            ReceivedMessage next = Take(received, 1)[0];
            Assert.That(next.DeliveryTag, Is.EqualTo(old[1].DeliveryTag), "the old message's tag, now naming another delivery");

            // Tag 2 of the old channel must not ack tag 2 of the new one.
            Assert.That(old[1].Ack(), Is.False, "the old channel is gone");
            Assert.That(old[1].IsSettled, Is.True);
            await Task.Delay(200);
            Assert.That(await CountsAsync(queue.Name), Is.EqualTo((0L, 2L)), "both deliveries of the new channel are still unacked");

            Assert.That(next.Ack(), Is.True);
            Assert.That(again.Ack(), Is.True);
            Assert.That(await Broker.EventuallyAsync(async () => await CountsAsync(queue.Name) == (0, 0), TimeSpan.FromSeconds(5)), Is.True);
            Assert.That(consumer.State, Is.EqualTo(ConsumerState.Online));
        }
        finally
        {
            await consumer.CancelAsync();
            await SharedCluster.DeleteQueueAsync(queue);
        }
    }

    [Test]
    public async Task Settling_a_message_after_its_connection_was_lost_does_nothing_and_it_comes_again_after_recovery()
    {
        string name = Broker.Unique("settle-lost");
        Queue queue = new(Broker.Unique("settle-lost"), autoDelete: false);
        Cluster cluster = await Broker.StartAsync(new ClusterOptions { Name = name });
        try
        {
            var received = new BlockingCollection<ReceivedMessage>();
            var (consumer, ready) = cluster.Consume(queue, new ConsumerOptions { NoAck = false, OnMessage = received.Add });
            await ready;
            await PublishAsync(cluster, queue, 2);
            List<ReceivedMessage> old = Take(received, 2);
            Assert.That(old[0].Ack(), Is.True);
            var channel = (AmqpChannel)old[1].Acknowledger!;

            await Broker.CloseConnectionAsync(name, "closed by the test");
            Assert.That(await channel.Closed.WaitAsync(TimeSpan.FromSeconds(10)), Is.InstanceOf<ConnectionDeadException>()
                .With.InnerException.InstanceOf<AmqpException>());
            Assert.Multiple(() =>
            {
                Assert.That(old[1].Ack(multiple: true), Is.False, "the connection it came on is gone");
                Assert.That(old[1].IsSettled, Is.True);
            });

            // The broker requeued it, and the consumer, re-established on the new connection, gets it again.
            ReceivedMessage again = Take(received, 1)[0];
            Assert.That(again.Redelivered, Is.True);
            Assert.That(again.Body.ToArray(), Is.EqualTo(old[1].Body.ToArray()));
            Assert.That(again.Ack(), Is.True);
            Assert.That(await Broker.EventuallyAsync(async () => await CountsAsync(queue.Name) == (0, 0), TimeSpan.FromSeconds(5)), Is.True,
                "settled on the new connection");
        }
        finally
        {
            await cluster.DisposeAsync();
            await SharedCluster.DeleteQueueAsync(queue);
        }
    }

    [Test]
    [NonParallelizable]
    public async Task Settling_allocates_nothing_per_message()
    {
        const int count = 2000;
        Queue queue = NewQueue("settle-alloc");
        var (consumer, ready, received) = Consume(queue, prefetch: count);
        await ready;

        // Four rounds: the first warms up (JIT, the writer's segment pool, the tag window growing to the prefetch), and
        // the least of the other three counts: a cost per settle shows in each, a one-off (a pooled buffer that a gen-2
        // collection trimmed from ArrayPool.Shared, made again by the next rent) in one.
        long allocated = long.MaxValue;
        for (int round = 0; round < 4; round++)
        {
            for (int i = 0; i < count; i++)
            {
                await SharedCluster.PublishAsync(new Message("a"), routingKey: queue.Name);
            }

            List<ReceivedMessage> messages = Take(received, count);
            long before = GC.GetTotalAllocatedBytes(precise: true);
            for (int i = 0; i < count; i++)
            {
                // Singles, multiples, and repeats that a multiple already covered.
                messages[i].Ack(multiple: i % 7 == 0);
                if (i % 7 == 0 && i > 3)
                {
                    messages[i - 3].Ack();
                }
            }

            long settled = GC.GetTotalAllocatedBytes(precise: true) - before;
            TestContext.Out.WriteLine($"round {round}: {settled} bytes");
            if (round > 0)
            {
                allocated = Math.Min(allocated, settled);
            }

            Assert.That(await Broker.EventuallyAsync(async () => await CountsAsync(queue.Name) == (0, 0), TimeSpan.FromSeconds(10)), Is.True);
        }

        TestContext.Out.WriteLine($"{allocated} bytes for {count} settles in the least round");
        Assert.That((double)allocated / count, Is.LessThan(8), "bytes per settle");
        await AssertChannelSurvivedAsync(queue, received, expectedTag: 4 * count + 1);
        await consumer.CancelAsync();
    }

    [Test]
    public async Task Many_threads_settling_interleaved_tags_with_multiple_never_upset_the_broker()
    {
        const int count = 3000;
        const int threads = 4;
        Queue queue = NewQueue("settle-stress");
        var (consumer, ready, received) = Consume(queue, prefetch: 300);
        await ready;
        for (int i = 0; i < count; i++)
        {
            await SharedCluster.PublishAsync(new Message($"s{i}"), routingKey: queue.Name);
        }

        int seen = 0;
        int redelivered = 0;
        var clock = Stopwatch.StartNew();
        var workers = new Thread[threads];
        for (int t = 0; t < threads; t++)
        {
            int seed = t;
            workers[t] = new Thread(() =>
            {
                var random = new Random(seed);
                while (Volatile.Read(ref seen) < count && clock.Elapsed < TimeSpan.FromSeconds(8))
                {
                    if (!received.TryTake(out ReceivedMessage? m, 50))
                    {
                        continue;
                    }

                    Interlocked.Increment(ref seen);
                    if (m.Redelivered)
                    {
                        Interlocked.Increment(ref redelivered);
                    }

                    // Interleave: every thread settles what it took, often covering other threads' messages.
                    switch (random.Next(4))
                    {
                        case 0: m.Ack(multiple: true); break;
                        case 1: m.Ack(); break;
                        case 2: Thread.Yield(); m.Ack(multiple: true); break;
                        default: m.Ack(multiple: random.Next(2) == 0); break;
                    }
                }
            })
            { IsBackground = true };
            workers[t].Start();
        }

        foreach (Thread worker in workers)
        {
            Assert.That(worker.Join(TimeSpan.FromSeconds(15)), Is.True);
        }

        Assert.Multiple(() =>
        {
            Assert.That(seen, Is.EqualTo(count), "every message arrived once");
            Assert.That(redelivered, Is.Zero, "a redelivery means the broker closed the channel");
            Assert.That(consumer.State, Is.EqualTo(ConsumerState.Online));
        });
        await AssertChannelSurvivedAsync(queue, received, expectedTag: count + 1);
        Assert.That(await Broker.EventuallyAsync(async () => await CountsAsync(queue.Name) == (0, 0), TimeSpan.FromSeconds(5)), Is.True,
            "the queue ends empty");
        await consumer.CancelAsync();
    }
}

/// <summary>The per-channel tag bookkeeping alone, against a plain set as the model of what the broker holds
/// unsettled: whatever the order of settles, a frame goes out only for tags the broker still holds, and a
/// multiple-settle names a tag the broker holds.</summary>
[TestFixture]
public class SettlementWindowTests
{
    [Test]
    public void Repeats_and_tags_covered_by_a_multiple_settle_settle_nothing()
    {
        var window = new SettlementWindow();
        for (ulong tag = 1; tag <= 5; tag++)
        {
            window.Delivered(tag, needsSettling: true);
        }

        Assert.Multiple(() =>
        {
            Assert.That(window.SettleOne(3), Is.True);
            Assert.That(window.SettleOne(3), Is.False);
            Assert.That(window.SettleUpTo(5, out ulong highest), Is.True);
            Assert.That(highest, Is.EqualTo(5UL));
            Assert.That(window.SettleOne(1), Is.False);
            Assert.That(window.SettleUpTo(4, out _), Is.False);
            Assert.That(window.SettleOne(6), Is.False, "never delivered");
            Assert.That(window.Base, Is.EqualTo(6UL));
        });
    }

    [Test]
    public void A_multiple_settle_of_a_settled_tag_names_the_highest_unsettled_one_below_it()
    {
        var window = new SettlementWindow();
        for (ulong tag = 1; tag <= 6; tag++)
        {
            window.Delivered(tag, needsSettling: tag != 2);
        }

        Assert.That(window.SettleOne(5), Is.True);
        Assert.That(window.SettleOne(6), Is.True);
        Assert.That(window.SettleUpTo(6, out ulong highest), Is.True);
        Assert.That(highest, Is.EqualTo(4UL));
        Assert.That(window.SettleUpTo(6, out _), Is.False);
        Assert.That(window.Base, Is.EqualTo(window.Next));
    }

    [Test]
    public void No_ack_deliveries_take_tags_but_never_await_settling()
    {
        var window = new SettlementWindow();
        for (ulong tag = 1; tag <= 1000; tag++)
        {
            window.Delivered(tag, needsSettling: false);
        }

        window.Delivered(1001, needsSettling: true);
        Assert.Multiple(() =>
        {
            Assert.That(window.SettleOne(500), Is.False);
            Assert.That(window.SettleUpTo(1001, out ulong highest), Is.True);
            Assert.That(highest, Is.EqualTo(1001UL));
            Assert.That(window.Capacity, Is.EqualTo(256), "a gap of no-ack tags does not grow the ring");
        });
    }

    [Test]
    public void The_ring_grows_when_an_old_tag_stays_unsettled_and_keeps_every_bit()
    {
        var window = new SettlementWindow();
        for (ulong tag = 1; tag <= 2000; tag++)
        {
            window.Delivered(tag, needsSettling: true);
            if (tag > 10 && tag % 3 != 0)
            {
                Assert.That(window.SettleOne(tag), Is.True);
            }
        }

        Assert.That(window.Capacity, Is.GreaterThanOrEqualTo(2000));
        for (ulong tag = 1; tag <= 2000; tag++)
        {
            bool outstanding = tag <= 10 || tag % 3 == 0;
            Assert.That(window.SettleOne(tag), Is.EqualTo(outstanding), $"tag {tag}");
        }

        Assert.That(window.Base, Is.EqualTo(2001UL));
    }

    [Test]
    public void Random_settles_never_name_a_tag_the_broker_does_not_hold([Values(1, 2, 3, 4, 5)] int seed)
    {
        var random = new Random(seed);
        var window = new SettlementWindow();
        var unsettled = new SortedSet<ulong>();
        var delivered = new List<ulong>();
        ulong next = 1;
        int windowSize = random.Next(1, 700);
        for (int step = 0; step < 20000; step++)
        {
            if (unsettled.Count < windowSize && random.Next(3) != 0)
            {
                next += random.Next(10) == 0 ? (ulong)random.Next(1, 300) : 1;
                bool needs = random.Next(8) != 0;
                window.Delivered(next, needs);
                if (needs)
                {
                    unsettled.Add(next);
                    delivered.Add(next);
                }

                continue;
            }

            if (delivered.Count == 0)
            {
                continue;
            }

            // Settle any tag delivered so far (often one already settled), sometimes with multiple.
            ulong tag = delivered[random.Next(delivered.Count)];
            if (random.Next(2) == 0)
            {
                bool expected = unsettled.Remove(tag);
                Assert.That(window.SettleOne(tag), Is.EqualTo(expected), $"single {tag}");
            }
            else
            {
                SortedSet<ulong> covered = unsettled.GetViewBetween(0, tag);
                bool expected = covered.Count > 0;
                ulong expectedHighest = expected ? covered.Max : 0;
                Assert.That(window.SettleUpTo(tag, out ulong highest), Is.EqualTo(expected), $"multiple {tag}");
                if (expected)
                {
                    Assert.That(highest, Is.EqualTo(expectedHighest));
                    unsettled.RemoveWhere(t => t <= tag);
                }
            }

            Assert.That(window.Base, Is.EqualTo(unsettled.Count > 0 ? unsettled.Min : window.Next));
            if (delivered.Count > 4000)
            {
                delivered.RemoveRange(0, 2000);
            }
        }
    }
}
