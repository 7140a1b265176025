using System;

namespace CoolAmqp.Channels;

/// <summary>
/// The handler of a channel that neither consumes nor confirms (the cluster's RPC channel, a transaction): nothing but
/// its close concerns the owner. A record delivery is still ended, so its buffer goes back to the pool.
/// </summary>
internal sealed class SilentChannelHandler : IChannelHandler
{
    private readonly Action<AmqpChannel>? _onClosed;

    /// <param name="onClosed">Told when the channel closes, whatever the reason; null to ignore that too.</param>
    public SilentChannelHandler(Action<AmqpChannel>? onClosed = null) => _onClosed = onClosed;

    /// <summary>Ignores every event, its close included.</summary>
    public static SilentChannelHandler Instance { get; } = new();

    public void OnDelivery(AmqpChannel channel, in InboundDelivery delivery)
    {
    }

    public void OnDelivery(AmqpChannel channel, DeliveryRecord record, long token) => record.End(token);

    public void OnDeliveriesFlushed(AmqpChannel channel, long turn)
    {
    }

    public void OnDeliveryRefused(AmqpChannel channel, RefusedDelivery refused)
    {
    }

    public void OnReturn(AmqpChannel channel, ReturnedMessage returned)
    {
    }

    public void OnAck(AmqpChannel channel, ulong deliveryTag, bool multiple)
    {
    }

    public void OnNack(AmqpChannel channel, ulong deliveryTag, bool multiple)
    {
    }

    public void OnBrokerCancel(AmqpChannel channel, string consumerTag)
    {
    }

    public void OnClosed(AmqpChannel channel, Exception? reason) => _onClosed?.Invoke(channel);
}
