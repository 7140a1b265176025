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
    private readonly object _sync = new();
    private readonly AmqpConnection _connection;
    private AmqpChannel? _channel;
    private Task<AmqpChannel>? _opening;

    public RpcChannel(AmqpConnection connection) => _connection = connection;

    /// <summary>Sends a synchronous method on the (re)opened channel and waits for its response.</summary>
    public async Task<RpcResponse> CallAsync<T>(T method, uint expected, uint alternative,
        CancellationToken cancellationToken, bool getNoAck = false)
        where T : struct, IAmqpMethod
    {
        AmqpChannel channel = await GetChannelAsync(cancellationToken).ConfigureAwait(false);
        return await channel.CallAsync(method, expected, alternative, cancellationToken, getNoAck).ConfigureAwait(false);
    }

    /// <summary>The open channel, opening a new one if needed.</summary>
    public Task<AmqpChannel> GetChannelAsync(CancellationToken cancellationToken)
    {
        Task<AmqpChannel> opening;
        lock (_sync)
        {
            if (_channel is { IsOpen: true } open)
            {
                return Task.FromResult(open);
            }

            if (_opening is null)
            {
                opening = OpenAsync();
                // A caller may stop waiting (cancellation); a failure of the opening then still counts as seen.
                _ = opening.ContinueWith(static t => _ = t.Exception, CancellationToken.None,
                    TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

                // The opening can finish on this thread, inside this (reentrant) lock, when the broker's answers
                // arrive before it awaits them; it has then already cleared _opening, and keeping the finished task
                // would hand out its channel again after that channel closed.
                if (!opening.IsCompleted)
                {
                    _opening = opening;
                }
            }
            else
            {
                opening = _opening;
            }
        }

        return opening.WaitAsync(cancellationToken);
    }

    private async Task<AmqpChannel> OpenAsync()
    {
        try
        {
            AmqpChannel channel = await _connection.OpenChannelAsync(this, CancellationToken.None).ConfigureAwait(false);
            lock (_sync)
            {
                _channel = channel;
                _opening = null;
            }

            return channel;
        }
        catch
        {
            lock (_sync)
            {
                _opening = null;
            }

            throw;
        }
    }

    void IChannelHandler.OnClosed(AmqpChannel channel, Exception? reason)
    {
        lock (_sync)
        {
            if (ReferenceEquals(_channel, channel))
            {
                _channel = null;
            }
        }
    }
}
