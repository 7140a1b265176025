using System;
using System.Buffers;

namespace CoolAmqp.Channels;

/// <summary>
/// A basic.deliver or basic.get-ok with its content, as the channel assembled it: the method's fields and raw views
/// of one buffer. The channel layer stops here; the consumer (or the cluster, for basic.get) builds the public
/// <see cref="ReceivedMessage"/> from it.
/// </summary>
internal readonly struct InboundDelivery
{
    public InboundDelivery(AmqpChannel channel, ulong deliveryTag, bool redelivered, string consumerTag,
        ReadOnlyMemory<byte> exchange, ReadOnlyMemory<byte> routingKey, ReadOnlyMemory<byte> rawProperties,
        ReadOnlyMemory<byte> body, bool noAck, byte[]? pooledBuffer, ArrayPool<byte>? pool)
    {
        Channel = channel;
        DeliveryTag = deliveryTag;
        Redelivered = redelivered;
        ConsumerTag = consumerTag;
        Exchange = exchange;
        RoutingKey = routingKey;
        RawProperties = rawProperties;
        Body = body;
        NoAck = noAck;
        PooledBuffer = pooledBuffer;
        Pool = pool;
    }

    /// <summary>The channel it came on (settling goes back through it).</summary>
    public AmqpChannel Channel { get; }

    public ulong DeliveryTag { get; }

    public bool Redelivered { get; }

    /// <summary>The consumer tag ("" for basic.get-ok).</summary>
    public string ConsumerTag { get; }

    /// <summary>UTF-8 bytes of the exchange name.</summary>
    public ReadOnlyMemory<byte> Exchange { get; }

    /// <summary>UTF-8 bytes of the routing key.</summary>
    public ReadOnlyMemory<byte> RoutingKey { get; }

    /// <summary>The content header's property section (flags and values); empty when none is set.</summary>
    public ReadOnlyMemory<byte> RawProperties { get; }

    public ReadOnlyMemory<byte> Body { get; }

    /// <summary>Whether it counts as settled already (no-ack consumer or basic.get).</summary>
    public bool NoAck { get; }

    /// <summary>The rented buffer the views point into, which the message built from this must return; null when
    /// the buffer is a fresh array.</summary>
    public byte[]? PooledBuffer { get; }

    /// <summary>The pool <see cref="PooledBuffer"/> came from.</summary>
    public ArrayPool<byte>? Pool { get; }
}
