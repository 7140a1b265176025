using System;
using System.Buffers;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Threading;
using CoolAmqp;
using CoolAmqp.Channels;
using CoolAmqp.Framing;
using NUnit.Framework;

namespace CoolAmqp.Tests.Api;

/// <summary>The pooled delivery handle and its records, without a broker: what a stale handle does, versions,
/// settling once (also from many threads at once), multiple-settles and the channel closing.</summary>
[TestFixture]
public sealed class DeliveryTests
{
    private sealed class CountingAcknowledger : IDeliveryAcknowledger
    {
        public readonly ConcurrentQueue<string> Calls = new();
        public volatile bool Result = true;

        public bool Ack(ulong deliveryTag, bool multiple)
        {
            Calls.Enqueue($"ack {deliveryTag} {multiple}");
            return Result;
        }

        public bool Nack(ulong deliveryTag, bool multiple, bool requeue)
        {
            Calls.Enqueue($"nack {deliveryTag} {multiple} {requeue}");
            return Result;
        }

        public bool Reject(ulong deliveryTag, bool requeue)
        {
            Calls.Enqueue($"reject {deliveryTag} {requeue}");
            return Result;
        }
    }

    /// <summary>Counts the buffers given back, to check each goes back exactly once.</summary>
    private sealed class CountingPool : ArrayPool<byte>
    {
        public readonly ConcurrentDictionary<byte[], int> Returned = new(ReferenceEqualityComparer.Instance);

        public override byte[] Rent(int minimumLength) => new byte[minimumLength];

        public override void Return(byte[] array, bool clearArray = false) => Returned.AddOrUpdate(array, 1, (_, n) => n + 1);
    }

    private sealed class Fixture
    {
        public readonly CountingAcknowledger Acknowledger = new();
        public readonly CountingPool Buffers = new();
        public readonly object Sync = new();
        public readonly DeliveryRecordPool Pool;

        public Fixture(long retainBudget = 0, bool useSpares = false) =>
            Pool = new DeliveryRecordPool(Acknowledger, Sync, retainBudget, useSpares);

        /// <summary>What the read loop does with a complete delivery.</summary>
        public Delivery Deliver(ulong tag, bool noAck = false, string exchange = "amq.topic", string routingKey = "a.b",
            MessageProperties? properties = null, byte[]? body = null)
        {
            byte[] ex = Encoding.UTF8.GetBytes(exchange);
            byte[] rk = Encoding.UTF8.GetBytes(routingKey);
            byte[] props = properties is null ? [] : Encode(properties);
            body ??= [1, 2, 3];
            DeliveryRecord record = Pool.Rent();
            byte[] buffer = record.PrepareBuffer(ex.Length + rk.Length + props.Length + body.Length, Buffers);
            ex.CopyTo(buffer, 0);
            rk.CopyTo(buffer, ex.Length);
            props.CopyTo(buffer, ex.Length + rk.Length);
            body.CopyTo(buffer, ex.Length + rk.Length + props.Length);
            record.Fill(tag, redelivered: tag % 2 == 0, noAck, "ctag-1", ex.Length, rk.Length, props.Length, body.Length);
            long token;
            lock (Sync)
            {
                token = Pool.PublishLocked(record);
            }

            return new Delivery(record, token);
        }
    }

    private static byte[] Encode(MessageProperties properties)
    {
        BasicProperties wire = properties.ToWire();
        var buffer = new byte[wire.GetSize()];
        wire.WriteTo(buffer);
        return buffer;
    }

