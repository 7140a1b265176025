using System;
using System.Buffers;
using System.Threading;
using CoolAmqp.Channels;
using CoolAmqp.Framing;
using CoolAmqp.Telemetry;

namespace CoolAmqp;

/// <summary>
/// Settles deliveries on the channel a message came from. Implemented by the consumer's channel (one object per
/// channel incarnation); calls are synchronous and cheap (they enqueue a <c>basic.ack</c> / <c>basic.nack</c> /
/// <c>basic.reject</c> frame), may come from any thread, and must not throw when the channel is gone (the broker
/// has then already requeued the delivery, so settling it is moot: drop the call). A tag the broker already
/// counts as settled (settled before, or covered by an earlier multiple-settle) sends nothing, and a
/// multiple-settle covers only tags not settled yet.
/// </summary>
internal interface IDeliveryAcknowledger
{
    /// <summary>Sends <c>basic.ack</c> for <paramref name="deliveryTag"/> (and all earlier ones if <paramref name="multiple"/>).</summary>
    /// <returns>Whether a frame was sent: false when nothing it covers awaited settling or the channel is closed.</returns>
    bool Ack(ulong deliveryTag, bool multiple);

    /// <summary>Sends <c>basic.nack</c> for <paramref name="deliveryTag"/> (and all earlier ones if <paramref name="multiple"/>).</summary>
    /// <returns>Whether a frame was sent: false when nothing it covers awaited settling or the channel is closed.</returns>
    bool Nack(ulong deliveryTag, bool multiple, bool requeue);

    /// <summary>Sends <c>basic.reject</c> for <paramref name="deliveryTag"/>.</summary>
    /// <returns>Whether a frame was sent: false when the tag did not await settling or the channel is closed.</returns>
    bool Reject(ulong deliveryTag, bool requeue);
}

/// <summary>
/// A message delivered by the broker to a consumer: body, properties, where it was published, and the means to
/// settle it (<see cref="Ack"/>, <see cref="Nack"/>, <see cref="Reject"/>).
/// </summary>
/// <remarks>
/// <para>Settling is once only and thread-safe: the first of <see cref="Ack"/>, <see cref="Nack"/> or
/// <see cref="Reject"/> wins, the others (and repeats) do nothing and return <see langword="false"/>. Settling
/// never sends a frame the broker would refuse (a second settle of a delivery tag makes RabbitMQ close the
/// channel with 406 PRECONDITION_FAILED): a message already covered by a multiple-settle of a later message on the
/// same channel, or one whose channel has closed since it was delivered (channel error, connection lost; the
/// broker has then requeued it, and the consumer may receive it again on its new channel with a new tag), is
/// settled by doing nothing, and the call returns <see langword="false"/>. A multiple-settle covers only the
/// earlier messages not settled yet. For a no-ack consumer the broker has already considered the message
/// delivered, so settling sends nothing.</para>
/// <para>Body modes. By default the message owns its memory and stays valid forever. A consumer may ask for
/// pooled bodies instead: then <see cref="Body"/> (and, depending on the consumer, the raw properties, exchange
/// and routing key) live in a buffer rented from <see cref="ArrayPool{T}.Shared"/>, which goes back
/// to the pool when the message is settled or disposed (whichever is first). After that, reading
/// <see cref="Body"/>, <see cref="Properties"/>, <see cref="Exchange"/> or <see cref="RoutingKey"/> throws
/// <see cref="ObjectDisposedException"/> unless it was read before (strings and properties are cached), and any
/// <see cref="ReadOnlyMemory{T}"/> or span taken earlier must no longer be used: its bytes belong to someone else.
/// Read what you need, then settle. <see cref="Dispose"/> only returns the buffer: it does not ack, so a message
/// disposed unsettled stays unacknowledged until its channel closes.</para>
/// </remarks>
public sealed class ReceivedMessage : IDisposable
{
    private readonly IDeliveryAcknowledger? _acknowledger;
    private readonly ReadOnlyMemory<byte> _exchange;
    private readonly ReadOnlyMemory<byte> _routingKey;
    private readonly ReadOnlyMemory<byte> _rawProperties;
    private readonly ReadOnlyMemory<byte> _body;
    private readonly bool _pooled;
    private readonly ArrayPool<byte> _pool;
    private byte[]? _pooledBuffer;
    private int _settled;
    private string? _exchangeName;
    private string? _routingKeyName;
    private MessageProperties? _properties;

