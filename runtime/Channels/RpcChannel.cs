using System;
using System.Threading;
using System.Threading.Tasks;
using CoolAmqp.Connections;
using CoolAmqp.Framing;

namespace CoolAmqp.Channels;

/// <summary>
/// A channel for the cluster's own synchronous methods (declare, bind, delete, purge, get): opened on first use
/// and replaced after a channel error, so that one failed operation (reported to its caller as an
/// <see cref="AmqpException"/>) does not break the ones after it.
/// </summary>
internal sealed class RpcChannel : IChannelHandler
{
    private readonly ReopeningChannel _channel;

    public RpcChannel(AmqpConnection connection) => _channel = new ReopeningChannel(connection, this);

    /// <summary>Sends a synchronous method on the (re)opened channel and waits for its response.</summary>
    public async Task<RpcResponse> CallAsync<T>(T method, uint expected, uint alternative,
        CancellationToken cancellationToken, bool getNoAck = false)
        where T : struct, IAmqpMethod
    {
        AmqpChannel channel = await _channel.GetAsync(cancellationToken).ConfigureAwait(false);
        return await channel.CallAsync(method, expected, alternative, cancellationToken, getNoAck).ConfigureAwait(false);
    }

    /// <summary>The open channel, opening a new one if needed.</summary>
    public ValueTask<AmqpChannel> GetChannelAsync(CancellationToken cancellationToken) => _channel.GetAsync(cancellationToken);

    void IChannelHandler.OnDelivery(AmqpChannel channel, in InboundDelivery delivery)
    {
    }

    void IChannelHandler.OnDelivery(AmqpChannel channel, DeliveryRecord record, long token) => record.End(token);

    void IChannelHandler.OnDeliveriesFlushed(AmqpChannel channel)
    {
    }

    void IChannelHandler.OnDeliveryRefused(AmqpChannel channel, RefusedDelivery refused)
    {
    }

    void IChannelHandler.OnReturn(AmqpChannel channel, ReturnedMessage returned)
    {
    }

    void IChannelHandler.OnAck(AmqpChannel channel, ulong deliveryTag, bool multiple)
    {
    }

    void IChannelHandler.OnNack(AmqpChannel channel, ulong deliveryTag, bool multiple)
    {
    }

    void IChannelHandler.OnBrokerCancel(AmqpChannel channel, string consumerTag)
    {
    }

    void IChannelHandler.OnClosed(AmqpChannel channel, Exception? reason) => _channel.Closed(channel);
}