    /// <summary>Every read of an ended delivery throws ObjectDisposedException.</summary>
    private static void AssertStale(Delivery delivery)
    {
        Assert.Multiple(() =>
        {
            Assert.That(delivery.IsValid, Is.False);
            Assert.Throws<ObjectDisposedException>(() => _ = delivery.DeliveryTag);
            Assert.Throws<ObjectDisposedException>(() => _ = delivery.Redelivered);
            Assert.Throws<ObjectDisposedException>(() => _ = delivery.NoAck);
            Assert.Throws<ObjectDisposedException>(() => _ = delivery.ConsumerTag);
            Assert.Throws<ObjectDisposedException>(() => _ = delivery.Body.Length);
            Assert.Throws<ObjectDisposedException>(() => _ = delivery.BodyMemory);
            Assert.Throws<ObjectDisposedException>(() => _ = delivery.ExchangeUtf8.Length);
            Assert.Throws<ObjectDisposedException>(() => _ = delivery.RoutingKeyUtf8.Length);
            Assert.Throws<ObjectDisposedException>(() => _ = delivery.Exchange);
            Assert.Throws<ObjectDisposedException>(() => _ = delivery.RoutingKey);
            Assert.Throws<ObjectDisposedException>(() => _ = delivery.RawProperties.Length);
            Assert.Throws<ObjectDisposedException>(() => _ = delivery.Properties);
            Assert.Throws<ObjectDisposedException>(() => delivery.ToReceivedMessage());
            Assert.That(delivery.Ack(), Is.False);
            Assert.That(delivery.Nack(), Is.False);
            Assert.That(delivery.Reject(), Is.False);
            Assert.That(delivery.ToString(), Is.EqualTo("Delivery(ended)"));
        });
    }

    [Test]
    public void A_live_delivery_reads_what_was_delivered()
    {
        var fixture = new Fixture();
        var properties = new MessageProperties { ContentType = "text/plain", Priority = 3, Headers = new FieldTable { { "k", "v" } } };
        Delivery delivery = fixture.Deliver(42, exchange: "ex-ä", routingKey: "rk.1", properties: properties, body: [9, 8, 7, 6]);

        Assert.Multiple(() =>
        {
            Assert.That(delivery.IsValid, Is.True);
            Assert.That(delivery.DeliveryTag, Is.EqualTo(42));
            Assert.That(delivery.Redelivered, Is.True);
            Assert.That(delivery.NoAck, Is.False);
            Assert.That(delivery.ConsumerTag, Is.EqualTo("ctag-1"));
            Assert.That(delivery.Body.ToArray(), Is.EqualTo(new byte[] { 9, 8, 7, 6 }));
            Assert.That(delivery.BodyMemory.ToArray(), Is.EqualTo(new byte[] { 9, 8, 7, 6 }));
            Assert.That(delivery.ExchangeUtf8.ToArray(), Is.EqualTo(Encoding.UTF8.GetBytes("ex-ä")));
            Assert.That(delivery.RoutingKeyUtf8.ToArray(), Is.EqualTo(Encoding.UTF8.GetBytes("rk.1")));
            Assert.That(delivery.Exchange, Is.EqualTo("ex-ä"));
            Assert.That(delivery.RoutingKey, Is.EqualTo("rk.1"));
            Assert.That(delivery.RawProperties.ToArray(), Is.EqualTo(Encode(properties)));
            Assert.That(delivery.Properties.ContentType, Is.EqualTo("text/plain"));
            Assert.That(delivery.Properties.Priority, Is.EqualTo(3));
            Assert.That(delivery.Properties.Headers, Is.EqualTo(properties.Headers));
            Assert.That(delivery.ToString(), Does.Contain("tag=42").And.Contain("4 bytes"));
        });
    }

    [Test]
    public void No_properties_and_an_empty_body_read_as_empty()
    {
        var fixture = new Fixture();
        Delivery delivery = fixture.Deliver(1, exchange: "", routingKey: "", body: []);
        Assert.Multiple(() =>
        {
            Assert.That(delivery.Body.IsEmpty, Is.True);
            Assert.That(delivery.Exchange, Is.SameAs(string.Empty));
            Assert.That(delivery.RawProperties.IsEmpty, Is.True);
            Assert.That(delivery.Properties, Is.SameAs(MessageProperties.Empty));
        });
    }

    [Test]
    public void Default_delivery_is_ended()
    {
        AssertStale(default);
    }

    [Test]
    public void Settling_ends_the_delivery_once_and_returns_its_buffer()
    {
        var fixture = new Fixture();
        Delivery delivery = fixture.Deliver(5);
        byte[] buffer = BufferOf(delivery);

        Assert.That(delivery.Ack(), Is.True);
        AssertStale(delivery);
        Assert.Multiple(() =>
        {
            Assert.That(fixture.Acknowledger.Calls, Is.EqualTo(new[] { "ack 5 False" }), "one frame, for its tag");
            Assert.That(fixture.Buffers.Returned[buffer], Is.EqualTo(1), "the buffer went back once");
            Assert.That(fixture.Pool.LiveCount, Is.Zero);
        });
    }

