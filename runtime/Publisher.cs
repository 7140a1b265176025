using System;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
using CoolAmqp.Channels;
using CoolAmqp.Connections;
using CoolAmqp.Framing;
using CoolAmqp.Recovery;
using CoolAmqp.Telemetry;
using Microsoft.Extensions.Logging;

namespace CoolAmqp;

/// <summary>
/// Publishes on one channel of a connection that it opens on first use and reopens after a channel error. In
/// confirm mode the channel is put in confirm mode (confirm.select) and every publish completes when the
/// broker confirms it; otherwise a publish completes once its frames are queued for the socket.
/// </summary>
internal sealed partial class Publisher : IChannelHandler
{
    // A publish that finds its channel just closed is retried on a fresh one; it was not sent, so that is safe.
    private const int MaxAttempts = 3;

    private readonly AmqpConnection _connection;
    private readonly bool _confirms;
    private readonly ILogger _logger;
    private readonly ReopeningChannel _channel;
    private readonly UnsentPublishes? _unsent;
    private readonly Republisher? _republisher;

    /// <param name="connection">The connection.</param>
    /// <param name="confirms">Confirm mode.</param>
    /// <param name="logger">The logger.</param>
    /// <param name="republisher">In confirm mode, takes the unconfirmed publishes of a lost connection to publish them
    /// again (<see cref="RecoveryOptions.RepublishUnconfirmed"/>); null to fail them.</param>
    public Publisher(AmqpConnection connection, bool confirms, ILogger logger, Republisher? republisher = null)
    {
        _connection = connection;
        _confirms = confirms;
        _logger = logger;
        _republisher = confirms ? republisher : null;
        _channel = new ReopeningChannel(connection, this, confirms ? SelectConfirmsAsync : null);
        _unsent = confirms ? null : new UnsentPublishes();
    }

    /// <summary>Puts a new channel in confirm mode; its confirms are tracked for as long as it lives.</summary>
    private async Task SelectConfirmsAsync(AmqpChannel channel)
    {
        await channel.CallAsync(new ConfirmSelect(false), ConfirmSelectOk.CommandIdValue, 0, CancellationToken.None)
            .ConfigureAwait(false);
        channel.Confirms = new ConfirmTracker(LogUnmatchedReturn) { ServerAddress = _connection.Settings.Host };
    }

    /// <summary>Publishes at once if nothing needs waiting for: the channel is open, flow is on, the broker does not
    /// block publishing and the outbound buffer is under its high-water mark. See <see cref="Cluster.PublishAsync(Message, string, string, bool, bool, CancellationToken)"/>.</summary>
    /// <param name="message">The message.</param>
    /// <param name="exchange">Exchange name.</param>
    /// <param name="routingKey">Routing key.</param>
    /// <param name="mandatory">basic.publish mandatory.</param>
    /// <param name="cancellationToken">Stops waiting for the confirm.</param>
    /// <param name="completion">Completes when the publish is done (queued, or confirmed in confirm mode).</param>
    /// <returns>Whether the publish was appended; if not, nothing was sent.</returns>
    public bool TryPublish(Message message, string exchange, string routingKey, bool mandatory,
        CancellationToken cancellationToken, out ValueTask completion)
    {
        AmqpChannel? channel = _channel.Current;
        if (channel is not null && channel.IsFlowActive && !_connection.IsBlocked &&
            _connection.Writer.BufferedBytes <= AmqpLimits.WriteHighWater &&
            !cancellationToken.IsCancellationRequested)
        {
            return TryAppend(channel, message, exchange, routingKey, mandatory, cancellationToken, out completion);
        }

        completion = default;
        return false;
    }

    /// <summary>Waits for what the publish needs (an open channel, flow, the broker not blocking publishing, room in the
    /// outbound buffer), then appends it.</summary>
    /// <returns>The publish's completion (queued, or confirmed in confirm mode), not awaited here: the caller keeps
    /// publishes in order up to the append only.</returns>
#if NET // netstandard2.0 has no pooling builder (nor a method-level AsyncMethodBuilder)
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
#endif
    public async ValueTask<ValueTask> AppendAsync(Message message, string exchange, string routingKey, bool mandatory,
        CancellationToken cancellationToken)
    {
        for (int attempt = 1; ; attempt++)
        {
            AmqpChannel channel = await WaitUntilWritableAsync(cancellationToken).ConfigureAwait(false);
            if (TryAppend(channel, message, exchange, routingKey, mandatory, cancellationToken, out ValueTask completion))
            {
                return completion;
            }

            if (attempt == MaxAttempts)
            {
                throw channel.ClosedException();
            }
        }
    }

