using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using CoolAmqp.Channels;
using CoolAmqp.Connections;
using CoolAmqp.Consuming;
using CoolAmqp.Framing;
using CoolAmqp.Telemetry;
using Microsoft.Extensions.Logging;

namespace CoolAmqp;

/// <summary>
/// Consumes one queue on a channel of its own (CoolAMQP's <c>Consumer</c>). Created by
/// <see cref="Cluster.Consume(Queue, ConsumerOptions)"/>; keep it — it is the only way to cancel.
/// </summary>
/// <remarks>
/// A synchronous callback runs on the thread that read its messages while it is quick, and on a thread of the
/// consumer's own once it held that thread long enough for another to take the reading over; async and concurrent
/// callbacks run on the thread pool. So a slow callback never stalls heartbeats, publishing or other consumers (the
/// README's Threads section has the details).
/// With <see cref="ConsumerOptions.NoAck"/> unset, bound the queue with <see cref="ConsumerOptions.PrefetchCount"/>.
/// </remarks>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001:Types that own disposable fields should be disposable",
    Justification = "The QoS SemaphoreSlim never creates its wait handle (only WaitAsync is used), and the stopping token source has no timer: nothing to dispose.")]
public sealed partial class Consumer : IChannelHandler
{
    private readonly object _sync = new();

    // Fires when the consumer ends, for any reason: the token OnMessageAsync callbacks get.
    private readonly CancellationTokenSource _stopping = new();
    private readonly Cluster _cluster;
    private readonly ConsumerOptions _options;
    private readonly ILogger _logger;
    private readonly Dispatcher _dispatcher;
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ConsumerState _state = ConsumerState.Syncing;
    private AmqpChannel? _channel;
    private AmqpConnection? _connection;
    private Task? _cancelling;
    private bool _everOnline;
    private string? _consumerTag;
    private QosSettings _qos;
    private readonly SemaphoreSlim _qosGate = new(1, 1);

    internal Consumer(Cluster cluster, Queue queue, ConsumerOptions options, ILogger logger)
    {
        if (options.MaxConcurrency < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.MaxConcurrency,
                "ConsumerOptions.MaxConcurrency must be at least 1.");
        }

        int callbacks = (options.OnMessage is null ? 0 : 1) + (options.OnMessageAsync is null ? 0 : 1) +
                        (options.OnDelivery is null ? 0 : 1);
        if (callbacks > 1)
        {
            throw new ArgumentException(
                "Set at most one of ConsumerOptions.OnMessage, ConsumerOptions.OnMessageAsync and ConsumerOptions.OnDelivery.",
                nameof(options));
        }

        if (options.OnDelivery is not null && options.MaxConcurrency != 1)
        {
            throw new ArgumentException(
                "ConsumerOptions.OnDelivery hands out one delivery at a time, in order: ConsumerOptions.MaxConcurrency must be 1.",
                nameof(options));
        }

