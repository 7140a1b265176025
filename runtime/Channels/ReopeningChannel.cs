using System;
using System.Threading;
using System.Threading.Tasks;
using CoolAmqp.Connections;

namespace CoolAmqp.Channels;

/// <summary>
/// A channel of one connection that is opened on first use and opened anew after it closed (a channel error), for
/// owners that keep one channel for many calls: the publishers and the cluster's RPC channel. Callers that arrive
/// while it opens share the one opening.
/// </summary>
internal sealed class ReopeningChannel
{
    private readonly object _sync = new();
    private readonly AmqpConnection _connection;
    private readonly IChannelHandler _handler;
    private readonly Func<AmqpChannel, Task>? _prepare;
    private AmqpChannel? _channel;
    private Task<AmqpChannel>? _opening;

    /// <param name="connection">The connection to open channels on.</param>
    /// <param name="handler">Hears each channel's events (and must call <see cref="Closed"/> from its OnClosed).</param>
    /// <param name="prepare">Runs on a new channel before anyone gets it (e.g. confirm.select), or null.</param>
    public ReopeningChannel(AmqpConnection connection, IChannelHandler handler, Func<AmqpChannel, Task>? prepare = null)
    {
        _connection = connection;
        _handler = handler;
        _prepare = prepare;
    }

    /// <summary>The channel handed out last (it may have closed since; appending to it then fails), or null.</summary>
    public AmqpChannel? Current => Volatile.Read(ref _channel);

    /// <summary>Whether <paramref name="channel"/> is the one handed out now.</summary>
    public bool IsCurrent(AmqpChannel channel) => ReferenceEquals(Volatile.Read(ref _channel), channel);

    /// <summary>The open channel, opening a new one if needed.</summary>
    public ValueTask<AmqpChannel> GetAsync(CancellationToken cancellationToken)
    {
        Task<AmqpChannel> opening;
        lock (_sync)
        {
            if (_channel is { IsOpen: true } open)
            {
                return new ValueTask<AmqpChannel>(open);
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

        return new ValueTask<AmqpChannel>(opening.WaitAsync(cancellationToken));
    }

    private async Task<AmqpChannel> OpenAsync()
    {
        try
        {
            // Not cancellable by one caller: others may be waiting for the same channel.
            AmqpChannel channel = await _connection.OpenChannelAsync(_handler, CancellationToken.None).ConfigureAwait(false);
            if (_prepare is not null)
            {
                try
                {
                    await _prepare(channel).ConfigureAwait(false);
                }
                catch
                {
                    _ = channel.CloseAsync();
                    throw;
                }
            }

            lock (_sync)
            {
                Volatile.Write(ref _channel, channel);
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

    /// <summary>The handler heard that <paramref name="channel"/> closed: the next call opens a new one.</summary>
    /// <returns>Whether it was the current channel.</returns>
    public bool Closed(AmqpChannel channel)
    {
        lock (_sync)
        {
            if (!ReferenceEquals(_channel, channel))
            {
                return false;
            }

            Volatile.Write(ref _channel, null);
            return true;
        }
    }

    /// <summary>Closes the current channel, if any (graceful shutdown).</summary>
    public Task CloseAsync() => Volatile.Read(ref _channel)?.CloseAsync() ?? Task.CompletedTask;
}
