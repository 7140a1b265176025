using System;
using System.Buffers;
using System.Threading;

namespace CoolAmqp.Channels;

/// <summary>How a <see cref="Delivery"/> is settled.</summary>
internal enum SettleKind
{
    Ack,
    Nack,
    Reject,
}

/// <summary>
/// One delivery of a consumer that uses <see cref="ConsumerOptions.OnDelivery"/>: a reusable record of a
/// <see cref="DeliveryRecordPool"/>, filled by the read loop, handed out as a <see cref="Delivery"/> (the record
/// plus the stamp it had), and recycled when the delivery ends.
/// </summary>
/// <remarks>
/// The stamp is odd while the record is free and even while it holds a delivery; that even value is the
/// delivery's token. Ending a delivery (settling it, its no-ack callback returning, its channel closing) moves the
/// stamp from the token to token + 1 with one compare-exchange, so exactly one party ends it, and a
/// <see cref="Delivery"/> holding an older token can never act on the record's next message. Reads check the
/// stamp before and after (a sequence lock): the fields are written only while the record is free, and read with
/// acquire semantics, so a read that saw a newer message's field also sees the changed stamp.
/// </remarks>
internal sealed class DeliveryRecord
{
    private long _stamp = 1;
    private ulong _tag;
    private bool _redelivered;
    private bool _noAck;
    private string _consumerTag = string.Empty;
    private byte[] _buffer = [];
    private ArrayPool<byte>? _bufferPool;
    private bool _retained;
    private int _exchangeLength;
    private int _routingKeyLength;
    private int _propertiesLength;
    private int _bodyLength;

    private const int OwnedGranularity = 4096;
    private const int MaxOwnedLength = int.MaxValue - OwnedGranularity;

    internal DeliveryRecord(DeliveryRecordPool pool) => Pool = pool;

    /// <summary>Where the record came from and goes back to. Changes only while the record is free (a spare
    /// record of a closed channel adopted by another channel's pool).</summary>
    public DeliveryRecordPool Pool { get; private set; }

    /// <summary>The length of the buffer the record holds (for the spare records' budget).</summary>
    internal int BufferLength => _buffer.Length;

    /// <summary>The current stamp (odd: free; even: the token of the delivery it holds).</summary>
    public long Stamp => Volatile.Read(ref _stamp);

    /// <summary>The delivery tag, unchecked: for the owner of the record (the read loop before publishing it, or
    /// whoever holds the pool's lock while the record is linked).</summary>
    public ulong Tag => _tag;

    /// <summary>The body length, unchecked: for the read loop, which filled the record.</summary>
    public int BodyLength => _bodyLength;

    /// <summary>Whether the delivery needs no settling (unchecked, constant per pool).</summary>
    public bool NoAck => _noAck;

    // Live list of acknowledged deliveries in tag order (guarded by the pool's lock) and the free stack.
    internal DeliveryRecord? Previous { get; set; }

    internal DeliveryRecord? Next { get; set; }

    internal bool Linked { get; set; }

    internal DeliveryRecord? NextFree;

    /// <summary>A buffer of at least <paramref name="size"/> bytes for the delivery this free record is about to
    /// hold (read loop). The record keeps its buffer from one delivery to the next while the pool's budget allows
    /// (so a backlog larger than what <see cref="DeliveryBufferPool"/> keeps costs nothing once warm), and swaps it
    /// for a bigger one when needed.</summary>
    /// <param name="size">The bytes needed: exchange, routing key, property section and body, in that order.</param>
    /// <param name="bufferPool">Where to rent from; default <see cref="DeliveryBufferPool.For(int)"/>.</param>
    public byte[] PrepareBuffer(int size, ArrayPool<byte>? bufferPool = null)
    {
        if (_buffer.Length >= size)
        {
            return _buffer;
        }

        ReturnBuffer();
        if (bufferPool is null && size > DeliveryBufferPool.SmallMax && size <= MaxOwnedLength)
        {
            // A large buffer the record keeps is its own, sized to the delivery (rounded up to 4 KiB) rather than a
            // pool's power of two: a prefetch window of 64 KiB bodies then fits the budget (at 128 KiB each it did not,
            // and the deliveries past the budget rented and dropped a fresh array each).
            int length = (size + OwnedGranularity - 1) & ~(OwnedGranularity - 1);
            if (Pool.TryRetain(length))
            {
                _buffer = new byte[length];
                _bufferPool = null;
                _retained = true;
                return _buffer;
            }
        }

        bufferPool ??= DeliveryBufferPool.For(size);
        _buffer = bufferPool.Rent(size);
        _bufferPool = bufferPool;
        _retained = Pool.TryRetain(_buffer.Length);
        return _buffer;
    }