    [TestCase("ack")]
    [TestCase("nack")]
    [TestCase("reject")]
    public void Each_settle_sends_its_frame_and_reports_the_channel_result(string kind)
    {
        var fixture = new Fixture();
        fixture.Acknowledger.Result = false; // the channel closed meanwhile
        Delivery delivery = fixture.Deliver(9);
        bool settled = kind switch
        {
            "ack" => delivery.Ack(),
            "nack" => delivery.Nack(requeue: false),
            _ => delivery.Reject(requeue: false),
        };

        Assert.That(settled, Is.False, "nothing reached the broker");
        Assert.That(fixture.Acknowledger.Calls, Is.EqualTo(new[]
        {
            kind switch { "ack" => "ack 9 False", "nack" => "nack 9 False False", _ => "reject 9 False" },
        }));
        AssertStale(delivery);
    }

    [Test]
    public void A_stale_handle_never_reads_or_settles_the_next_message_in_its_record()
    {
        var fixture = new Fixture();
        Delivery first = fixture.Deliver(1, body: [1]);
        Assert.That(first.Ack(), Is.True);
        Delivery second = fixture.Deliver(2, body: [2, 2]);

        Assert.That(second.InternalRecord, Is.SameAs(first.InternalRecord), "the record was reused");
        Assert.That(second, Is.Not.EqualTo(first));
        AssertStale(first);
        Assert.Multiple(() =>
        {
            Assert.That(second.IsValid, Is.True);
            Assert.That(second.Body.ToArray(), Is.EqualTo(new byte[] { 2, 2 }));
            Assert.That(fixture.Acknowledger.Calls, Is.EqualTo(new[] { "ack 1 False" }), "the stale settles sent nothing");
        });
        Assert.That(second.Reject(), Is.True);
        Assert.That(fixture.Acknowledger.Calls.Last(), Is.EqualTo("reject 2 True"));
    }

    [Test]
    public void A_pool_recycles_records_so_steady_state_creates_none()
    {
        var fixture = new Fixture();
        var window = new Queue<Delivery>();
        for (ulong tag = 1; tag <= 1000; tag++)
        {
            window.Enqueue(fixture.Deliver(tag));
            if (window.Count == 10)
            {
                Assert.That(window.Dequeue().Ack(), Is.True);
            }
        }

        Assert.That(fixture.Pool.Created, Is.EqualTo(10), "as many records as deliveries outstanding at once");
        Assert.That(fixture.Pool.LiveCount, Is.EqualTo(9));
    }

