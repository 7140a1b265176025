using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using CoolAmqp.Channels;
using Microsoft.Extensions.Logging;

namespace CoolAmqp.Recovery;

/// <summary>
/// Publishes again, on the next connection, the confirmed publishes a lost connection left unconfirmed
/// (<see cref="RecoveryOptions.RepublishUnconfirmed"/>). Their callers' tasks stay pending and complete with the new
/// channel's confirm. While it has any, it holds the cluster's confirming <see cref="PublishQueue"/>, so they go out, in
/// their first order, before any confirmed publish made after the loss. Those it cannot publish again within
/// <see cref="RecoveryOptions.ConnectionWaitTimeout"/> (or when the cluster gives up or shuts down) fail with
/// <see cref="PublishOutcomeUnknownException"/>, as they would without it.
/// </summary>
internal sealed partial class Republisher
{
    private readonly object _sync = new();
    private readonly ConnectionSupervisor _supervisor;
    private readonly PublishQueue _queue;
    private readonly ILogger _logger;
    private List<PendingConfirm> _carried = [];
    private bool _running;

    public Republisher(ConnectionSupervisor supervisor, PublishQueue queue, ILogger logger)
    {
        _supervisor = supervisor;
        _queue = queue;
        _logger = logger;
    }

    /// <summary>Takes the unconfirmed publishes of a channel that lost its connection (read loop).</summary>
    /// <returns>False when the cluster will not reconnect: the caller fails them instead.</returns>
    public bool Carry(ConfirmTracker tracker, Exception reason)
    {
        if (!_supervisor.WillReconnect)
        {
            return false;
        }

        Task turn;
        lock (_sync)
        {
            int before = _carried.Count;
            tracker.TakeAll(reason, _carried);
            if (_carried.Count == before || _running)
            {
                return true;
            }

            _running = true;
            // Entered and queued for the turn here, on the read loop, before the loss is reported and before the next
            // connection can open: no publish made after it can take the fast path or the turn ahead of these.
            _queue.Enter();
            turn = _queue.Turn.WaitAsync();
        }

        _ = Task.Run(() => RunAsync(turn));
        return true;
    }

    private async Task RunAsync(Task turn)
    {
        await turn.ConfigureAwait(false);
        try
        {
            long waitStarted = Stopwatch.GetTimestamp();
            while (true)
            {
                List<PendingConfirm> batch;
                lock (_sync)
                {
                    if (_carried.Count == 0)
                    {
                        _running = false;
                        return;
                    }

                    batch = _carried;
                    _carried = [];
                }

                Session session;
                try
                {
                    session = await _supervisor.GetSessionAsync(waitStarted, CancellationToken.None).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is ConnectionDeadException or InvalidOperationException)
                {
                    FailFrom(batch, 0, ex);
                    continue;
                }

                int republished = await RepublishAsync(session, batch).ConfigureAwait(false);
                if (republished < batch.Count)
                {
                    // That connection went too: the rest wait for the next one, still first in line.
                    lock (_sync)
                    {
                        _carried.InsertRange(0, batch.GetRange(republished, batch.Count - republished));
                    }
                }
                else
                {
                    LogRepublished(_logger, batch.Count, session.Node.Host);
                }
            }
        }
        finally
        {
            _queue.Turn.Release();
            _queue.Leave();
        }
    }

    /// <summary>Appends the publishes of <paramref name="batch"/> on <paramref name="session"/> in order.</summary>
    /// <returns>How many are done with (appended, or failed for good); the others are still to be published.</returns>
    private async Task<int> RepublishAsync(Session session, List<PendingConfirm> batch)
    {
        for (int i = 0; i < batch.Count; i++)
        {
            PendingConfirm pending = batch[i];
            if (pending.IsCompleted)
            {
                // Cancelled by its caller while it waited.
                pending.ReleaseByTracker();
                continue;
            }

            try
            {
                await session.Confirming.RepublishAsync(pending, CancellationToken.None).ConfigureAwait(false);
            }
            catch (ConnectionDeadException) when (!session.Connection.IsOpen && _supervisor.WillReconnect)
            {
                return i;
            }
            catch (Exception ex) when (ex is AmqpException or ConnectionDeadException or AmqpTimeoutException)
            {
                // Its channel could not be opened (or the cluster is going away): this one is not published again.
                FailFrom(batch, i, ex, count: 1);
            }
        }

        return batch.Count;
    }

    private static void FailFrom(List<PendingConfirm> batch, int from, Exception reason, int count = int.MaxValue)
    {
        int end = (int)Math.Min(batch.Count, (long)from + count);
        for (int i = from; i < end; i++)
        {
            PendingConfirm pending = batch[i];
            pending.TryFail(new PublishOutcomeUnknownException(pending.Exchange, pending.RoutingKey, reason));
            pending.ReleaseByTracker();
        }
    }

    [LoggerMessage(EventId = 7101, Level = LogLevel.Information,
        Message = "Published again {Count} messages the lost connection left unconfirmed, on {Host}")]
    private static partial void LogRepublished(ILogger logger, int count, string host);
}