    /// <summary>Fills a free record (read loop) whose buffer (<see cref="PrepareBuffer"/>) holds the delivery.</summary>
    public void Fill(ulong tag, bool redelivered, bool noAck, string consumerTag,
        int exchangeLength, int routingKeyLength, int propertiesLength, int bodyLength)
    {
        _tag = tag;
        _redelivered = redelivered;
        _noAck = noAck;
        _consumerTag = consumerTag;
        _exchangeLength = exchangeLength;
        _routingKeyLength = routingKeyLength;
        _propertiesLength = propertiesLength;
        _bodyLength = bodyLength;
    }

    /// <summary>Makes a filled record live (release: its fields are visible to whoever sees the token).</summary>
    /// <returns>The token of the delivery.</returns>
    public long Publish()
    {
        long token = _stamp + 1;
        Volatile.Write(ref _stamp, token);
        return token;
    }

    /// <summary>Whether <paramref name="token"/> is still the record's delivery.</summary>
    public bool IsCurrent(long token) => Volatile.Read(ref _stamp) == token;

    /// <summary>Ends the delivery <paramref name="token"/>: exactly one caller gets true, and then owns the record
    /// until it releases it.</summary>
    public bool TryClaim(long token) => (token & 1) == 0 && Interlocked.CompareExchange(ref _stamp, token + 1, token) == token;

    /// <summary>Ends whatever delivery the record holds (the pool's walks under its lock).</summary>
    public bool TryClaimCurrent()
    {
        long stamp = Volatile.Read(ref _stamp);
        return TryClaim(stamp);
    }

    /// <summary>Settles the delivery <paramref name="token"/> if it is still current.</summary>
    /// <returns>Whether a frame was queued for the broker (or, no-ack, nothing needed sending); false for a stale
    /// token, a delivery already settled, or a closed channel.</returns>
    public bool Settle(long token, SettleKind kind, bool multiple, bool requeue) =>
        TryClaim(token) && Pool.Settle(this, kind, multiple, requeue);

    /// <summary>Ends the delivery <paramref name="token"/> without settling it (a no-ack callback returned, or
    /// nobody will see it): returns the record and its buffer. Does nothing for a stale token.</summary>
    public void End(long token)
    {
        if (TryClaim(token))
        {
            Pool.Ended(this);
        }
    }

    /// <summary>Returns the record, and its buffer unless the record keeps it, to their pools (the claimant, once the
    /// record is unlinked).</summary>
    public void Release()
    {
        if (!_retained)
        {
            ReturnBuffer();
        }

        _consumerTag = string.Empty;
        Pool.Return(this);
    }

    /// <summary>A free spare record joins <paramref name="pool"/> (its read loop), keeping its buffer if the
    /// pool's budget allows.</summary>
    internal void Adopt(DeliveryRecordPool pool)
    {
        Pool = pool;
        if (_retained && !pool.TryRetain(_buffer.Length))
        {
            DropBuffer();
        }
    }

    /// <summary>A free record becomes a spare: it leaves its closed pool (which it must not keep alive).</summary>
    internal void Detach(DeliveryRecordPool detached) => Pool = detached;

    /// <summary>Gives the buffer back to the pool it came from, outside any pool's accounting (a free record of a
    /// closed channel that is not kept as a spare).</summary>
    internal void DropBuffer()
    {
        byte[] buffer = _buffer;
        ArrayPool<byte>? bufferPool = _bufferPool;
        _buffer = [];
        _bufferPool = null;
        _retained = false;
        bufferPool?.Return(buffer);
    }

    private void ReturnBuffer()
    {
        byte[] buffer = _buffer;
        ArrayPool<byte>? bufferPool = _bufferPool;
        if (_retained)
        {
            Pool.Unretain(buffer.Length);
        }

        _buffer = [];
        _bufferPool = null;
        _retained = false;
        bufferPool?.Return(buffer);
    }

    // ---- reads checked against a token ----

    public ulong GetTag(long token)
    {
        Check(token);
        ulong value = Volatile.Read(ref _tag);
        Check(token);
        return value;
    }

    public bool GetRedelivered(long token)
    {
        Check(token);
        bool value = Volatile.Read(ref _redelivered);
        Check(token);
        return value;
    }

