using System;
using System.Buffers;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using CoolAmqp;
using NUnit.Framework;

namespace CoolAmqp.Tests.Api;

[TestFixture]
public sealed class ReceivedMessageTests
{
    private sealed class CountingAcknowledger : IDeliveryAcknowledger
    {
        public int Acks;
        public int Nacks;
        public int Rejects;
        public readonly ConcurrentQueue<string> Calls = new();

        public int Total => Volatile.Read(ref Acks) + Volatile.Read(ref Nacks) + Volatile.Read(ref Rejects);

        public bool Ack(ulong deliveryTag, bool multiple)
        {
            Interlocked.Increment(ref Acks);
            Calls.Enqueue($"ack {deliveryTag} {multiple}");
            return true;
        }

        public bool Nack(ulong deliveryTag, bool multiple, bool requeue)
        {
            Interlocked.Increment(ref Nacks);
            Calls.Enqueue($"nack {deliveryTag} {multiple} {requeue}");
            return true;
        }

        public bool Reject(ulong deliveryTag, bool requeue)
        {
            Interlocked.Increment(ref Rejects);
            Calls.Enqueue($"reject {deliveryTag} {requeue}");
            return true;
        }
    }

    /// <summary>Records every Return so a test can check a buffer went back exactly once.</summary>
    private sealed class RecordingPool : ArrayPool<byte>
    {
        public readonly ConcurrentBag<byte[]> Returned = new();

        public override byte[] Rent(int minimumLength) => new byte[minimumLength];

        public override void Return(byte[] array, bool clearArray = false) => Returned.Add(array);
    }

    private static ReceivedMessage Copied(IDeliveryAcknowledger? acker, ulong tag = 7, bool noAck = false) =>
        new(acker, tag, redelivered: true, "ctag-1",
            Encoding.UTF8.GetBytes("amq.topic"), Encoding.UTF8.GetBytes("a.b.c"),
            ReadOnlyMemory<byte>.Empty, new byte[] { 1, 2, 3 }, noAck, pooledBuffer: null);

    private static (ReceivedMessage Message, byte[] Buffer) Pooled(IDeliveryAcknowledger? acker, RecordingPool pool, bool noAck = false)
    {
        // Layout chosen by the caller: [exchange][routing key][body].
        byte[] buffer = pool.Rent(64);
        int ex = Encoding.UTF8.GetBytes("ex", buffer);
        int rk = Encoding.UTF8.GetBytes("rk", buffer.AsSpan(ex));
        buffer.AsSpan(ex + rk, 4).Fill(9);
        var message = new ReceivedMessage(acker, 3, false, "ctag", buffer.AsMemory(0, ex), buffer.AsMemory(ex, rk),
            ReadOnlyMemory<byte>.Empty, buffer.AsMemory(ex + rk, 4), noAck, buffer, pool);
        return (message, buffer);
    }

    [Test]
    public void Exposes_delivery_fields()
    {
        ReceivedMessage m = Copied(new CountingAcknowledger());
        Assert.Multiple(() =>
        {
            Assert.That(m.Exchange, Is.EqualTo("amq.topic"));
            Assert.That(m.RoutingKey, Is.EqualTo("a.b.c"));
            string first = m.Exchange;
            Assert.That(m.Exchange, Is.SameAs(first), "decoded once, then cached");
            Assert.That(m.Body.ToArray(), Is.EqualTo(new byte[] { 1, 2, 3 }));
            Assert.That(m.DeliveryTag, Is.EqualTo(7UL));
            Assert.That(m.Redelivered, Is.True);
            Assert.That(m.ConsumerTag, Is.EqualTo("ctag-1"));
            Assert.That(m.Properties, Is.SameAs(MessageProperties.Empty));
            Assert.That(m.IsSettled, Is.False);
            Assert.That(m.ToString(), Does.Contain("a.b.c"));
        });
    }