    [Test]
    public void A_record_keeps_its_buffer_within_the_budget_and_returns_what_exceeds_it()
    {
        var fixture = new Fixture(retainBudget: 1000);
        Delivery first = fixture.Deliver(1, body: new byte[100]);
        byte[] kept = BufferOf(first);
        Assert.That(first.Ack(), Is.True);
        Delivery second = fixture.Deliver(2, body: new byte[50]);

        Assert.Multiple(() =>
        {
            Assert.That(BufferOf(second), Is.SameAs(kept), "the record kept its buffer for the next delivery");
            Assert.That(fixture.Buffers.Returned, Is.Empty);
            Assert.That(fixture.Pool.RetainedBytes, Is.EqualTo(kept.Length));
        });

        Assert.That(second.Ack(), Is.True);
        Delivery big = fixture.Deliver(3, body: new byte[5000]);
        byte[] bigBuffer = BufferOf(big);
        Assert.That(big.Ack(), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(fixture.Buffers.Returned.Keys, Is.EquivalentTo(new[] { kept, bigBuffer }),
                "the small buffer went back when swapped, the big one (over budget) when its delivery ended");
            Assert.That(fixture.Pool.RetainedBytes, Is.Zero);
        });
    }

    [Test]
    public void Records_of_a_closed_channel_serve_the_next_channel_with_their_buffers()
    {
        var closing = new Fixture(retainBudget: 1 << 20, useSpares: true);
        Delivery[] deliveries = Enumerable.Range(1, 3).Select(i => closing.Deliver((ulong)i, body: new byte[500])).ToArray();
        Assert.That(deliveries[0].Ack(), Is.True);
        closing.Pool.EndAll();
        Assert.That(deliveries.Select(d => d.IsValid), Is.All.False);

        var next = new Fixture(retainBudget: 1 << 20, useSpares: true);
        DeliveryRecord record = next.Pool.Rent();
        Assert.Multiple(() =>
        {
            Assert.That(record.Pool, Is.SameAs(next.Pool), "adopted by the new pool");
            Assert.That(next.Pool.Created, Is.Zero, "a spare, not a new record");
            Assert.That(record.Stamp % 2, Is.EqualTo(1), "free");
        });

        // A stale handle of the old channel still cannot touch it.
        Assert.That(deliveries[1].Ack(), Is.False);
        Assert.That(next.Acknowledger.Calls, Is.Empty);
    }

    private static byte[] BufferOf(Delivery delivery)
    {
        Assert.That(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(delivery.BodyMemory, out ArraySegment<byte> segment), Is.True);
        return segment.Array!;
    }

    [Test]
    public void A_multiple_settle_ends_every_earlier_live_delivery()
    {
        var fixture = new Fixture();
        Delivery[] deliveries = Enumerable.Range(1, 5).Select(i => fixture.Deliver((ulong)i)).ToArray();
        Assert.That(deliveries[1].Ack(), Is.True);

        Assert.That(deliveries[3].Ack(multiple: true), Is.True);

        Assert.Multiple(() =>
        {
            AssertStale(deliveries[0]);
            AssertStale(deliveries[2]);
            AssertStale(deliveries[3]);
            Assert.That(deliveries[4].IsValid, Is.True, "a later delivery is not covered");
            Assert.That(fixture.Acknowledger.Calls, Is.EqualTo(new[] { "ack 2 False", "ack 4 True" }));
            Assert.That(fixture.Pool.LiveCount, Is.EqualTo(1));
            Assert.That(fixture.Buffers.Returned.Count, Is.EqualTo(4));
            Assert.That(fixture.Buffers.Returned.Values, Is.All.EqualTo(1));
        });
    }

    [Test]
    public void The_channel_closing_ends_every_live_delivery()
    {
        var fixture = new Fixture();
        Delivery[] deliveries = Enumerable.Range(1, 3).Select(i => fixture.Deliver((ulong)i)).ToArray();

        fixture.Pool.EndAll();

        foreach (Delivery delivery in deliveries)
        {
            AssertStale(delivery);
        }

        Assert.Multiple(() =>
        {
            Assert.That(fixture.Acknowledger.Calls, Is.Empty, "nothing is sent: the broker requeues them");
            Assert.That(fixture.Buffers.Returned.Values, Is.EqualTo(new[] { 1, 1, 1 }));
            Assert.That(fixture.Pool.LiveCount, Is.Zero);
        });
    }

    [Test]
    public void A_no_ack_delivery_settles_without_a_frame_and_ends_once()
    {
        var fixture = new Fixture();
        Delivery settled = fixture.Deliver(1, noAck: true);
        Delivery returned = fixture.Deliver(2, noAck: true);
        Assert.That(settled.NoAck, Is.True);

        Assert.That(settled.Ack(), Is.True);
        returned.InternalRecord!.End(returned.InternalRecord.Stamp); // the callback returned
        returned.InternalRecord.End(returned.InternalRecord.Stamp - 1); // a stale end does nothing

        AssertStale(settled);
        AssertStale(returned);
        Assert.Multiple(() =>
        {
            Assert.That(fixture.Acknowledger.Calls, Is.Empty);
            Assert.That(fixture.Pool.LiveCount, Is.Zero, "no-ack deliveries are never on the live list");
            Assert.That(fixture.Buffers.Returned.Values, Is.EqualTo(new[] { 1, 1 }));
        });
    }

    [Test]
    public void A_copy_outlives_the_delivery_and_settles_through_it()
    {
        var fixture = new Fixture();
        var properties = new MessageProperties { MessageId = "m-1" };
        Delivery delivery = fixture.Deliver(3, properties: properties, body: [4, 5]);
        ReceivedMessage copy = delivery.ToReceivedMessage();
        Assert.That(delivery.Ack(), Is.True);

        Assert.Multiple(() =>
        {
            Assert.That(copy.Body.ToArray(), Is.EqualTo(new byte[] { 4, 5 }));
            Assert.That(copy.Exchange, Is.EqualTo("amq.topic"));
            Assert.That(copy.RoutingKey, Is.EqualTo("a.b"));
            Assert.That(copy.Properties.MessageId, Is.EqualTo("m-1"));
            Assert.That(copy.DeliveryTag, Is.EqualTo(3));
            Assert.That(copy.ConsumerTag, Is.EqualTo("ctag-1"));
            Assert.That(copy.Ack(), Is.False, "the delivery was settled already");
            Assert.That(fixture.Acknowledger.Calls, Is.EqualTo(new[] { "ack 3 False" }));
        });

        Delivery other = fixture.Deliver(4);
        ReceivedMessage otherCopy = other.ToReceivedMessage();
        Assert.That(otherCopy.Nack(requeue: false), Is.True, "settling the copy settles the delivery");
        AssertStale(other);
        Assert.That(fixture.Acknowledger.Calls.Last(), Is.EqualTo("nack 4 False False"));
    }

    [Test]
    public void Concurrent_settles_of_one_delivery_settle_it_exactly_once()
    {
        var fixture = new Fixture();
        const int threads = 6;
        for (ulong tag = 1; tag <= 300; tag++)
        {
            Delivery delivery = fixture.Deliver(tag);
            ReceivedMessage copy = delivery.ToReceivedMessage();
            int wins = 0;
            using var barrier = new Barrier(threads);
            var workers = new Thread[threads];
            for (int t = 0; t < threads; t++)
            {
                int which = t;
                workers[t] = new Thread(() =>
                {
                    barrier.SignalAndWait();
                    bool won = (which % 4) switch
                    {
                        0 => delivery.Ack(),
                        1 => delivery.Nack(),
                        2 => delivery.Reject(),
                        _ => copy.Ack(),
                    };
                    if (won)
                    {
                        Interlocked.Increment(ref wins);
                    }
                });
                workers[t].Start();
            }

            foreach (Thread worker in workers)
            {
                worker.Join();
            }

            Assert.That(wins, Is.EqualTo(1), $"tag {tag}");
        }

        Assert.Multiple(() =>
        {
            Assert.That(fixture.Acknowledger.Calls, Has.Count.EqualTo(300), "one frame per delivery");
            Assert.That(fixture.Buffers.Returned.Values, Is.All.EqualTo(1));
            Assert.That(fixture.Buffers.Returned, Has.Count.EqualTo(300));
            Assert.That(fixture.Pool.Created, Is.EqualTo(1));
        });
    }

    [Test]
    public void Settling_from_many_threads_while_the_read_loop_delivers_recycles_every_record_once()
    {
        var fixture = new Fixture();
        const int count = 50_000;
        var handedOut = new BlockingCollection<Delivery>(boundedCapacity: 256);
        int stale = 0;
        var settlers = new Thread[3];
        for (int t = 0; t < settlers.Length; t++)
        {
            int which = t;
            settlers[t] = new Thread(() =>
            {
                foreach (Delivery delivery in handedOut.GetConsumingEnumerable())
                {
                    ulong tag;
                    try
                    {
                        tag = delivery.DeliveryTag;
                    }
                    catch (ObjectDisposedException)
                    {
                        // A multiple-settle on another thread covered it.
                        Assert.That(delivery.Ack(), Is.False);
                        continue;
                    }

                    // Some settle several earlier ones at once; the stale ones they covered must not settle again.
                    bool settled = which == 0 && tag % 16 == 0 ? delivery.Ack(multiple: true) : delivery.Ack();
                    if (!settled && delivery.IsValid)
                    {
                        Interlocked.Increment(ref stale);
                    }
                }
            });
            settlers[t].Start();
        }

        for (ulong tag = 1; tag <= count; tag++)
        {
            handedOut.Add(fixture.Deliver(tag));
        }

        handedOut.CompleteAdding();
        foreach (Thread settler in settlers)
        {
            settler.Join();
        }

        string[] calls = fixture.Acknowledger.Calls.ToArray();
        Assert.Multiple(() =>
        {
            Assert.That(stale, Is.Zero, "a failed settle always left the delivery ended");
            Assert.That(calls.Select(c => c.Split(' ')[1]).Distinct().Count(), Is.EqualTo(calls.Length), "no tag settled twice");
            Assert.That(fixture.Pool.LiveCount, Is.Zero, "every delivery ended");
            Assert.That(fixture.Buffers.Returned, Has.Count.EqualTo(count));
            Assert.That(fixture.Buffers.Returned.Values, Is.All.EqualTo(1), "every buffer went back once");
            Assert.That(fixture.Pool.Created, Is.LessThan(400), "records are reused across threads");
        });
    }
}