    public bool GetNoAck(long token)
    {
        Check(token);
        bool value = Volatile.Read(ref _noAck);
        Check(token);
        return value;
    }

    public string GetConsumerTag(long token)
    {
        Check(token);
        string value = Volatile.Read(ref _consumerTag);
        Check(token);
        return value;
    }

    public ReadOnlyMemory<byte> GetExchange(long token)
    {
        Check(token);
        byte[] buffer = Volatile.Read(ref _buffer);
        int length = Volatile.Read(ref _exchangeLength);
        Check(token);
        return new ReadOnlyMemory<byte>(buffer, 0, length);
    }

    public ReadOnlyMemory<byte> GetRoutingKey(long token)
    {
        Check(token);
        byte[] buffer = Volatile.Read(ref _buffer);
        int start = Volatile.Read(ref _exchangeLength);
        int length = Volatile.Read(ref _routingKeyLength);
        Check(token);
        return new ReadOnlyMemory<byte>(buffer, start, length);
    }

    public ReadOnlyMemory<byte> GetRawProperties(long token)
    {
        Check(token);
        byte[] buffer = Volatile.Read(ref _buffer);
        int start = Volatile.Read(ref _exchangeLength) + Volatile.Read(ref _routingKeyLength);
        int length = Volatile.Read(ref _propertiesLength);
        Check(token);
        return new ReadOnlyMemory<byte>(buffer, start, length);
    }

    public ReadOnlyMemory<byte> GetBody(long token)
    {
        Check(token);
        byte[] buffer = Volatile.Read(ref _buffer);
        int start = Volatile.Read(ref _exchangeLength) + Volatile.Read(ref _routingKeyLength) + Volatile.Read(ref _propertiesLength);
        int length = Volatile.Read(ref _bodyLength);
        Check(token);
        return new ReadOnlyMemory<byte>(buffer, start, length);
    }

    /// <summary>All of the delivery's bytes: exchange, routing key, properties, body (for copying).</summary>
    public ReadOnlyMemory<byte> GetAll(long token, out int exchangeLength, out int routingKeyLength, out int propertiesLength)
    {
        Check(token);
        byte[] buffer = Volatile.Read(ref _buffer);
        exchangeLength = Volatile.Read(ref _exchangeLength);
        routingKeyLength = Volatile.Read(ref _routingKeyLength);
        propertiesLength = Volatile.Read(ref _propertiesLength);
        int length = exchangeLength + routingKeyLength + propertiesLength + Volatile.Read(ref _bodyLength);
        Check(token);
        return new ReadOnlyMemory<byte>(buffer, 0, length);
    }

    /// <summary>Throws <see cref="ObjectDisposedException"/> unless <paramref name="token"/> is current.</summary>
    public void Check(long token)
    {
        if (Volatile.Read(ref _stamp) != token)
        {
            throw Stale();
        }
    }

    public static ObjectDisposedException Stale() => new(nameof(Delivery),
        "This Delivery has ended: it was settled, its no-ack callback returned, or its channel closed, and its pooled " +
        "record and body buffer may already hold another message. Read what you need before settling, or keep a copy " +
        "(Delivery.ToReceivedMessage).");
}

/// <summary>
/// The reusable delivery records of one channel incarnation (consumers with <see cref="ConsumerOptions.OnDelivery"/>).
/// Ended records go back on a lock-free stack (pushed from any thread, popped only by the read loop, so no ABA);
/// each keeps its buffer within a budget. Acknowledged deliveries are also kept, in tag order, on a live list
/// guarded by the channel's settle lock, so a multiple-settle and the channel closing can end every delivery
/// they cover. Nothing is allocated once the pool holds as many records as deliveries are outstanding at once
/// (the prefetch window, or for a no-ack consumer what waits for the callback). When the channel closes, its free
/// records become spares that the next channel's pool adopts.
/// </summary>
internal sealed class DeliveryRecordPool
{
    /// <summary>How many bytes of buffers the records of one channel keep between deliveries, by default.</summary>
    public const long DefaultRetainBudget = 64L * 1024 * 1024;

    // Free records of closed channels (with their buffers), for the next channel's pool: a consumer that comes
    // and goes (or reconnects) does not build its records and buffers again. Used only when a channel closes and
    // while a pool grows, so a lock is cheap enough. Last in, first out (the latest channel's records suit the
    // next one best), bounded in records and bytes: beyond, the oldest give their buffers back and go.
    private const int MaxSpares = 4096;
    private const long MaxSpareBytes = 64L * 1024 * 1024;
    private static readonly object SpareSync = new();
    private static readonly DeliveryRecord?[] Spares = new DeliveryRecord?[MaxSpares];
    private static int _spareBottom;
    private static int _spareCount;
    private static long _spareBytes;