    /// <summary>The message of a delivery (or basic.get-ok) the channel assembled; it takes over the delivery's
    /// pooled buffer, if any.</summary>
    internal ReceivedMessage(in InboundDelivery delivery)
        : this(delivery.Channel, delivery.DeliveryTag, delivery.Redelivered, delivery.ConsumerTag, delivery.Exchange,
            delivery.RoutingKey, delivery.RawProperties, delivery.Body, delivery.NoAck, delivery.PooledBuffer, delivery.Pool)
    {
    }

    /// <summary>
    /// Creates a received message. Called by the consumer once a delivery (method, content header and all body
    /// frames) is complete; nothing here copies or parses, so all work is deferred to the first read.
    /// </summary>
    /// <param name="acknowledger">Settles the delivery on its channel. May be <see langword="null"/> only when
    /// <paramref name="noAck"/> is set.</param>
    /// <param name="deliveryTag">The <c>delivery-tag</c> of <c>basic.deliver</c> (channel-scoped).</param>
    /// <param name="redelivered">The <c>redelivered</c> flag of <c>basic.deliver</c>.</param>
    /// <param name="consumerTag">The consumer's tag (the consumer's own string instance, so nothing is decoded per message).</param>
    /// <param name="exchange">UTF-8 bytes of the <c>exchange</c> field of <c>basic.deliver</c> (without the length octet).</param>
    /// <param name="routingKey">UTF-8 bytes of the <c>routing-key</c> field (without the length octet).</param>
    /// <param name="rawProperties">The content header's property section: the property-flags word(s) followed by the
    /// property values, i.e. the content-header payload after class-id, weight and body-size (12 bytes in).
    /// Empty means no properties. Decoded on the first read of <see cref="Properties"/>.</param>
    /// <param name="body">The assembled body (all body frames, concatenated).</param>
    /// <param name="noAck">Whether the consumer is no-ack: settling then sends nothing.</param>
    /// <param name="pooledBuffer">In pooled mode, the buffer rented from <see cref="ArrayPool{T}.Shared"/> that
    /// <paramref name="exchange"/>, <paramref name="routingKey"/>, <paramref name="rawProperties"/> and
    /// <paramref name="body"/> may point into; this message then owns it and returns it to the pool exactly once,
    /// on the first settle or dispose. <see langword="null"/> in copied mode: the memories must then be owned by
    /// nobody else (fresh arrays), as the message keeps them for its lifetime.</param>
    /// <param name="pool">The pool <paramref name="pooledBuffer"/> came from; default <see cref="ArrayPool{T}.Shared"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="acknowledger"/> is null for an acknowledged consumer,
    /// or <paramref name="consumerTag"/> is null.</exception>
    internal ReceivedMessage(
        IDeliveryAcknowledger? acknowledger,
        ulong deliveryTag,
        bool redelivered,
        string consumerTag,
        ReadOnlyMemory<byte> exchange,
        ReadOnlyMemory<byte> routingKey,
        ReadOnlyMemory<byte> rawProperties,
        ReadOnlyMemory<byte> body,
        bool noAck,
        byte[]? pooledBuffer,
        ArrayPool<byte>? pool = null)
    {
        if (acknowledger is null && !noAck)
        {
            throw new ArgumentNullException(nameof(acknowledger), "An acknowledger is needed unless the consumer is no-ack.");
        }

        _acknowledger = acknowledger;
        DeliveryTag = deliveryTag;
        Redelivered = redelivered;
        ConsumerTag = consumerTag ?? throw new ArgumentNullException(nameof(consumerTag));
        _exchange = exchange;
        _routingKey = routingKey;
        _rawProperties = rawProperties;
        _body = body;
        NoAck = noAck;
        _pooledBuffer = pooledBuffer;
        _pooled = pooledBuffer is not null;
        _pool = pool ?? ArrayPool<byte>.Shared;
    }