    /// <summary>Appends a publish of a lost connection again (confirm mode), once what it needs is there, as
    /// <see cref="AppendAsync"/> does; it completes, as before, when this channel's broker confirms it.</summary>
    /// <param name="pending">The publish, taken from the lost channel's tracker; it keeps its message.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    public async Task RepublishAsync(PendingConfirm pending, CancellationToken cancellationToken)
    {
        for (int attempt = 1; ; attempt++)
        {
            AmqpChannel channel = await WaitUntilWritableAsync(cancellationToken).ConfigureAwait(false);
            var method = new BasicPublish(pending.Exchange, pending.RoutingKey, pending.Mandatory, false);
            Message message = pending.Message!;
            BasicProperties properties = message.Properties.ToWire();
            if (TryAppendTracked(channel, in method, in properties, message.Body.Span, pending))
            {
                return;
            }

            if (attempt == MaxAttempts)
            {
                throw channel.ClosedException();
            }
        }
    }

    /// <summary>The open channel, once flow is on, the broker does not block publishing and the outbound buffer has room.</summary>
#if NET // netstandard2.0 has no pooling builder (nor a method-level AsyncMethodBuilder)
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
#endif
    private async ValueTask<AmqpChannel> WaitUntilWritableAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        AmqpChannel channel = await _channel.GetAsync(cancellationToken).ConfigureAwait(false);
        await channel.WaitForFlowAsync(cancellationToken).ConfigureAwait(false);
        // Held here, not sent: a blocked connection that receives a publish stops being read by the broker,
        // which would stall acks and declarations too.
        await _connection.WaitUntilUnblockedAsync(_connection.Settings.BlockedPublishTimeout, cancellationToken)
            .ConfigureAwait(false);
        // Re-check after every wake-up: all waiters wake together at the low-water mark, and without the
        // re-check a thousand of them would append at once, far past the high-water mark (and the writer's
        // pooled segments).
        ValueTask capacity = _connection.Writer.WaitForCapacityAsync(cancellationToken);
        while (!capacity.IsCompletedSuccessfully)
        {
            await capacity.ConfigureAwait(false);
            capacity = _connection.Writer.WaitForCapacityAsync(cancellationToken);
        }