    // What spare records point to while they wait, so they do not keep a closed channel (and its connection) alive.
    private static readonly DeliveryRecordPool Detached = new(new NoAcknowledger(), new object(), 0, useSpares: false) { _closed = true };

    private readonly IDeliveryAcknowledger _acknowledger;
    private readonly object _sync;
    private readonly long _retainBudget;
    private readonly bool _useSpares;
    private long _retained;
    private volatile bool _closed;
    private DeliveryRecord? _returned;
    private DeliveryRecord? _head;
    private DeliveryRecord? _tail;
    private int _created;
    private int _adopted;
    private int _live;

    /// <summary>Creates a pool.</summary>
    /// <param name="acknowledger">Settles on the channel; its calls are made while holding <paramref name="sync"/>.</param>
    /// <param name="sync">The channel's settle lock (re-entrant), which also guards the live list.</param>
    /// <param name="retainBudget">How many bytes of buffers its records may keep between deliveries; beyond it,
    /// a record returns its buffer to the pool it came from when its delivery ends.</param>
    /// <param name="useSpares">Whether to take records from, and leave them to, the process-wide spares of closed
    /// channels.</param>
    public DeliveryRecordPool(IDeliveryAcknowledger acknowledger, object sync, long retainBudget = DefaultRetainBudget,
        bool useSpares = true)
    {
        _acknowledger = acknowledger;
        _sync = sync;
        _retainBudget = retainBudget;
        _useSpares = useSpares;
    }

    /// <summary>Whether the channel closed (<see cref="EndAll"/>).</summary>
    public bool IsClosed => _closed;

    /// <summary>Bytes of buffers kept by records (read loop only; for tests).</summary>
    public long RetainedBytes => _retained;

    /// <summary>Whether a record may keep a buffer of <paramref name="length"/> bytes (read loop only).</summary>
    internal bool TryRetain(int length)
    {
        if (_retained + length > _retainBudget)
        {
            return false;
        }

        _retained += length;
        return true;
    }

    /// <summary>A record gave back a buffer it kept (read loop only).</summary>
    internal void Unretain(int length) => _retained -= length;

    /// <summary>What settles deliveries: the channel (for tests).</summary>
    public IDeliveryAcknowledger Acknowledger => _acknowledger;

    /// <summary>How many records the pool has created (for tests).</summary>
    public int Created => Volatile.Read(ref _created);

    /// <summary>How many spare records of closed channels the pool has adopted (for tests).</summary>
    public int Adopted => Volatile.Read(ref _adopted);

    /// <summary>How many acknowledged deliveries are on the live list (for tests).</summary>
    public int LiveCount
    {
        get
        {
            lock (_sync)
            {
                return _live;
            }
        }
    }

    /// <summary>A free record (read loop only).</summary>
    public DeliveryRecord Rent()
    {
        // A lock-free pop. The read loop is the only popper (the channel closing only takes the whole stack), so a
        // record cannot leave and come back between reading the head and swapping it: no ABA.
        while (Volatile.Read(ref _returned) is { } head)
        {
            if (Interlocked.CompareExchange(ref _returned, head.NextFree, head) == head)
            {
                head.NextFree = null;
                return head;
            }
        }

        if (_useSpares && Volatile.Read(ref _spareCount) > 0 && PopSpare() is { } spare)
        {
            spare.Adopt(this);
            _adopted++;
            return spare;
        }

        _created++;
        return new DeliveryRecord(this);
    }

    /// <summary>Publishes a filled record: an acknowledged one is linked at the tail of the live list. The caller
    /// holds the settle lock for an acknowledged delivery (with its tag tracked in the same section).</summary>
    /// <returns>The delivery's token.</returns>
    public long PublishLocked(DeliveryRecord record)
    {
        if (!record.NoAck)
        {
            record.Previous = _tail;
            record.Next = null;
            if (_tail is null)
            {
                _head = record;
            }
            else
            {
                _tail.Next = record;
            }

            _tail = record;
            record.Linked = true;
            _live++;
        }

        return record.Publish();
    }

