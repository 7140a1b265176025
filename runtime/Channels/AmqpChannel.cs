using System;
using System.Buffers;
using System.Threading;
using System.Threading.Tasks;
using CoolAmqp.Connections;
using CoolAmqp.Framing;
using Microsoft.Extensions.Logging;

namespace CoolAmqp.Channels;

/// <summary>
/// One AMQP channel (one incarnation of a channel number: a reopened channel is a new object, so acks for
/// messages of an old incarnation fall on a closed object and are dropped instead of confusing the broker).
/// Synchronous methods go one at a time, and a response answers the one method waiting (spec section 4.2.6:
/// the broker answers in order). Content (deliver, return, get-ok) is reassembled here.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001:Types that own disposable fields should be disposable",
    Justification = "The SemaphoreSlim never creates its wait handle (only WaitAsync is used), so there is nothing to dispose.")]
internal sealed partial class AmqpChannel : IDeliveryAcknowledger
{
    private readonly object _sync = new();
    private readonly AmqpConnection _connection;
    private readonly IChannelHandler _handler;
    private readonly SemaphoreSlim _rpcGate = new(1, 1);
    private readonly object _settleSync = new();
    private readonly SettlementWindow _settlement = new();
    private readonly TaskCompletionSource<Exception?> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ChannelState _state = ChannelState.Opening;
    private PendingRpc? _pending;
    private Exception? _closeReason;
    private TaskCompletionSource? _flowResumed;
    private volatile bool _writable = true;

    public AmqpChannel(AmqpConnection connection, ushort id, IChannelHandler handler)
    {
        _connection = connection;
        Id = id;
        _handler = handler;
    }

    /// <summary>The channel number.</summary>
    public ushort Id { get; }

    /// <summary>The connection the channel lives on.</summary>
    public AmqpConnection Connection => _connection;

    /// <summary>The publisher confirms outstanding on this channel once it is in confirm mode (null otherwise): they
    /// live and fail with this channel incarnation.</summary>
    internal ConfirmTracker? Confirms { get; set; }

    /// <summary>How bodies of deliveries on this channel are received.</summary>
    public BodyReceiveMode BodyMode { get; set; } = BodyReceiveMode.Copied;

    /// <summary>Current state.</summary>
    public ChannelState State
    {
        get
        {
            lock (_sync)
            {
                return _state;
            }
        }
    }

    /// <summary>Whether frames may still be appended for this channel. Cleared under the writer lock
    /// (<see cref="FrameWriter.Seal"/>) before the channel number is freed.</summary>
    internal bool Writable
    {
        get => _writable;
        set => _writable = value;
    }

    /// <summary>Whether methods can be sent.</summary>
    public bool IsOpen => State == ChannelState.Open;

    /// <summary>Why the channel closed (null while open or when we closed it).</summary>
    public Exception? CloseReason
    {
        get
        {
            lock (_sync)
            {
                return _closeReason;
            }
        }
    }

    /// <summary>Completes when the channel has closed, with the reason (null when we closed it).</summary>
    public Task<Exception?> Closed => _closed.Task;

    /// <summary>Whether the broker allows content on this channel (channel.flow).</summary>
    public bool IsFlowActive => Volatile.Read(ref _flowResumed) is null;

    // ---- the state machine ----

    /// <summary>The one place the state changes (callers hold <see cref="_sync"/>).</summary>
    private bool TryTransitionLocked(ChannelState to)
    {
        bool allowed = to switch
        {
            ChannelState.Open => _state == ChannelState.Opening,
            ChannelState.Closing => _state is ChannelState.Opening or ChannelState.Open,
            ChannelState.Closed => _state != ChannelState.Closed,
            _ => false,
        };
        if (allowed)
        {
            _state = to;
        }

        return allowed;
    }

    // ---- sending ----

    /// <summary>Sends an asynchronous method (no response expected).</summary>
    /// <exception cref="AmqpException">The channel was closed by the broker.</exception>
    /// <exception cref="ConnectionDeadException">The channel or connection is closed.</exception>
    public void Send<T>(in T method)
        where T : struct, IAmqpMethod
    {
        ThrowIfNotUsable();
        _connection.Writer.WriteMethod(this, in method);
    }