    /// <summary>
    /// Creates a received message from already decoded fields: for a consumer that interns exchange and
    /// routing-key strings and parses the content header as it arrives.
    /// </summary>
    /// <param name="acknowledger">Settles the delivery on its channel; may be <see langword="null"/> only when
    /// <paramref name="noAck"/> is set.</param>
    /// <param name="consumerTag">The consumer's tag ("" for <c>basic.get</c>).</param>
    /// <param name="deliveryTag">The <c>delivery-tag</c> of <c>basic.deliver</c> / <c>basic.get-ok</c>.</param>
    /// <param name="redelivered">The <c>redelivered</c> flag.</param>
    /// <param name="exchange">The exchange name.</param>
    /// <param name="routingKey">The routing key.</param>
    /// <param name="properties">The decoded properties.</param>
    /// <param name="body">The body is <c>body[0..bodyLength]</c>. In pooled mode the array was rented from
    /// <see cref="ArrayPool{T}.Shared"/> (it may be longer than <paramref name="bodyLength"/>) and this message
    /// returns it exactly once, on the first settle or dispose.</param>
    /// <param name="bodyLength">The body length.</param>
    /// <param name="pooled">Whether <paramref name="body"/> is a rented array that this message now owns.</param>
    /// <param name="noAck">Whether the consumer is no-ack: settling then sends nothing. Required, because acking a
    /// no-ack delivery makes the broker close the channel (406 PRECONDITION_FAILED, unknown delivery tag).</param>
    internal ReceivedMessage(
        IDeliveryAcknowledger? acknowledger,
        string consumerTag,
        ulong deliveryTag,
        bool redelivered,
        string exchange,
        string routingKey,
        MessageProperties properties,
        byte[] body,
        int bodyLength,
        bool pooled,
        bool noAck)
        : this(acknowledger, deliveryTag, redelivered, consumerTag, default, default, default,
            (body ?? throw new ArgumentNullException(nameof(body))).AsMemory(0, bodyLength), noAck, pooled ? body : null)
    {
        _exchangeName = exchange ?? throw new ArgumentNullException(nameof(exchange));
        _routingKeyName = routingKey ?? throw new ArgumentNullException(nameof(routingKey));
        _properties = properties ?? throw new ArgumentNullException(nameof(properties));
    }

    /// <summary>The message body. In pooled mode valid only until the message is settled or disposed.</summary>
    /// <exception cref="ObjectDisposedException">Pooled mode, and the buffer has been returned.</exception>
    public ReadOnlyMemory<byte> Body
    {
        get
        {
            ThrowIfReleased();
            return _body;
        }
    }

    /// <summary>The name of the exchange the message was published to ("" for the default exchange). Decoded from
    /// UTF-8 on first read, then cached.</summary>
    /// <exception cref="ObjectDisposedException">Pooled mode, first read after the buffer has been returned.</exception>
    public string Exchange => _exchangeName ??= DecodeShortString(_exchange);

    /// <summary>The routing key the message was published with. Decoded from UTF-8 on first read, then cached.</summary>
    /// <exception cref="ObjectDisposedException">Pooled mode, first read after the buffer has been returned.</exception>
    public string RoutingKey => _routingKeyName ??= DecodeShortString(_routingKey);

    /// <summary>The delivery tag: identifies the delivery on its channel.</summary>
    public ulong DeliveryTag { get; }

