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
internal sealed class RpcChannel
{
    private readonly ReopeningChannel _channel;

    public RpcChannel(AmqpConnection connection) =>
        _channel = new ReopeningChannel(connection, new SilentChannelHandler(OnClosed));

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

    // A channel error closed it: the next call opens a new one.
    private void OnClosed(AmqpChannel channel) => _channel.Closed(channel);
}