    /// <summary>Sends a synchronous method and waits for its response (one of the expected command ids).</summary>
    /// <exception cref="AmqpException">The broker closed the channel in answer (a channel error).</exception>
    /// <exception cref="ConnectionDeadException">The connection broke, or the channel is closed.</exception>
    /// <param name="method">The method to send.</param>
    /// <param name="expected">Command id of the response.</param>
    /// <param name="alternative">Command id of another possible response (basic.get-empty), or 0.</param>
    /// <param name="cancellationToken">Stops waiting; the channel stays consistent (the late response is absorbed).</param>
    /// <param name="getNoAck">For basic.get: whether the message it returns needs no settling.</param>
    /// <exception cref="AmqpTimeoutException">No answer within the connection's RPC timeout (counted from the call,
    /// waiting for the channel's previous call included); the channel is then closed, so a late answer cannot be
    /// taken for the next call's.</exception>
    public async Task<RpcResponse> CallAsync<T>(T method, uint expected, uint alternative,
        CancellationToken cancellationToken, bool getNoAck = false)
        where T : struct, IAmqpMethod
    {
        TimeSpan timeout = _connection.RpcTimeout;
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        if (!await _rpcGate.WaitAsync(timeout, cancellationToken).ConfigureAwait(false))
        {
            throw new AmqpTimeoutException(
                $"{MethodNames.Get(method.CommandId)} on channel {Id} could not be sent within {Seconds(timeout)} s: the " +
                "channel's previous call got no answer.");
        }

        bool gateHandedOff = false;
        try
        {
            var pending = new PendingRpc(expected, alternative, getNoAck);
            lock (_sync)
            {
                if (_state is not (ChannelState.Opening or ChannelState.Open))
                {
                    throw ClosedException();
                }

                _pending = pending;
            }

            try
            {
                _connection.Writer.WriteMethod(this, in method);
            }
            catch
            {
                lock (_sync)
                {
                    _pending = null;
                }

                throw;
            }

            try
            {
                TimeSpan left = timeout == Timeout.InfiniteTimeSpan
                    ? timeout
                    : timeout - System.Diagnostics.Stopwatch.GetElapsedTime(started);
                return await pending.Task.WaitAsync(left > TimeSpan.Zero || left == Timeout.InfiniteTimeSpan ? left : TimeSpan.Zero,
                    cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException ex) when (!pending.Task.IsCompleted)
            {
                // The broker may still answer, or never: either way the channel cannot tell its answer from the next
                // call's, so it closes (callers waiting behind this one then see it closed, not a stale answer).
                _ = pending.Task.ContinueWith(static t => _ = t.Exception, CancellationToken.None,
                    TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                _ = CloseAsync().ContinueWith(static t => _ = t.Exception, CancellationToken.None,
                    TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                throw new AmqpTimeoutException(
                    $"The broker did not answer {MethodNames.Get(method.CommandId)} on channel {Id} within {Seconds(timeout)} s " +
                    "(it may still take effect); the channel was closed.", ex);
            }
            catch (OperationCanceledException) when (!pending.Task.IsCompleted)
            {
                // The response is still coming and must not be taken for the next call's: keep the gate until it
                // arrives (or the channel closes).
                gateHandedOff = true;
                // Nobody awaits it any more: its failure (the channel closing) is looked at here.
                _ = pending.Task.ContinueWith(static (t, gate) =>
                {
                    _ = t.Exception;
                    ((SemaphoreSlim)gate!).Release();
                }, _rpcGate, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                throw;
            }
        }
        finally
        {
            if (!gateHandedOff)
            {
                _rpcGate.Release();
            }
        }
    }

    private static string Seconds(TimeSpan timeout) =>
        timeout.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Sends channel.open and waits for open-ok.</summary>
    internal async Task OpenAsync(CancellationToken cancellationToken)
    {
        await CallAsync(new ChannelOpen(), ChannelOpenOk.CommandIdValue, 0, cancellationToken).ConfigureAwait(false);
        lock (_sync)
        {
            if (!TryTransitionLocked(ChannelState.Open))
            {
                throw ClosedException();
            }
        }
    }

    /// <summary>Closes the channel (channel.close, wait for close-ok). Idempotent.</summary>
    public async Task CloseAsync(CancellationToken cancellationToken = default)
    {
        bool send;
        lock (_sync)
        {
            send = TryTransitionLocked(ChannelState.Closing);
        }

        if (send)
        {
            _connection.Writer.Seal(this);
            try
            {
                _connection.Writer.WriteMethod(Id, new ChannelClose((ushort)ReplyCode.Success, "Closed by client", 0, 0));
            }
            catch (ConnectionDeadException ex)
            {
                Finish(ex, releaseNumber: false);
            }
        }

        await _closed.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Opening failed or was cancelled: close the channel if it got anywhere, free its number.</summary>
    internal void Abandon()
    {
        if (State != ChannelState.Closed)
        {
            _ = CloseAsync();
        }
    }

    /// <summary>Completes when the broker allows content again (channel.flow active=true).</summary>
    public Task WaitForFlowAsync(CancellationToken cancellationToken)
    {
        TaskCompletionSource? resumed = Volatile.Read(ref _flowResumed);
        return resumed is null ? Task.CompletedTask : resumed.Task.WaitAsync(cancellationToken);
    }

    private void ThrowIfNotUsable()
    {
        lock (_sync)
        {
            if (_state != ChannelState.Open)
            {
                throw ClosedException();
            }
        }
    }

    internal Exception ClosedException() => _closeReason switch
    {
        AmqpException or ConnectionDeadException => _closeReason,
        null => new ConnectionDeadException($"Channel {Id} is closed."),
        _ => new ConnectionDeadException($"Channel {Id} is closed: {_closeReason.Message}", _closeReason),
    };

    // ---- IDeliveryAcknowledger: acks for messages delivered on this incarnation ----

    /// <summary>A delivery (basic.deliver or basic.get-ok) with this tag arrived: it awaits settling unless no-ack.
    /// Called by the read loop in tag order.</summary>
    /// <exception cref="ProtocolViolationException">The tags of this channel span an impossible window.</exception>
    internal void TrackDelivery(ulong deliveryTag, bool needsSettling)
    {
        lock (_settleSync)
        {
            _settlement.Delivered(deliveryTag, needsSettling);
        }
    }

    /// <inheritdoc/>
    public bool Ack(ulong deliveryTag, bool multiple)
    {
        // The decision and the frame go together under one guard: a frame decided earlier must not leave after a
        // multiple-settle decided later that covers it (the broker would see that tag settled twice).
        lock (_settleSync)
        {
            if (multiple)
            {
                return _settlement.SettleUpTo(deliveryTag, out ulong highest) && SendIfOpen(new BasicAck(highest, multiple: true));
            }

            // At the lowest unsettled tag, multiple set settles this tag alone, and lets the writer merge a run of
            // in-order acks into one frame.
            bool lowest = deliveryTag == _settlement.Base;
            return _settlement.SettleOne(deliveryTag) && SendIfOpen(new BasicAck(deliveryTag, multiple: lowest));
        }
    }

    /// <inheritdoc/>
    public bool Nack(ulong deliveryTag, bool multiple, bool requeue)
    {
        lock (_settleSync)
        {
            return multiple
                ? _settlement.SettleUpTo(deliveryTag, out ulong highest) && SendIfOpen(new BasicNack(highest, multiple: true, requeue))
                : _settlement.SettleOne(deliveryTag) && SendIfOpen(new BasicNack(deliveryTag, multiple: false, requeue));
        }
    }

    /// <inheritdoc/>
    public bool Reject(ulong deliveryTag, bool requeue)
    {
        lock (_settleSync)
        {
            return _settlement.SettleOne(deliveryTag) && SendIfOpen(new BasicReject(deliveryTag, requeue));
        }
    }

    /// <summary>Sends a method if the channel is open. Acks after the channel closed are meaningless (the broker
    /// requeued the messages): dropped.</summary>
    /// <returns>Whether the frame was handed to the writer.</returns>
    private bool SendIfOpen<T>(in T method)
        where T : struct, IAmqpMethod
    {
        if (State != ChannelState.Open)
        {
            return false;
        }

        try
        {
            _connection.Writer.WriteMethod(this, in method);
            return true;
        }
        catch (Exception ex) when (ex is ConnectionDeadException or AmqpException)
        {
            // The channel closed meanwhile; the broker requeues what it had not been told about.
            return false;
        }
    }

    // ---- events from the read loop ----

    /// <summary>A response to the pending synchronous method.</summary>
    internal void CompleteRpc(in RpcResponse response)
    {
        PendingRpc? pending;
        lock (_sync)
        {
            pending = _pending;
            if (pending is null || !pending.Expects(response.CommandId))
            {
                throw new ProtocolViolationException(
                    $"The broker sent {MethodNames.Get(response.CommandId) ?? response.CommandId.ToString(System.Globalization.CultureInfo.InvariantCulture)} " +
                    $"on channel {Id}, which was not waiting for it.");
            }

            _pending = null;
        }

        pending.TrySetResult(response);
    }

    private bool PendingGetNoAck()
    {
        lock (_sync)
        {
            return _pending?.GetNoAck ?? false;
        }
    }

    /// <summary>channel.close from the broker: a channel error. Acknowledge it and fail what was waiting.</summary>
    internal void OnBrokerClose(ushort replyCode, string replyText, ushort classId, ushort methodId)
    {
        _connection.Writer.Seal(this);
        try
        {
            _connection.Writer.WriteMethod(Id, new ChannelCloseOk());
        }
        catch (ConnectionDeadException)
        {
            // The connection is going anyway.
        }

        var error = new AmqpException(replyCode, replyText, classId, methodId);
        LogClosedByBroker(_connection.Logger, Id, replyCode, replyText);
        Finish(error, releaseNumber: true);
    }

    internal void OnCloseOk()
    {
        lock (_sync)
        {
            if (_state != ChannelState.Closing)
            {
                throw new ProtocolViolationException($"The broker sent channel.close-ok on channel {Id}, which was not closing.");
            }
        }

        Finish(null, releaseNumber: true);
    }

    /// <summary>The connection ended: this channel ends with it.</summary>
    internal void OnConnectionBroken(Exception reason) => Finish(reason, releaseNumber: false);

    internal void OnFlow(bool active)
    {
        if (active)
        {
            Interlocked.Exchange(ref _flowResumed, null)?.TrySetResult();
        }
        else
        {
            Interlocked.CompareExchange(ref _flowResumed,
                new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), null);
        }

        _ = SendIfOpen(new ChannelFlowOk(active));
    }

    internal void OnAck(ulong deliveryTag, bool multiple) => _handler.OnAck(this, deliveryTag, multiple);

    internal void OnNack(ulong deliveryTag, bool multiple) => _handler.OnNack(this, deliveryTag, multiple);

    internal void OnBrokerCancel(string consumerTag, bool noWait)
    {
        if (!noWait)
        {
            _ = SendIfOpen(new BasicCancelOk(consumerTag));
        }

        _handler.OnBrokerCancel(this, consumerTag);
    }

    private void Finish(Exception? reason, bool releaseNumber)
    {
        PendingRpc? pending;
        TaskCompletionSource? flow;
        lock (_sync)
        {
            if (!TryTransitionLocked(ChannelState.Closed))
            {
                return;
            }

            _closeReason = reason;
            pending = _pending;
            _pending = null;
            flow = Interlocked.Exchange(ref _flowResumed, null);
        }

        if (releaseNumber)
        {
            _connection.Writer.Seal(this);
            _connection.ReleaseChannel(this);
        }
        else
        {
            _writable = false;
        }

        // A half-received message is left to the collector: the read loop may be inside it right now, and no
        // frame reaches this channel again once it is out of the table.
        // Deliveries handed out as pooled records end with their channel: the broker requeues the unsettled ones,
        // and their buffers go back.
        _records?.EndAll();
        Exception failure = reason ?? new ConnectionDeadException($"Channel {Id} was closed.");
        pending?.TrySetException(failure);
        if (flow is not null && flow.TrySetException(failure))
        {
            // Publishers waiting for flow get the failure; when none waits it must not resurface as unobserved.
            _ = flow.Task.Exception;
        }
        _closed.TrySetResult(reason);
        try
        {
            _handler.OnClosed(this, reason);
        }
#pragma warning disable CA1031 // A handler must not stop the teardown of the channel.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            AmqpConnection.LogCallbackFailed(_connection.Logger, "channel-closed handler", ex);
        }
    }

    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "Broker closed channel {Channel}: {ReplyCode} {ReplyText}")]
    private static partial void LogClosedByBroker(ILogger logger, ushort channel, ushort replyCode, string replyText);

    /// <summary>A synchronous method waiting for its response.</summary>
    private sealed class PendingRpc : TaskCompletionSource<RpcResponse>
    {
        private readonly uint _expected;
        private readonly uint _alternative;

        public PendingRpc(uint expected, uint alternative, bool getNoAck)
            : base(TaskCreationOptions.RunContinuationsAsynchronously)
        {
            _expected = expected;
            _alternative = alternative;
            GetNoAck = getNoAck;
        }

        public bool GetNoAck { get; }

        public bool Expects(uint commandId) => commandId == _expected || (_alternative != 0 && commandId == _alternative);
    }
}