    [Test]
    public void Empty_exchange_reads_as_empty_string()
    {
        var m = new ReceivedMessage(null, 1, false, "c", default, default, default, default, noAck: true, pooledBuffer: null);
        Assert.That(m.Exchange, Is.SameAs(string.Empty));
        Assert.That(m.RoutingKey, Is.Empty);
    }

    [Test]
    public void Acknowledger_is_required_unless_no_ack()
    {
        Assert.Throws<ArgumentNullException>(() => Copied(null, noAck: false));
        Assert.DoesNotThrow(() => Copied(null, noAck: true).Ack());
    }

    [Test]
    public void Ack_sends_once_and_later_settles_are_no_ops()
    {
        var acker = new CountingAcknowledger();
        ReceivedMessage m = Copied(acker, tag: 42);
        m.Ack(multiple: true);
        m.Ack();
        m.Nack();
        m.Reject();
        Assert.That(acker.Calls, Is.EqualTo(new[] { "ack 42 True" }));
        Assert.That(m.IsSettled, Is.True);
    }

    [Test]
    public void Nack_and_reject_pass_their_flags()
    {
        var acker = new CountingAcknowledger();
        Copied(acker, tag: 1).Nack(requeue: false, multiple: true);
        Copied(acker, tag: 2).Nack();
        Copied(acker, tag: 3).Reject(requeue: false);
        Copied(acker, tag: 4).Reject();
        Assert.That(acker.Calls, Is.EqualTo(new[] { "nack 1 True False", "nack 2 False True", "reject 3 False", "reject 4 True" }));
    }

    [Test]
    public void No_ack_consumer_sends_nothing()
    {
        var acker = new CountingAcknowledger();
        ReceivedMessage m = Copied(acker, noAck: true);
        m.Ack();
        Copied(acker, noAck: true).Nack();
        Copied(acker, noAck: true).Reject();
        Assert.That(acker.Total, Is.Zero);
        Assert.That(m.NoAck, Is.True);
    }