    /// <summary>Whether the broker delivered this message before (to this or another consumer) without it being acked.</summary>
    public bool Redelivered { get; }

    /// <summary>The tag of the consumer that received the message.</summary>
    public string ConsumerTag { get; }

    /// <summary>What settles the delivery: the channel it came on (null for no-ack). For tests.</summary>
    internal IDeliveryAcknowledger? Acknowledger => _acknowledger;

    /// <summary>Whether the consumer is no-ack (the broker does not expect settlement; settling sends nothing).</summary>
    public bool NoAck { get; }

    /// <summary>Whether <see cref="Ack"/>, <see cref="Nack"/> or <see cref="Reject"/> has been called.</summary>
    public bool IsSettled => Volatile.Read(ref _settled) != 0;

    /// <summary>The message's properties, decoded on first read and then cached.</summary>
    /// <exception cref="ObjectDisposedException">Pooled mode, first read after the buffer has been returned.</exception>
    /// <exception cref="AmqpFrameFormatException">The broker sent a malformed property section.</exception>
    public MessageProperties Properties
    {
        get
        {
            MessageProperties? properties = _properties;
            if (properties is null)
            {
                ThrowIfReleased();
                properties = _rawProperties.IsEmpty ? MessageProperties.Empty : MessageProperties.FromWire(_rawProperties.Span);

                // Re-check: the buffer may have gone back to the pool (and been reused) while decoding.
                ThrowIfReleased();
                _properties = properties;
            }

            return properties;
        }
    }

    /// <summary>Acknowledges the message (<c>basic.ack</c>): the broker forgets it. Does nothing if already
    /// settled or if the consumer is no-ack. Returns a pooled body to the pool.</summary>
    /// <param name="multiple">Also acknowledge every earlier unsettled delivery on the same channel.</param>
    /// <returns><see langword="true"/> if this call settled the message: its frame was queued for the broker on the channel
    /// that delivered it (or, for a no-ack consumer, nothing needed sending). <see langword="false"/> if it did
    /// nothing: the message was settled already (by an earlier call, or by a multiple-settle of a later message), or
    /// the channel that delivered it has closed since (the broker requeued the message).</returns>
    public bool Ack(bool multiple = false)
    {
        if (Interlocked.Exchange(ref _settled, 1) != 0)
        {
            return false;
        }

        if (CoolAmqpTelemetry.SettleObserved)
        {
            return SettleObserved("ack", SettleKind.Ack, multiple, requeue: false);
        }

        try
        {
            return NoAck || _acknowledger!.Ack(DeliveryTag, multiple);
        }
        finally
        {
            ReleaseBuffer();
        }
    }

    /// <summary>Rejects the message (<c>basic.nack</c>, a RabbitMQ extension). Does nothing if already settled or
    /// if the consumer is no-ack. Returns a pooled body to the pool.</summary>
    /// <param name="requeue">Put the message back in the queue to be delivered again (default); otherwise the broker
    /// discards or dead-letters it.</param>
    /// <param name="multiple">Also nack every earlier unsettled delivery on the same channel.</param>
    /// <returns><see langword="true"/> if this call settled the message: its frame was queued for the broker on the channel
    /// that delivered it (or, for a no-ack consumer, nothing needed sending). <see langword="false"/> if it did
    /// nothing: the message was settled already (by an earlier call, or by a multiple-settle of a later message), or
    /// the channel that delivered it has closed since (the broker requeued the message).</returns>
    public bool Nack(bool requeue = true, bool multiple = false)
    {
        if (Interlocked.Exchange(ref _settled, 1) != 0)
        {
            return false;
        }

        if (CoolAmqpTelemetry.SettleObserved)
        {
            return SettleObserved("nack", SettleKind.Nack, multiple, requeue);
        }

        try
        {
            return NoAck || _acknowledger!.Nack(DeliveryTag, multiple, requeue);
        }
        finally
        {
            ReleaseBuffer();
        }
    }