        return channel;
    }

    /// <summary>Appends the publish if <paramref name="channel"/> is still writable (nothing is sent otherwise).</summary>
    private bool TryAppend(AmqpChannel channel, Message message, string exchange, string routingKey, bool mandatory,
        CancellationToken cancellationToken, out ValueTask completion)
    {
        var method = new BasicPublish(exchange, routingKey, mandatory, false);
        BasicProperties properties = message.Properties.ToWire();
        if (!_confirms)
        {
            var record = new UnsentHook(_unsent!);
            bool appended = _connection.Writer.TryWritePublish(channel, in method, in properties, message.Body.Span, ref record);
            if (appended && CoolAmqpTelemetry.SentMessages.Enabled)
            {
                CoolAmqpTelemetry.RecordSent(exchange, _connection);
            }

            completion = default;
            return appended;
        }

        if (channel.Confirms is null)
        {
            completion = default;
            return false;
        }

        PendingConfirm pending = PendingConfirm.Rent(message, exchange, routingKey, mandatory, _republisher is not null,
            _connection.Continuations);
        pending.StartTimestamp = CoolAmqpTelemetry.OperationDuration.Enabled ? Stopwatch.GetTimestamp() : 0;
        if (!TryAppendTracked(channel, in method, in properties, message.Body.Span, pending))
        {
            pending.ReturnUnused();
            completion = default;
            return false;
        }

        if (CoolAmqpTelemetry.SentMessages.Enabled)
        {
            CoolAmqpTelemetry.RecordSent(exchange, _connection);
        }

        completion = pending.AsValueTask(cancellationToken);
        return true;
    }

    /// <summary>Appends a publish in confirm mode, registered with the channel's tracker right before its frames.</summary>
    private bool TryAppendTracked(AmqpChannel channel, in BasicPublish method, in BasicProperties properties,
        ReadOnlySpan<byte> body, PendingConfirm pending)
    {
        ConfirmTracker? tracker = channel.Confirms;
        if (tracker is null)
        {
            return false;
        }

        var hook = new TrackHook(tracker, pending);
        try
        {
            return _connection.Writer.TryWritePublish(channel, in method, in properties, body, ref hook);
        }
        catch (InvalidOperationException)
        {
            // The tracker was failed between our check and the append: the channel is closing.
            return false;
        }
    }

    /// <summary>After the connection broke: how many plain publishes were appended and did not wholly reach the socket
    /// (lost without their callers knowing: their tasks completed at the append). 0 in confirm mode, where every such
    /// publish fails instead.</summary>
    public int CountUnsentAfterBreak() => _unsent?.CountUnsent(_connection.Writer.SentTotal) ?? 0;

    /// <summary>Closes the channel (graceful shutdown); unconfirmed publishes fail.</summary>
    public Task CloseAsync() => _channel.CloseAsync();

    // ---- channel events (read loop) ----

    void IChannelHandler.OnAck(AmqpChannel channel, ulong deliveryTag, bool multiple) =>
        TrackerOf(channel)?.Ack(deliveryTag, multiple);

    void IChannelHandler.OnNack(AmqpChannel channel, ulong deliveryTag, bool multiple) =>
        TrackerOf(channel)?.Nack(deliveryTag, multiple);

    void IChannelHandler.OnReturn(AmqpChannel channel, ReturnedMessage returned)
    {
        // In confirm mode the return is held until its publish's ack, which fails that publish (ConfirmTracker).
        // Without confirms nobody waits for the outcome: the log is the only place a return can go.
        if (TrackerOf(channel)?.Returned(returned) != true)
        {
            LogUnmatchedReturn(returned);
        }
    }

    void IChannelHandler.OnDelivery(AmqpChannel channel, in InboundDelivery delivery)
    {
    }

    void IChannelHandler.OnDelivery(AmqpChannel channel, DeliveryRecord record, long token) => record.End(token);

    void IChannelHandler.OnDeliveriesFlushed(AmqpChannel channel, long turn)
    {
    }

    void IChannelHandler.OnDeliveryRefused(AmqpChannel channel, RefusedDelivery refused)
    {
    }

    void IChannelHandler.OnBrokerCancel(AmqpChannel channel, string consumerTag)
    {
    }

    void IChannelHandler.OnClosed(AmqpChannel channel, Exception? reason)
    {
        _channel.Closed(channel);
        if (channel.Confirms is { } tracker)
        {
            Exception failure = reason ?? new ConnectionDeadException("The publisher channel was closed.");
            // Only a lost link leaves the outcome open: a channel error is the broker's answer.
            if (_republisher is null || failure is not ConnectionDeadException || !_republisher.Carry(tracker, failure))
            {
                tracker.FailAll(failure);
            }
        }

        if (reason is AmqpException error && !_confirms)
        {
            // Without confirms nobody is waiting; the log is the only place this can go.
            LogChannelError(_logger, error.ReplyCode, error.ReplyText);
        }
    }

    private ConfirmTracker? TrackerOf(AmqpChannel channel) => _channel.IsCurrent(channel) ? channel.Confirms : null;

    private void LogUnmatchedReturn(ReturnedMessage returned) =>
        LogUnmatchedReturn(_logger, returned.Exchange, returned.RoutingKey, returned.ReplyCode, returned.ReplyText);

    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning,
        Message = "basic.return for exchange '{Exchange}' routing key '{RoutingKey}' ({ReplyCode} {ReplyText}) matches no pending mandatory publish")]
    private static partial void LogUnmatchedReturn(ILogger logger, string exchange, string routingKey, ushort replyCode, string replyText);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning,
        Message = "The broker closed the publishing channel: {ReplyCode} {ReplyText}; publishes sent after the failing one were discarded by the broker")]
    private static partial void LogChannelError(ILogger logger, ushort replyCode, string replyText);

    private readonly struct UnsentHook : IPublishHook
    {
        private readonly UnsentPublishes _unsent;

        public UnsentHook(UnsentPublishes unsent) => _unsent = unsent;

        public void BeforeAppend()
        {
        }

        public void AfterAppend(long committedTotal, long sentTotal) => _unsent.Appended(committedTotal, sentTotal);
    }

    private readonly struct TrackHook : IPublishHook
    {
        private readonly ConfirmTracker _tracker;
        private readonly PendingConfirm _pending;

        public TrackHook(ConfirmTracker tracker, PendingConfirm pending)
        {
            _tracker = tracker;
            _pending = pending;
        }

        public void BeforeAppend() => _tracker.Add(_pending);

        public void AfterAppend(long committedTotal, long sentTotal)
        {
        }
    }
}