    [Test]
    public void Concurrent_settles_send_exactly_one_frame_per_message()
    {
        const int messages = 200;
        const int threads = 4;
        var acker = new CountingAcknowledger();
        var pool = new RecordingPool();
        var list = new List<ReceivedMessage>(messages);
        for (int i = 0; i < messages; i++)
        {
            list.Add(Pooled(acker, pool).Message);
        }

        using var start = new Barrier(threads);
        var tasks = new Task[threads];
        for (int t = 0; t < threads; t++)
        {
            int which = t;
            tasks[t] = Task.Factory.StartNew(() =>
            {
                start.SignalAndWait();
                foreach (ReceivedMessage m in list)
                {
                    switch (which)
                    {
                        case 0: m.Ack(); break;
                        case 1: m.Nack(); break;
                        case 2: m.Reject(); break;
                        default: m.Dispose(); break;
                    }
                }
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }

        Assert.That(Task.WaitAll(tasks, TimeSpan.FromSeconds(20)), Is.True);
        Assert.That(acker.Total, Is.EqualTo(messages));
        Assert.That(pool.Returned, Has.Count.EqualTo(messages), "each buffer returned exactly once");
        Assert.That(new HashSet<byte[]>(pool.Returned), Has.Count.EqualTo(messages));
    }

    [Test]
    public void Pooled_buffer_returned_once_on_ack_and_body_then_throws()
    {
        var pool = new RecordingPool();
        var acker = new CountingAcknowledger();
        (ReceivedMessage m, byte[] buffer) = Pooled(acker, pool);
        Assert.That(m.Body.ToArray(), Is.EqualTo(new byte[] { 9, 9, 9, 9 }));
        string exchange = m.Exchange;
        m.Ack();
        m.Dispose();
        m.Nack();
        Assert.That(pool.Returned, Is.EqualTo(new[] { buffer }));
        Assert.Throws<ObjectDisposedException>(() => _ = m.Body);
        Assert.Throws<ObjectDisposedException>(() => _ = m.RoutingKey, "not read before release");
        Assert.That(m.Exchange, Is.EqualTo(exchange), "cached before release");
        Assert.That(acker.Acks, Is.EqualTo(1));
    }

    [Test]
    public void Decoded_fields_constructor()
    {
        var pool = ArrayPool<byte>.Shared;
        byte[] body = pool.Rent(10);
        body.AsSpan(0, 3).Fill(4);
        var props = new MessageProperties { AppId = "x" };
        var acker = new CountingAcknowledger();
        var m = new ReceivedMessage(acker, "ctag", 11, true, "ex", "rk", props, body, 3, pooled: true, noAck: false);
        Assert.Multiple(() =>
        {
            Assert.That(m.Body.ToArray(), Is.EqualTo(new byte[] { 4, 4, 4 }));
            Assert.That(m.Exchange, Is.EqualTo("ex"));
            Assert.That(m.RoutingKey, Is.EqualTo("rk"));
            Assert.That(m.Properties, Is.SameAs(props));
            Assert.That(m.ConsumerTag, Is.EqualTo("ctag"));
            Assert.That(m.DeliveryTag, Is.EqualTo(11UL));
            Assert.That(m.Redelivered, Is.True);
        });
        m.Reject(requeue: false);
        Assert.That(acker.Calls, Is.EqualTo(new[] { "reject 11 False" }));
        Assert.Throws<ObjectDisposedException>(() => _ = m.Body);
        Assert.That(m.RoutingKey, Is.EqualTo("rk"), "decoded strings stay readable after release");

        var copied = new ReceivedMessage(null, "", 1, false, "", "q", MessageProperties.Empty, new byte[] { 1 }, 1, pooled: false, noAck: true);
        copied.Ack();
        Assert.That(copied.Body.Length, Is.EqualTo(1));
    }

    [Test]
    public void Dispose_returns_buffer_without_settling_and_ack_still_works()
    {
        var pool = new RecordingPool();
        var acker = new CountingAcknowledger();
        (ReceivedMessage m, byte[] buffer) = Pooled(acker, pool);
        m.Dispose();
        m.Dispose();
        Assert.That(pool.Returned, Is.EqualTo(new[] { buffer }));
        Assert.That(acker.Total, Is.Zero);
        Assert.That(m.IsSettled, Is.False);
        m.Ack();
        Assert.That(acker.Acks, Is.EqualTo(1));
        Assert.That(pool.Returned, Has.Count.EqualTo(1));
    }

    [Test]
    public void No_ack_pooled_message_returns_buffer_on_ack()
    {
        var pool = new RecordingPool();
        (ReceivedMessage m, _) = Pooled(null, pool, noAck: true);
        m.Ack();
        Assert.That(pool.Returned, Has.Count.EqualTo(1));
    }

    [Test]
    public void Copied_mode_body_stays_valid_after_settle()
    {
        ReceivedMessage m = Copied(new CountingAcknowledger());
        m.Ack();
        m.Dispose();
        Assert.That(m.Body.ToArray(), Is.EqualTo(new byte[] { 1, 2, 3 }));
        Assert.That(m.RoutingKey, Is.EqualTo("a.b.c"));
    }

    [Test]
    public void Buffer_returned_even_if_the_acknowledger_throws()
    {
        var pool = new RecordingPool();
        (ReceivedMessage m, _) = Pooled(new ThrowingAcknowledger(), pool);
        Assert.Throws<InvalidOperationException>(() => m.Ack());
        Assert.That(pool.Returned, Has.Count.EqualTo(1));
        Assert.That(m.IsSettled, Is.True);
    }

    private sealed class ThrowingAcknowledger : IDeliveryAcknowledger
    {
        public bool Ack(ulong deliveryTag, bool multiple) => throw new InvalidOperationException("boom");

        public bool Nack(ulong deliveryTag, bool multiple, bool requeue) => throw new InvalidOperationException("boom");

        public bool Reject(ulong deliveryTag, bool requeue) => throw new InvalidOperationException("boom");
    }
}