    /// <summary>Rejects the message (<c>basic.reject</c>). Does nothing if already settled or if the consumer is
    /// no-ack. Returns a pooled body to the pool.</summary>
    /// <param name="requeue">Put the message back in the queue to be delivered again (default); otherwise the broker
    /// discards or dead-letters it.</param>
    /// <returns><see langword="true"/> if this call settled the message: its frame was queued for the broker on the channel
    /// that delivered it (or, for a no-ack consumer, nothing needed sending). <see langword="false"/> if it did
    /// nothing: the message was settled already (by an earlier call, or by a multiple-settle of a later message), or
    /// the channel that delivered it has closed since (the broker requeued the message).</returns>
    public bool Reject(bool requeue = true)
    {
        if (Interlocked.Exchange(ref _settled, 1) != 0)
        {
            return false;
        }

        if (CoolAmqpTelemetry.SettleObserved)
        {
            return SettleObserved("reject", SettleKind.Reject, multiple: false, requeue);
        }

        try
        {
            return NoAck || _acknowledger!.Reject(DeliveryTag, requeue);
        }
        finally
        {
            ReleaseBuffer();
        }
    }

    /// <summary>A settlement with its span and count (someone listens to <see cref="CoolAmqpTelemetry"/>); the caller
    /// has claimed the message's one settlement.</summary>
    private bool SettleObserved(string operation, SettleKind kind, bool multiple, bool requeue)
    {
        // Read before the buffer they may point into goes back to the pool.
        string exchange = Exchange;
        System.Diagnostics.Activity? activity = CoolAmqpTelemetry.StartSettle(operation, exchange, RoutingKey, DeliveryTag);
        bool settled = false;
        Exception? failure = null;
        try
        {
            settled = NoAck || kind switch
            {
                SettleKind.Ack => _acknowledger!.Ack(DeliveryTag, multiple),
                SettleKind.Nack => _acknowledger!.Nack(DeliveryTag, multiple, requeue),
                _ => _acknowledger!.Reject(DeliveryTag, requeue),
            };
            return settled;
        }
        catch (Exception ex)
        {
            failure = ex;
            throw;
        }
        finally
        {
            ReleaseBuffer();
            CoolAmqpTelemetry.StopSettle(activity, operation, exchange, settled, failure);
        }
    }

    /// <summary>Returns a pooled body buffer to the pool (does nothing in copied mode). Does not settle the message.</summary>
    public void Dispose() => ReleaseBuffer();

    /// <summary>Describes the delivery (not its body), e.g. <c>ReceivedMessage(tag=5, exchange='x', routing key='k', 12 bytes)</c>.</summary>
    /// <returns>A short description for logs.</returns>
    public override string ToString()
    {
        if (_pooled && Volatile.Read(ref _pooledBuffer) is null && (_exchangeName is null || _routingKeyName is null))
        {
            return $"ReceivedMessage(tag={DeliveryTag}, released)";
        }

        return $"ReceivedMessage(tag={DeliveryTag}, exchange='{Exchange}', routing key='{RoutingKey}', {_body.Length} bytes{(Redelivered ? ", redelivered" : string.Empty)})";
    }

    private string DecodeShortString(ReadOnlyMemory<byte> utf8)
    {
        if (utf8.IsEmpty)
        {
            return string.Empty;
        }

        ThrowIfReleased();
        string value = Wire.DecodeString(utf8.Span);
        ThrowIfReleased();
        return value;
    }

    private void ThrowIfReleased()
    {
        if (_pooled && Volatile.Read(ref _pooledBuffer) is null)
        {
            throw new ObjectDisposedException(nameof(ReceivedMessage),
                "The pooled body buffer of this message was returned when the message was settled or disposed.");
        }
    }

    private void ReleaseBuffer()
    {
        byte[]? buffer = Interlocked.Exchange(ref _pooledBuffer, null);
        if (buffer is not null)
        {
            _pool.Return(buffer);
        }
    }
}
