using System;
using CoolAmqp.Connections;

namespace CoolAmqp.Channels;

/// <summary>
/// The owner of a channel (a consumer, a publisher, the cluster's RPC channel) hears about asynchronous
/// events on it through this. Called on the connection's read loop: implementations must be quick and must
/// not block or throw. No default bodies (netstandard2.0 has no default interface members): a handler that does not
/// care about an event implements it as a no-op.
/// </summary>
internal interface IChannelHandler
{
    /// <summary>A basic.deliver with its content arrived; a handler that does not keep it must still end it
    /// (<see cref="InboundDelivery.PooledBuffer"/> goes back to its pool with the message built from it).</summary>
    void OnDelivery(AmqpChannel channel, in InboundDelivery delivery);

    /// <summary>A basic.deliver with its content arrived on a channel that hands deliveries out as pooled records
    /// (<see cref="AmqpChannel.UseDeliveryRecords"/>): <paramref name="record"/> holds it while its stamp is
    /// <paramref name="token"/>. The handler now owns ending it (or passing it on to someone who will).</summary>
    void OnDelivery(AmqpChannel channel, DeliveryRecord record, long token);

    /// <summary>The read loop parsed all it had received; <see cref="OnDelivery(AmqpChannel, in InboundDelivery)"/> (or
    /// its record overload) was called at least once on <paramref name="channel"/> since the last such call. A handler that queues deliveries can wake its
    /// dispatcher here, once per batch rather than once per message, or run its callbacks under the reading role
    /// (<see cref="ReaderHandoff.TryBeginCallbacks"/>).</summary>
    /// <param name="channel">The channel.</param>
    /// <param name="turn">The reading turn the batch was read in.</param>
    void OnDeliveriesFlushed(AmqpChannel channel, long turn);

    /// <summary>A basic.deliver broke a <see cref="ProtocolLimits"/> limit and was refused (already logged): its body
    /// is never buffered, and no <c>OnDelivery</c> follows for it.</summary>
    void OnDeliveryRefused(AmqpChannel channel, RefusedDelivery refused);

    /// <summary>A basic.return with its content arrived.</summary>
    void OnReturn(AmqpChannel channel, ReturnedMessage returned);

    /// <summary>A publisher confirm (basic.ack from the broker).</summary>
    void OnAck(AmqpChannel channel, ulong deliveryTag, bool multiple);

    /// <summary>A negative publisher confirm (basic.nack from the broker).</summary>
    void OnNack(AmqpChannel channel, ulong deliveryTag, bool multiple);

    /// <summary>The broker cancelled a consumer (consumer cancel notification), e.g. its queue was deleted.</summary>
    void OnBrokerCancel(AmqpChannel channel, string consumerTag);

    /// <summary>
    /// The channel closed: <paramref name="reason"/> is null when we closed it, an <see cref="AmqpException"/>
    /// when the broker closed it (a channel error), or the connection's failure.
    /// </summary>
    void OnClosed(AmqpChannel channel, Exception? reason);
}