    /// <summary>Settles a record its caller has just claimed, and recycles it (and, for a multiple-settle, every
    /// earlier live record, which the broker now counts as settled too).</summary>
    public bool Settle(DeliveryRecord record, SettleKind kind, bool multiple, bool requeue)
    {
        if (record.NoAck)
        {
            record.Release();
            return true;
        }

        bool sent;
        lock (_sync)
        {
            UnlinkLocked(record);
            ulong tag = record.Tag;
            sent = kind switch
            {
                SettleKind.Ack => _acknowledger.Ack(tag, multiple),
                SettleKind.Nack => _acknowledger.Nack(tag, multiple, requeue),
                _ => _acknowledger.Reject(tag, requeue),
            };
            if (multiple)
            {
                EndLocked(tag);
            }
        }

        record.Release();
        return sent;
    }

    /// <summary>A record its caller has claimed without settling: unlink and recycle it.</summary>
    public void Ended(DeliveryRecord record)
    {
        if (!record.NoAck)
        {
            lock (_sync)
            {
                UnlinkLocked(record);
            }
        }

        record.Release();
    }

    /// <summary>The channel closed: every live delivery ends (the broker requeues them), and the free records
    /// become spares for other channels (those still with the application follow when they end).</summary>
    public void EndAll()
    {
        _closed = true;
        lock (_sync)
        {
            EndLocked(ulong.MaxValue);
        }

        DrainToSpares();
    }

    /// <summary>Returns a released record (any thread).</summary>
    public void Return(DeliveryRecord record)
    {
        if (_closed)
        {
            ToSpares(record);
            return;
        }

        DeliveryRecord? head;
        do
        {
            head = Volatile.Read(ref _returned);
            record.NextFree = head;
        }
        while (Interlocked.CompareExchange(ref _returned, record, head) != head);

        if (_closed)
        {
            // Closed meanwhile: its drain may have missed this record.
            DrainToSpares();
        }
    }

    private void DrainToSpares()
    {
        DeliveryRecord? record = Interlocked.Exchange(ref _returned, null);
        while (record is not null)
        {
            DeliveryRecord? next = record.NextFree;
            record.NextFree = null;
            ToSpares(record);
            record = next;
        }
    }

    private void ToSpares(DeliveryRecord record)
    {
        if (!_useSpares || record.BufferLength > MaxSpareBytes)
        {
            record.DropBuffer();
            return;
        }

        lock (SpareSync)
        {
            while (_spareCount == MaxSpares || _spareBytes + record.BufferLength > MaxSpareBytes)
            {
                DeliveryRecord oldest = Spares[_spareBottom]!;
                Spares[_spareBottom] = null;
                _spareBottom = (_spareBottom + 1) % MaxSpares;
                _spareCount--;
                _spareBytes -= oldest.BufferLength;
                oldest.DropBuffer();
            }

            record.Detach(Detached);
            Spares[(_spareBottom + _spareCount) % MaxSpares] = record;
            _spareCount++;
            _spareBytes += record.BufferLength;
        }
    }

    private static DeliveryRecord? PopSpare()
    {
        lock (SpareSync)
        {
            if (_spareCount == 0)
            {
                return null;
            }

            _spareCount--;
            int top = (_spareBottom + _spareCount) % MaxSpares;
            DeliveryRecord record = Spares[top]!;
            Spares[top] = null;
            _spareBytes -= record.BufferLength;
            return record;
        }
    }

    /// <summary>Ends every live record with a tag up to <paramref name="tag"/>. A record whose claim is lost is
    /// being ended by its claimant, which unlinks it once it gets the lock.</summary>
    private void EndLocked(ulong tag)
    {
        DeliveryRecord? node = _head;
        while (node is not null && node.Tag <= tag)
        {
            DeliveryRecord? next = node.Next;
            if (node.TryClaimCurrent())
            {
                UnlinkLocked(node);
                node.Release();
            }

            node = next;
        }
    }

    private void UnlinkLocked(DeliveryRecord record)
    {
        if (!record.Linked)
        {
            return;
        }

        if (record.Previous is null)
        {
            _head = record.Next;
        }
        else
        {
            record.Previous.Next = record.Next;
        }

        if (record.Next is null)
        {
            _tail = record.Previous;
        }
        else
        {
            record.Next.Previous = record.Previous;
        }

        record.Previous = null;
        record.Next = null;
        record.Linked = false;
        _live--;
    }

    private sealed class NoAcknowledger : IDeliveryAcknowledger
    {
        public bool Ack(ulong deliveryTag, bool multiple) => false;

        public bool Nack(ulong deliveryTag, bool multiple, bool requeue) => false;

        public bool Reject(ulong deliveryTag, bool requeue) => false;
    }
}