        _cluster = cluster;
        Queue = queue;
        _qos = new QosSettings(options.PrefetchCount ?? 0, options.PrefetchSize);
        _options = options;
        _logger = logger;
        _dispatcher = Dispatcher.Create(this, cluster, logger, _stopping.Token);
    }

    /// <summary>Raised (on a thread-pool thread) when the consumer is cancelled for any reason.</summary>
    public event EventHandler? Cancelled;

    /// <summary>Raised (on a thread-pool thread) when the broker cancels the consumer (consumer cancel
    /// notification).</summary>
    public event EventHandler? BrokerCancelled;

    /// <summary>The queue consumed. For an anonymous queue, its name is the broker's once declared.</summary>
    public Queue Queue { get; }

    /// <summary>The options the consumer was created with.</summary>
    public ConsumerOptions Options => _options;

    /// <summary>Whether messages need no settling.</summary>
    public bool NoAck => _options.NoAck;

    /// <summary>The consumer tag the broker assigned (null before the consumer first went online).</summary>
    public string? ConsumerTag => Volatile.Read(ref _consumerTag);

    /// <summary>Where the consumer is in its life.</summary>
    public ConsumerState State
    {
        get
        {
            lock (_sync)
            {
                return _state;
            }
        }
    }

    /// <summary>Completes when the consumer first goes online; fails with the <see cref="AmqpException"/> or
    /// <see cref="ConnectionDeadException"/> that kept it from doing so (or <see cref="InvalidOperationException"/>
    /// when every channel number the broker allows is in use, <see cref="ArgumentException"/> when the queue name
    /// does not fit AMQP), or is cancelled by <see cref="CancelAsync"/>.</summary>
    public Task Ready => _ready.Task;

    /// <summary>The connection the consumer was last attached to (labels its process spans).</summary>
    internal AmqpConnection? Connection => _connection;

    // ---- the state machine ----

    /// <summary>The one place the state changes. Cancelled is terminal.</summary>
    private bool TryTransition(ConsumerState to)
    {
        lock (_sync)
        {
            if (_state == ConsumerState.Cancelled)
            {
                return false;
            }

            bool allowed = to switch
            {
                ConsumerState.Syncing => _state is ConsumerState.Offline or ConsumerState.Syncing,
                ConsumerState.Online => _state == ConsumerState.Syncing,
                ConsumerState.Offline => true,
                ConsumerState.Cancelled => true,
                _ => false,
            };
            if (allowed && _state != to)
            {
                LogConsumerStateChanged(_logger, Queue.Name, _state, to);
                _state = to;
            }

            return allowed;
        }
    }

    // ---- going online ----

    /// <summary>Starts consuming on <paramref name="connection"/> (called by the cluster when it has one).</summary>
    internal void Attach(AmqpConnection connection)
    {
        lock (_sync)
        {
            // The cluster may hand the same connection twice (a consumer created while it announces a new one).
            if (_state == ConsumerState.Cancelled ||
                (ReferenceEquals(_connection, connection) && _state is ConsumerState.Syncing or ConsumerState.Online))
            {
                return;
            }

            _connection = connection;
        }

        _ = Task.Run(() => SetUpAsync(connection));
    }

    private async Task SetUpAsync(AmqpConnection connection)
    {
        while (true)
        {
            if (!TryTransition(ConsumerState.Syncing))
            {
                return;
            }

            AmqpChannel? channel = null;
            try
            {
                channel = await connection.OpenChannelAsync(this, CancellationToken.None).ConfigureAwait(false);
                channel.BodyMode = _options.BodyReceiveMode;
                channel.DeliveriesNoAck = _options.NoAck;
                if (_options.OnDelivery is not null)
                {
                    channel.UseDeliveryRecords();
                }
                lock (_sync)
                {
                    if (_state == ConsumerState.Cancelled)
                    {
                        _ = channel.CloseAsync();
                        return;
                    }

                    _channel = channel;
                }

                await RegisterAsync(channel).ConfigureAwait(false);
                bool online;
                lock (_sync)
                {
                    online = ReferenceEquals(_channel, channel) && TryTransition(ConsumerState.Online);
                    _everOnline |= online;
                }

                if (online)
                {
                    LogOnline(_logger, Queue.Name, ConsumerTag ?? string.Empty, channel.Id);
                    _ready.TrySetResult();
                }

                return;
            }
            catch (AmqpException ex) when (ex.ReplyCode == (ushort)ReplyCode.ResourceLocked &&
                                           !(_options.FailOnFirstTimeResourceLocked && !_everOnline))
            {
                // Another connection holds the queue (or its exclusive consumer): keep trying, as CoolAMQP does.
                LogResourceLocked(_logger, Queue.Name, ex.ReplyText);
                TryTransition(ConsumerState.Offline);
                await Task.Delay(_cluster.Options.ResourceLockedRetryDelay).ConfigureAwait(false);
                if (!connection.IsOpen)
                {
                    return;
                }
            }
            catch (ConnectionDeadException ex)
            {
                // The connection is gone; it is the cluster's to recover, and ours to be told again.
                lock (_sync)
                {
                    if (!ReferenceEquals(_connection, connection))
                    {
                        // Attached to a newer connection meanwhile: that set-up decides.
                        return;
                    }
                }

                if (_options.CancelOnFailure)
                {
                    _ = CancelCoreAsync(CancelCause.ConnectionLost, ex);
                }
                else
                {
                    TryTransition(ConsumerState.Offline);
                    _ready.TrySetException(ex);
                }

                return;
            }
#pragma warning disable CA1031 // Anything else (a channel error, no free channel number) must still reach the ready task.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                LogSetUpFailed(_logger, Queue.Name, ex.Message, ex);
                _ = CancelCoreAsync(CancelCause.SetUpFailed, ex);
                return;
            }
        }
    }

    /// <summary>basic.qos, queue.declare (and bind), basic.consume.</summary>
    private async Task RegisterAsync(AmqpChannel channel)
    {
        QosSettings qos = Volatile.Read(ref _qos);
        if (qos.PrefetchCount > 0 || qos.PrefetchSize > 0)
        {
            await channel.CallAsync(new BasicQos(qos.PrefetchSize, qos.PrefetchCount, false),
                BasicQosOk.CommandIdValue, 0, CancellationToken.None).ConfigureAwait(false);
        }

        if (_options.DeclareQueue)
        {
            await Cluster.DeclareQueueOnAsync(channel, Queue, passive: false, CancellationToken.None).ConfigureAwait(false);
        }

        RpcResponse ok = await channel.CallAsync(
            new BasicConsume(Queue.Name, string.Empty, false, _options.NoAck, _options.Exclusive, false, _options.Arguments),
            BasicConsumeOk.CommandIdValue, 0, CancellationToken.None).ConfigureAwait(false);
        Volatile.Write(ref _consumerTag, ok.Name);
    }

    // ---- cancelling ----

    /// <summary>Cancels the consumer (basic.cancel, then closes its channel). Idempotent: later calls return the
    /// same task. Messages already received are still handed to the callback; settling them does nothing once the
    /// channel is closed (the broker requeues unacknowledged ones).</summary>
    public Task CancelAsync(CancellationToken cancellationToken = default)
    {
        Task cancelling = CancelCoreAsync(CancelCause.Application, null);
        return cancellationToken.CanBeCanceled ? cancelling.WaitAsync(cancellationToken) : cancelling;
    }

    /// <summary>Why a consumer ends; every route to <see cref="ConsumerState.Cancelled"/> goes through
    /// <see cref="CancelCoreAsync"/> with one of these.</summary>
    private enum CancelCause
    {
        /// <summary><see cref="CancelAsync"/>: basic.cancel, then close the channel.</summary>
        Application,

        /// <summary>The broker cancelled the consumer (its queue was deleted, ...).</summary>
        Broker,

        /// <summary>Going online failed in a way that is not retried (a channel error, no channel number).</summary>
        SetUpFailed,

        /// <summary>The connection was lost and <see cref="ConsumerOptions.CancelOnFailure"/> is set.</summary>
        ConnectionLost,

        /// <summary>The cluster shut down.</summary>
        Shutdown,
    }

    /// <summary>The one way to <see cref="ConsumerState.Cancelled"/>: the first call decides the cause, later calls
    /// get the same task.</summary>
    private Task CancelCoreAsync(CancelCause cause, Exception? error)
    {
        lock (_sync)
        {
            return _cancelling ??= CancelOnceAsync(cause, error);
        }
    }

    private async Task CancelOnceAsync(CancelCause cause, Exception? error)
    {
        await Task.Yield();
        _stopping.Cancel();
        AmqpChannel? channel;
        lock (_sync)
        {
            channel = _channel;
            _channel = null;
        }

        TryTransition(ConsumerState.Cancelled);
        if (channel is not null && channel.IsOpen)
        {
            try
            {
                if (cause == CancelCause.Application && ConsumerTag is { } tag)
                {
                    await channel.CallAsync(new BasicCancel(tag, false), BasicCancelOk.CommandIdValue, 0,
                        CancellationToken.None).ConfigureAwait(false);
                }

                await channel.CloseAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is AmqpException or ConnectionDeadException)
            {
                // Cancelling a consumer always succeeds in the end: a dead channel has no consumer either.
                LogCancelIncomplete(_logger, Queue.Name, ex.Message);
            }
        }

        if (cause == CancelCause.Shutdown)
        {
            error ??= new ConnectionDeadException("The cluster was shut down.");
        }

        if (error is null)
        {
            _ready.TrySetCanceled();
        }
        else
        {
            _ready.TrySetException(error);
        }

        // A reader of ReadAllAsync learns why the stream ended when it ended by failure.
        _dispatcher.Complete(cause is CancelCause.SetUpFailed or CancelCause.ConnectionLost ? error : null);
        _cluster.Forget(this);
        if (cause == CancelCause.Broker)
        {
            Invoke(_options.OnBrokerCancel, nameof(ConsumerOptions.OnBrokerCancel));
            RaiseEvent(BrokerCancelled, nameof(BrokerCancelled));
            _cluster.PostEvent(new ConsumerCancelledByBroker(this, Queue.Name));
        }

        Invoke(_options.OnCancel, nameof(ConsumerOptions.OnCancel));
        RaiseEvent(Cancelled, nameof(Cancelled));
    }

    // ---- QoS ----

    /// <summary>Sets a new prefetch window for this consumer, effective at once: RabbitMQ applies a per-consumer
    /// basic.qos only to consumers created after it, so the consumer re-registers on its own channel (basic.qos and
    /// basic.consume, then basic.cancel of the old registration; an exclusive consumer cancels first). Its
    /// <see cref="ConsumerTag"/> changes. Messages received before are still valid to settle and do not count
    /// towards the new window. The setting is kept when the consumer is re-established. (A channel-wide limit,
    /// basic.qos global, would change in place, but quorum queues refuse it.)</summary>
    /// <param name="prefetchCount">At most this many unacknowledged messages in flight; 0 for no limit.</param>
    /// <param name="prefetchSize">Prefetch window in octets; 0 for no limit (RabbitMQ supports only 0).</param>
    /// <param name="cancellationToken">Stops waiting (the change may still take effect).</param>
    /// <exception cref="InvalidOperationException">The consumer is not online, or is the exclusive consumer of an
    /// auto-delete queue.</exception>
    /// <exception cref="AmqpException">The broker refused the change (the consumer's channel is re-established).</exception>
    /// <exception cref="ConnectionDeadException">The connection broke meanwhile.</exception>
    public async Task SetQosAsync(ushort prefetchCount, uint prefetchSize = 0, CancellationToken cancellationToken = default)
    {
        await _qosGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            AmqpChannel channel;
            string tag;
            lock (_sync)
            {
                (channel, tag) = _state == ConsumerState.Online && _channel is { } c && _consumerTag is { } t
                    ? (c, t)
                    : throw new InvalidOperationException($"The consumer of '{Queue.Name}' is {_state}; QoS can be set only while it is online.");
                if (_options.Exclusive && Queue.AutoDelete)
                {
                    throw new InvalidOperationException(
                        $"The exclusive consumer of auto-delete queue '{Queue.Name}' cannot change its QoS: it would have to leave the queue for a moment, which deletes it.");
                }

                _qos = new QosSettings(prefetchCount, prefetchSize);
            }

            // The new registration first, then the old one goes: the queue always has this consumer (an
            // auto-delete queue would go with its last one, and another consumer could take the gap). An exclusive
            // consumer cannot have a second one beside it, so it leaves first.
            if (_options.Exclusive)
            {
                await channel.CallAsync(new BasicCancel(tag, false), BasicCancelOk.CommandIdValue, 0, CancellationToken.None)
                    .ConfigureAwait(false);
            }

            await channel.CallAsync(new BasicQos(prefetchSize, prefetchCount, false), BasicQosOk.CommandIdValue, 0,
                CancellationToken.None).ConfigureAwait(false);
            RpcResponse ok = await channel.CallAsync(
                new BasicConsume(Queue.Name, string.Empty, false, _options.NoAck, _options.Exclusive, false, _options.Arguments),
                BasicConsumeOk.CommandIdValue, 0, CancellationToken.None).ConfigureAwait(false);
            Volatile.Write(ref _consumerTag, ok.Name);
            if (!_options.Exclusive)
            {
                await channel.CallAsync(new BasicCancel(tag, false), BasicCancelOk.CommandIdValue, 0, CancellationToken.None)
                    .ConfigureAwait(false);
            }
        }
        finally
        {
            _qosGate.Release();
        }
    }

    // ---- messages ----

    /// <summary>The messages of a consumer created with <see cref="ConsumerOptions.ReadFromConsumer"/>, in
    /// order; ends when the consumer is cancelled.</summary>
    /// <exception cref="InvalidOperationException">The consumer has a callback, or sends its messages to the
    /// cluster's events.</exception>
    public IAsyncEnumerable<ReceivedMessage> ReadAllAsync(CancellationToken cancellationToken = default)
    {
        return _dispatcher is StreamDispatcher stream
            ? stream.ReadAllAsync(cancellationToken)
            : throw new InvalidOperationException(
                "Only a consumer created with ConsumerOptions.ReadFromConsumer and no callback can be read from.");
    }

    // ---- channel events (read loop) ----

    void IChannelHandler.OnDelivery(AmqpChannel channel, in InboundDelivery delivery)
    {
        var message = new ReceivedMessage(in delivery);
        if (CoolAmqpTelemetry.ConsumedMessages.Enabled)
        {
            CoolAmqpTelemetry.RecordConsumed("deliver", message.Exchange, Queue.Name, _connection?.Settings.Host);
        }

        if (!_dispatcher.TryEnqueue(message))
        {
            // Cancelled: nobody will read it. Unsettled, it goes back to the queue with the channel.
            message.Dispose();
        }
    }

    void IChannelHandler.OnDelivery(AmqpChannel channel, DeliveryRecord record, long token)
    {
        if (CoolAmqpTelemetry.ConsumedMessages.Enabled)
        {
            CoolAmqpTelemetry.RecordConsumed("deliver", new Delivery(record, token).Exchange, Queue.Name,
                _connection?.Settings.Host);
        }

        if (!_dispatcher.TryEnqueue(record, token))
        {
            // Cancelled: nobody will read it. Unsettled, it goes back to the queue with the channel.
            record.End(token);
        }
    }

    void IChannelHandler.OnDeliveryRefused(AmqpChannel channel, RefusedDelivery refused)
    {
        var refusal = new DeliveryRefused(this, refused.DeliveryTag, refused.Redelivered, refused.Exchange,
            refused.RoutingKey, refused.Rejected, refused.Error);
        _cluster.PostEvent(refusal);
        if (_options.OnDeliveryRefused is { } callback)
        {
            // User code stays off the read loop.
            _cluster.RunCallback(state => callback((DeliveryRefused)state!), refusal, nameof(ConsumerOptions.OnDeliveryRefused));
        }
    }

    void IChannelHandler.OnDeliveriesFlushed(AmqpChannel channel, long turn) =>
        _dispatcher.OnBatchEnd(channel.Connection.Reading, turn);

    void IChannelHandler.OnBrokerCancel(AmqpChannel channel, string consumerTag)
    {
        if (consumerTag != ConsumerTag)
        {
            // A tag this consumer gave up (SetQosAsync re-registered it).
            return;
        }

        LogBrokerCancel(_logger, Queue.Name, consumerTag);
        _ = CancelCoreAsync(CancelCause.Broker, null);
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

    void IChannelHandler.OnClosed(AmqpChannel channel, Exception? reason)
    {
        bool wasOnline;
        AmqpConnection? connection;
        lock (_sync)
        {
            if (!ReferenceEquals(_channel, channel))
            {
                return;
            }

            _channel = null;
            wasOnline = _state == ConsumerState.Online;
            connection = _connection;
        }

        if (!wasOnline)
        {
            // Mid set-up: the failing call reports it.
            return;
        }

        if (reason is AmqpException error && connection is { IsOpen: true })
        {
            // A channel error under a running consumer (e.g. an ack with a stale tag): consume again on a new one.
            LogChannelLost(_logger, Queue.Name, error.Message);
            TryTransition(ConsumerState.Offline);
            Attach(connection);
        }
        else if (_options.CancelOnFailure)
        {
            _ = CancelCoreAsync(CancelCause.ConnectionLost, reason ?? new ConnectionDeadException("The consumer's channel closed."));
        }
        else
        {
            TryTransition(ConsumerState.Offline);
        }
    }

    /// <summary>The cluster is shutting down: end message streams and dispatch.</summary>
    internal Task OnShutdownAsync() => CancelCoreAsync(CancelCause.Shutdown, null);

    /// <summary>The cluster gave up reconnecting: the consumer cannot come back.</summary>
    internal Task OnClusterFailedAsync(Exception reason) => CancelCoreAsync(CancelCause.ConnectionLost, reason);

    private void Invoke(Action<Consumer>? callback, string name)
    {
        if (callback is null)
        {
            return;
        }

        try
        {
            callback(this);
        }
#pragma warning disable CA1031 // User code.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            AmqpConnection.LogCallbackFailed(_logger, name, ex);
        }
    }

    private void RaiseEvent(EventHandler? handler, string name)
    {
        if (handler is null)
        {
            return;
        }

        try
        {
            handler(this, EventArgs.Empty);
        }
#pragma warning disable CA1031 // User code.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            AmqpConnection.LogCallbackFailed(_logger, name, ex);
        }
    }

    /// <inheritdoc/>
    public override string ToString() => $"Consumer('{Queue.Name}', {State}{(NoAck ? ", no-ack" : string.Empty)})";

    [LoggerMessage(EventId = 4001, Level = LogLevel.Debug, Message = "Consumer of '{Queue}': {From} -> {To}")]
    private static partial void LogConsumerStateChanged(ILogger logger, string queue, ConsumerState from, ConsumerState to);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Debug, Message = "Consumer of '{Queue}' is online as '{ConsumerTag}' on channel {Channel}")]
    private static partial void LogOnline(ILogger logger, string queue, string consumerTag, ushort channel);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Information, Message = "Consumer of '{Queue}' met RESOURCE_LOCKED ({ReplyText}); retrying")]
    private static partial void LogResourceLocked(ILogger logger, string queue, string replyText);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Warning, Message = "Consumer of '{Queue}' could not start: {Reason}")]
    private static partial void LogSetUpFailed(ILogger logger, string queue, string reason, Exception exception);

    [LoggerMessage(EventId = 4005, Level = LogLevel.Information, Message = "Consumer of '{Queue}' cancelled with an incomplete handshake: {Reason}")]
    private static partial void LogCancelIncomplete(ILogger logger, string queue, string reason);

    [LoggerMessage(EventId = 4007, Level = LogLevel.Warning, Message = "The broker cancelled the consumer '{ConsumerTag}' of '{Queue}'")]
    private static partial void LogBrokerCancel(ILogger logger, string queue, string consumerTag);

    [LoggerMessage(EventId = 4008, Level = LogLevel.Warning, Message = "The channel of the consumer of '{Queue}' was closed by the broker ({Reason}); consuming again")]
    private static partial void LogChannelLost(ILogger logger, string queue, string reason);

    /// <summary>The prefetch window the consumer registers with (changed by <see cref="SetQosAsync"/>).</summary>
    private sealed record QosSettings(ushort PrefetchCount, uint PrefetchSize);
}
