using System;
using CoolAmqp.Channels;
using CoolAmqp.Framing;
using CoolAmqp.Telemetry;

namespace CoolAmqp;

/// <summary>Handles one delivery of a consumer (<see cref="ConsumerOptions.OnDelivery"/>).</summary>
/// <param name="delivery">The delivery; valid until it is settled, or, for a no-ack consumer, until the callback
/// returns (see <see cref="Delivery"/>).</param>
public delegate void DeliveryCallback(Delivery delivery);

/// <summary>
/// A message delivered to a consumer with <see cref="ConsumerOptions.OnDelivery"/>: the allocation-free
/// counterpart of <see cref="ReceivedMessage"/>. A small handle on a record that the consumer's channel reuses for
/// later messages, so receiving allocates nothing.
/// </summary>
/// <remarks>
/// <para>Lifetime. A <see cref="Delivery"/> is valid until it ends: for an acknowledged consumer when it is settled
/// (<see cref="Ack"/>, <see cref="Nack"/>, <see cref="Reject"/>, from any thread and at any time, also after the
/// callback returned; or covered by a multiple-settle of a later delivery), for a no-ack consumer when the callback
/// returns (or when it is settled, earlier), and in both modes when its channel closes (the broker then requeues an
/// unsettled one). After that its record and body buffer belong to another message: every read throws
/// <see cref="ObjectDisposedException"/> and every settle returns <see langword="false"/>, so a stale handle can
/// never read or settle someone else's message. Spans and memories taken from it must not be used after it ends
/// either (they are not checked). Read what you need, then settle; to keep a message, copy it with
/// <see cref="ToReceivedMessage"/>.</para>
/// <para>Settling follows the rules of <see cref="ReceivedMessage"/>: once only (the first settle wins, also across
/// threads), never a frame the broker would refuse, <see langword="false"/> when nothing was settled.</para>
/// <para><see cref="Exchange"/>, <see cref="RoutingKey"/> and <see cref="Properties"/> decode on every read (and so
/// allocate); <see cref="ExchangeUtf8"/>, <see cref="RoutingKeyUtf8"/>, <see cref="RawProperties"/> and
/// <see cref="Body"/> do not. <c>default(Delivery)</c> is an ended delivery.</para>
/// </remarks>
public readonly struct Delivery : IEquatable<Delivery>
{
    private readonly DeliveryRecord? _record;
    private readonly long _token;

    internal Delivery(DeliveryRecord record, long token)
    {
        _record = record;
        _token = token;
    }

    /// <summary>Whether the delivery has not ended yet (see the lifetime rule). May change at any moment when
    /// another thread settles it.</summary>
    public bool IsValid => _record is not null && _record.IsCurrent(_token);

    /// <summary>The delivery tag: identifies the delivery on its channel.</summary>
    /// <exception cref="ObjectDisposedException">The delivery has ended.</exception>
    public ulong DeliveryTag => Record.GetTag(_token);

    /// <summary>Whether the broker delivered this message before without it being acknowledged.</summary>
    /// <exception cref="ObjectDisposedException">The delivery has ended.</exception>
    public bool Redelivered => Record.GetRedelivered(_token);

    /// <summary>Whether the consumer is no-ack (settling sends nothing).</summary>
    /// <exception cref="ObjectDisposedException">The delivery has ended.</exception>
    public bool NoAck => Record.GetNoAck(_token);

    /// <summary>The tag of the consumer that received the message (one string per consumer, not per message).</summary>
    /// <exception cref="ObjectDisposedException">The delivery has ended.</exception>
    public string ConsumerTag => Record.GetConsumerTag(_token);

    /// <summary>The body, in a pooled buffer: valid only until the delivery ends.</summary>
    /// <exception cref="ObjectDisposedException">The delivery has ended.</exception>
    public ReadOnlySpan<byte> Body => Record.GetBody(_token).Span;

    /// <summary>The body as memory (for APIs that take <see cref="ReadOnlyMemory{T}"/>): the same pooled bytes as
    /// <see cref="Body"/>, valid only until the delivery ends.</summary>
    /// <exception cref="ObjectDisposedException">The delivery has ended.</exception>
    public ReadOnlyMemory<byte> BodyMemory => Record.GetBody(_token);

    /// <summary>The UTF-8 bytes of the name of the exchange the message was published to (empty for the default
    /// exchange). Valid only until the delivery ends.</summary>
    /// <exception cref="ObjectDisposedException">The delivery has ended.</exception>
    public ReadOnlySpan<byte> ExchangeUtf8 => Record.GetExchange(_token).Span;

    /// <summary>The UTF-8 bytes of the routing key the message was published with. Valid only until the delivery ends.</summary>
    /// <exception cref="ObjectDisposedException">The delivery has ended.</exception>
    public ReadOnlySpan<byte> RoutingKeyUtf8 => Record.GetRoutingKey(_token).Span;

    /// <summary>The name of the exchange ("" for the default exchange), decoded on each read.</summary>
    /// <exception cref="ObjectDisposedException">The delivery has ended.</exception>
    public string Exchange => Decode(Record.GetExchange(_token));

    /// <summary>The routing key, decoded on each read.</summary>
    /// <exception cref="ObjectDisposedException">The delivery has ended.</exception>
    public string RoutingKey => Decode(Record.GetRoutingKey(_token));

    /// <summary>The content header's property section as received (the property-flags word(s), then the values of
    /// the properties present; empty when the message has none). Valid only until the delivery ends.</summary>
    /// <exception cref="ObjectDisposedException">The delivery has ended.</exception>
    public ReadOnlySpan<byte> RawProperties => Record.GetRawProperties(_token).Span;

    /// <summary>The message's properties, decoded on each read.</summary>
    /// <exception cref="ObjectDisposedException">The delivery has ended.</exception>
    /// <exception cref="AmqpFrameFormatException">The broker sent a malformed property section.</exception>
    public MessageProperties Properties
    {
        get
        {
            DeliveryRecord record = Record;
            ReadOnlyMemory<byte> raw = record.GetRawProperties(_token);
            if (raw.IsEmpty)
            {
                return MessageProperties.Empty;
            }

            MessageProperties properties;
            try
            {
                properties = MessageProperties.FromWire(raw.Span);
            }
            catch (AmqpFrameFormatException) when (!record.IsCurrent(_token))
            {
                // The buffer was reused while decoding: the delivery ended, the bytes were someone else's.
                throw DeliveryRecord.Stale();
            }

            record.Check(_token);
            return properties;
        }
    }

    /// <summary>The record behind the handle (null for <c>default</c>); for tests.</summary>
    internal DeliveryRecord? InternalRecord => _record;

    private DeliveryRecord Record => _record ?? throw DeliveryRecord.Stale();

    /// <summary>Acknowledges the message (<c>basic.ack</c>): the broker forgets it. The delivery ends.</summary>
    /// <param name="multiple">Also acknowledge every earlier unsettled delivery on the same channel (those end too).</param>
    /// <returns><see langword="true"/> if this call settled the delivery: its frame was queued for the broker on the
    /// channel that delivered it (or, for a no-ack consumer, nothing needed sending). <see langword="false"/> if it
    /// did nothing: the delivery had ended already (settled, covered by a multiple-settle, its channel closed, or
    /// its no-ack callback returned).</returns>
    public bool Ack(bool multiple = false) => CoolAmqpTelemetry.SettleObserved
        ? SettleObserved(SettleKind.Ack, multiple, requeue: false)
        : _record is not null && _record.Settle(_token, SettleKind.Ack, multiple, requeue: false);

    /// <summary>Rejects the message (<c>basic.nack</c>, a RabbitMQ extension). The delivery ends.</summary>
    /// <param name="requeue">Put the message back in the queue (default); otherwise the broker discards or
    /// dead-letters it.</param>
    /// <param name="multiple">Also nack every earlier unsettled delivery on the same channel (those end too).</param>
    /// <returns>As for <see cref="Ack"/>.</returns>
    public bool Nack(bool requeue = true, bool multiple = false) => CoolAmqpTelemetry.SettleObserved
        ? SettleObserved(SettleKind.Nack, multiple, requeue)
        : _record is not null && _record.Settle(_token, SettleKind.Nack, multiple, requeue);

    /// <summary>Rejects the message (<c>basic.reject</c>). The delivery ends.</summary>
    /// <param name="requeue">Put the message back in the queue (default); otherwise the broker discards or
    /// dead-letters it.</param>
    /// <returns>As for <see cref="Ack"/>.</returns>
    public bool Reject(bool requeue = true) => CoolAmqpTelemetry.SettleObserved
        ? SettleObserved(SettleKind.Reject, multiple: false, requeue)
        : _record is not null && _record.Settle(_token, SettleKind.Reject, multiple: false, requeue);

    /// <summary>A settlement with its span and count (someone listens to <see cref="CoolAmqpTelemetry"/>).</summary>
    private bool SettleObserved(SettleKind kind, bool multiple, bool requeue)
    {
        if (_record is null)
        {
            return false;
        }

        string exchange;
        string routingKey;
        ulong tag;
        try
        {
            exchange = Exchange;
            routingKey = RoutingKey;
            tag = DeliveryTag;
        }
        catch (ObjectDisposedException)
        {
            // Ended already: settling does nothing, and there is nothing to report.
            return _record.Settle(_token, kind, multiple, requeue);
        }

        string operation = kind switch
        {
            SettleKind.Ack => "ack",
            SettleKind.Nack => "nack",
            _ => "reject",
        };
        System.Diagnostics.Activity? activity = CoolAmqpTelemetry.StartSettle(operation, exchange, routingKey, tag);
        bool settled = false;
        Exception? failure = null;
        try
        {
            settled = _record.Settle(_token, kind, multiple, requeue);
            return settled;
        }
        catch (Exception ex)
        {
            failure = ex;
            throw;
        }
        finally
        {
            CoolAmqpTelemetry.StopSettle(activity, operation, exchange, settled, failure);
        }
    }

    /// <summary>
    /// Copies the delivery into a <see cref="ReceivedMessage"/> that owns its memory and stays valid after this
    /// delivery ends. Settling the copy settles this delivery (whichever of the two settles first wins; the other
    /// then returns <see langword="false"/>); once the delivery has ended, settling the copy does nothing.
    /// </summary>
    /// <returns>The copy (one array for all the bytes, plus the message object).</returns>
    /// <exception cref="ObjectDisposedException">The delivery has ended.</exception>
    public ReceivedMessage ToReceivedMessage()
    {
        DeliveryRecord record = Record;
        ReadOnlyMemory<byte> all = record.GetAll(_token, out int exchange, out int routingKey, out int properties);
        ulong tag = record.GetTag(_token);
        bool redelivered = record.GetRedelivered(_token);
        bool noAck = record.GetNoAck(_token);
        string consumerTag = record.GetConsumerTag(_token);
        byte[] copy = all.ToArray();

        // The copy is sound only if the buffer still held this delivery when it was taken.
        record.Check(_token);
        var bytes = new ReadOnlyMemory<byte>(copy);
        int bodyStart = exchange + routingKey + properties;
        return new ReceivedMessage(noAck ? null : new RecordAcknowledger(record, _token), tag, redelivered, consumerTag,
            bytes[..exchange], bytes.Slice(exchange, routingKey), bytes.Slice(exchange + routingKey, properties),
            bytes[bodyStart..], noAck, pooledBuffer: null);
    }

    /// <summary>Describes the delivery (not its body), e.g. <c>Delivery(tag=5, routing key='k', 12 bytes)</c>, or
    /// <c>Delivery(ended)</c>.</summary>
    /// <returns>A short description for logs.</returns>
    public override string ToString()
    {
        try
        {
            return $"Delivery(tag={DeliveryTag}, exchange='{Exchange}', routing key='{RoutingKey}', {BodyMemory.Length} bytes{(Redelivered ? ", redelivered" : string.Empty)})";
        }
        catch (ObjectDisposedException)
        {
            return "Delivery(ended)";
        }
    }

    /// <summary>Whether both handles are of the same delivery.</summary>
    /// <param name="other">The other handle.</param>
    /// <returns>Whether both refer to the same record and token.</returns>
    public bool Equals(Delivery other) => ReferenceEquals(_record, other._record) && _token == other._token;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is Delivery other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(_record, _token);

    /// <summary>Whether both handles are of the same delivery.</summary>
    /// <param name="left">One handle.</param>
    /// <param name="right">The other.</param>
    /// <returns>Whether they are equal.</returns>
    public static bool operator ==(Delivery left, Delivery right) => left.Equals(right);

    /// <summary>Whether the handles are of different deliveries.</summary>
    /// <param name="left">One handle.</param>
    /// <param name="right">The other.</param>
    /// <returns>Whether they differ.</returns>
    public static bool operator !=(Delivery left, Delivery right) => !left.Equals(right);

    private string Decode(ReadOnlyMemory<byte> utf8)
    {
        string value = Wire.DecodeString(utf8.Span);
        Record.Check(_token);
        return value;
    }

    /// <summary>Settles a copy made by <see cref="ToReceivedMessage"/> through the delivery it was copied from.</summary>
    private sealed class RecordAcknowledger(DeliveryRecord record, long token) : IDeliveryAcknowledger
    {
        public bool Ack(ulong deliveryTag, bool multiple) => record.Settle(token, SettleKind.Ack, multiple, requeue: false);

        public bool Nack(ulong deliveryTag, bool multiple, bool requeue) => record.Settle(token, SettleKind.Nack, multiple, requeue);

        public bool Reject(ulong deliveryTag, bool requeue) => record.Settle(token, SettleKind.Reject, multiple: false, requeue);
    }
}
