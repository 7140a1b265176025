using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using CoolAmqp.Connections;
using Microsoft.Extensions.Logging;

namespace CoolAmqp.Recovery;

/// <summary>What the supervisor tells the cluster it works for.</summary>
internal interface ISupervisorOwner
{
    /// <summary>A connection opened (the first, or one after a loss, its topology restored): consumers may attach.</summary>
    void OnConnected(Session session);

    /// <summary>An established connection was lost (not on shutdown, not a failed start).</summary>
    void OnConnectionLost(Exception reason);

    /// <summary>Recovery gave up (<see cref="RecoveryOptions.MaxAttempts"/>) or is off: the cluster is dead for good.</summary>
    void OnGaveUp(Exception reason);

    /// <summary>The broker blocked publishing on the connection (with its reason) or unblocked it (null).</summary>
    void OnBlockedChanged(NodeDefinition node, string? reason);

    /// <summary>Reports an event to the application.</summary>
    void Post(ClusterEvent clusterEvent);

    /// <summary>Publishes again what a lost connection left unconfirmed; null when
    /// <see cref="RecoveryOptions.RepublishUnconfirmed"/> is off.</summary>
    Republisher? Republisher { get; }
}

/// <summary>
/// The cluster's connection life: which node, when to retry, what to restore. It opens one
/// <see cref="AmqpConnection"/> at a time, and after an unplanned loss connects again (the next node, exponential
/// backoff with jitter, <see cref="RecoveryOptions"/>), declares the recorded <see cref="Topology"/> again and only then
/// hands out the new <see cref="Session"/>. A connection knows nothing of this: it has one life and one break path.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001:Types that own disposable fields should be disposable",
    Justification = "The stopping token source has no timer; it is cancelled at shutdown and needs no disposal.")]
internal sealed partial class ConnectionSupervisor
{
    private readonly object _sync = new();
    private readonly NodeDefinition[] _nodes;
    private readonly ClusterOptions _options;
    private readonly RecoveryOptions _recovery;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly ISupervisorOwner _owner;
    private readonly CancellationTokenSource _stopping = new();
    private SupervisorState _state = SupervisorState.Created;
    private Session? _session;
    private TaskCompletionSource _connected = NewConnectedSignal();
    private Exception? _failure;
    private Task? _shutdown;
    private int _nodeIndex;

    public ConnectionSupervisor(IReadOnlyList<NodeDefinition> nodes, ClusterOptions options, ILoggerFactory loggerFactory,
        ISupervisorOwner owner)
    {
        _nodes = [.. nodes];
        if (options.Recovery.ShuffleNodes)
        {
            Random.Shared.Shuffle(_nodes);
        }

        _options = options;
        _recovery = options.Recovery;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<ConnectionSupervisor>();
        _owner = owner;
        Credentials = new CredentialsKeeper(options.CredentialsProvider, loggerFactory.CreateLogger<CredentialsKeeper>());
    }

    /// <summary>Which credentials each connection logs in with, and their refresh.</summary>
    public CredentialsKeeper Credentials { get; }

    /// <summary>Where the cluster's connection life is.</summary>
    public enum SupervisorState
    {
        /// <summary>StartAsync not called yet.</summary>
        Created,

        /// <summary>The first connection is being made.</summary>
        Connecting,

        /// <summary>A connection is open (or just broke, and the supervisor has not heard yet).</summary>
        Connected,

        /// <summary>The connection was lost; attempts to connect again are under way.</summary>
        Reconnecting,

        /// <summary>ShutdownAsync is closing the connection.</summary>
        ShuttingDown,

        /// <summary>Shut down: final.</summary>
        ShutDown,

        /// <summary>The start failed, or the connection was lost and recovery is off or gave up: final.</summary>
        Failed,
    }

    /// <summary>What was declared with <c>persistent: true</c>.</summary>
    public Topology Topology { get; } = new();

    /// <summary>The nodes, in the order they are tried.</summary>
    public IReadOnlyList<NodeDefinition> Nodes => _nodes;

    /// <summary>The current session (its connection may have just broken), or null before the first connection.</summary>
    public Session? Session => Volatile.Read(ref _session);

    public SupervisorState State
    {
        get
        {
            lock (_sync)
            {
                return _state;
            }
        }
    }

    private static TaskCompletionSource NewConnectedSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The one place the state changes (callers hold <see cref="_sync"/>).</summary>
    private bool TryTransitionLocked(SupervisorState to)
    {
        SupervisorState from = _state;
        bool allowed = to switch
        {
            SupervisorState.Connecting => from == SupervisorState.Created,
            SupervisorState.Connected => from is SupervisorState.Connecting or SupervisorState.Reconnecting,
            SupervisorState.Reconnecting => from == SupervisorState.Connected,
            SupervisorState.ShuttingDown => from is not (SupervisorState.Created or SupervisorState.ShuttingDown or SupervisorState.ShutDown),
            SupervisorState.ShutDown => from is SupervisorState.ShuttingDown or SupervisorState.Created,
            SupervisorState.Failed => from is SupervisorState.Connecting or SupervisorState.Connected or SupervisorState.Reconnecting,
            _ => false,
        };
        if (allowed)
        {
            _state = to;
            LogStateChanged(_logger, from, to);
        }

        return allowed;
    }

    // ---- the first connection ----

    /// <summary>Connects to the first node that answers, trying each in turn.</summary>
    /// <param name="timeout">For the whole start, or null for each node's own connection timeout.</param>
    /// <param name="cancellationToken">Stops trying.</param>
    public async Task StartAsync(TimeSpan? timeout, CancellationToken cancellationToken)
    {
        lock (_sync)
        {
            if (!TryTransitionLocked(SupervisorState.Connecting))
            {
                throw new InvalidOperationException("StartAsync was already called on this cluster.");
            }
        }

        using var overall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token);
        if (timeout is { } t)
        {
            overall.CancelAfter(t);
        }

        var failures = new List<NodeConnectFailure>();
        for (int i = 0; i < _nodes.Length; i++)
        {
            NodeDefinition node = _nodes[i];
            Session session;
            try
            {
                session = await ConnectOnceAsync(node, node.ConnectionTimeout, overall.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested && !_stopping.IsCancellationRequested)
            {
                LogNodeFailed(_logger, node.Host, node.Port, ex.Message);
                failures.Add(new NodeConnectFailure(node, ex));
                continue;
            }
            catch (Exception ex)
            {
                Fail(ex);
                cancellationToken.ThrowIfCancellationRequested();
                throw new ConnectionDeadException("The cluster was shut down while connecting.", ex);
            }

            lock (_sync)
            {
                if (!TryTransitionLocked(SupervisorState.Connected))
                {
                    // Shut down while connecting.
                    _ = session.Connection.CloseAsync(_options.ShutdownTimeout);
                    throw new ConnectionDeadException("The cluster was shut down while connecting.");
                }

                _nodeIndex = i;
                Volatile.Write(ref _session, session);
            }

            _owner.OnConnected(session);
            _connected.TrySetResult();
            return;
        }

        // One node: its own error (AuthenticationFailedException, AmqpException for a vhost, ...); several: each named.
        Exception error = failures.Count == 1 ? failures[0].Error : ConnectFailure(failures);
        Fail(error);
        throw error;
    }

    private static ConnectionDeadException ConnectFailure(List<NodeConnectFailure> failures)
    {
        var text = new StringBuilder("Could not connect to any of the ")
            .Append(failures.Count.ToString(CultureInfo.InvariantCulture)).Append(" nodes:");
        foreach (NodeConnectFailure failure in failures)
        {
            text.Append(' ').Append(failure.Node.Host).Append(':')
                .Append(failure.Node.Port.ToString(CultureInfo.InvariantCulture)).Append(" (")
                .Append(failure.Error.Message).Append(");");
        }

        return new ConnectionDeadException(text.ToString(0, text.Length - 1) + ".", failures);
    }

    /// <summary>The start failed: final. Operations waiting for it get the error; the caller of StartAsync got it
    /// already, so it is marked observed (it would resurface as an unobserved task exception otherwise).</summary>
    private void Fail(Exception error)
    {
        TaskCompletionSource connected;
        lock (_sync)
        {
            TryTransitionLocked(SupervisorState.Failed);
            _failure ??= error;
            connected = _connected;
        }

        if (connected.TrySetException(error))
        {
            _ = connected.Task.Exception;
        }
    }

    private static ConnectionSettings SettingsFor(NodeDefinition node, AmqpCredentials credentials, ClusterOptions options) => new()
    {
        Host = node.Host,
        Port = node.Port,
        VirtualHost = node.VirtualHost,
        User = credentials.User,
        Password = credentials.Secret,
        AuthMechanisms = node.AuthMechanisms,
        ChannelMax = node.ChannelMax,
        FrameMax = node.FrameMax,
        Heartbeat = node.Heartbeat,
        Tls = node.Tls,
        ConnectionName = options.Name,
        ExtraProperties = options.ExtraProperties,
        FrameTracer = options.FrameTracer,
        RpcTimeout = options.RpcTimeout,
        BlockedPublishTimeout = options.BlockedPublishTimeout,
        Limits = options.Limits,
    };

    private async Task<Session> ConnectOnceAsync(NodeDefinition node, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        AmqpCredentials credentials;
        try
        {
            credentials = await Credentials.ForConnectAsync(node, deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ConnectionDeadException(
                $"The credentials provider did not answer for {node.Host}:{node.Port} within the connection timeout.", ex);
        }

        var connection = new AmqpConnection(SettingsFor(node, credentials, _options),
            _loggerFactory.CreateLogger<AmqpConnection>());
        connection.Terminated += OnTerminated;
        connection.BlockedChanged += (_, reason) => _owner.OnBlockedChanged(node, reason);
        await connection.ConnectAsync(deadline.Token).ConfigureAwait(false);
        Credentials.Watch(node, connection, credentials);
        return new Session(node, connection, _loggerFactory.CreateLogger<Publisher>(), _owner.Republisher);
    }

    // ---- losing it, and coming back ----

    private void OnTerminated(AmqpConnection connection, Exception reason, bool graceful)
    {
        bool reconnect;
        lock (_sync)
        {
            // Only the connection in use matters: a failed attempt, or one closed by shutdown, is reported elsewhere.
            if (graceful || !ReferenceEquals(_session?.Connection, connection) || _state != SupervisorState.Connected)
            {
                return;
            }

            reconnect = _recovery.Enabled && TryTransitionLocked(SupervisorState.Reconnecting);
            if (reconnect)
            {
                _connected = NewConnectedSignal();
            }
            else
            {
                TryTransitionLocked(SupervisorState.Failed);
                _failure = AmqpConnection.AsChannelFailure(reason);
                _connected = NewConnectedSignal();
                _connected.TrySetException(_failure);
                _ = _connected.Task.Exception;
            }
        }

        _owner.OnConnectionLost(reason);
        Session lost = _session!;
        int unsent = lost.Plain.CountUnsentAfterBreak();
        if (unsent > 0)
        {
            LogPlainPublishesUnsent(_logger, unsent, lost.Node.Host);
            _owner.Post(new PlainPublishesUnsent(lost.Node, unsent));
        }
        if (reconnect)
        {
            _ = Task.Run(() => ReconnectLoopAsync(Stopwatch.GetTimestamp()));
        }
        else
        {
            _owner.OnGaveUp(_failure!);
        }
    }

    private async Task ReconnectLoopAsync(long lostAt)
    {
        TimeSpan delay = _recovery.InitialDelay;
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                await Task.Delay(Jittered(delay), _stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            int index;
            lock (_sync)
            {
                index = (_nodeIndex + attempt) % _nodes.Length;
            }

            NodeDefinition node = _nodes[index];
            Session? session = null;
            try
            {
                session = await ConnectOnceAsync(node, node.ConnectionTimeout, _stopping.Token).ConfigureAwait(false);
                await Topology.RestoreAsync(session.Rpc, _recovery.StepTimeout,
                    (what, error) =>
                    {
                        LogRecoveryStepFailed(_logger, what, error.Message);
                        _owner.Post(new TopologyRecoveryFailed(what, error));
                    },
                    (queue, oldName) => _owner.Post(new QueueRenamed(queue, oldName)),
                    _stopping.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (!_stopping.IsCancellationRequested)
            {
                session?.Connection.Break(ex);
                bool giveUp = _recovery.MaxAttempts is { } max && attempt >= max;
                TimeSpan next = Min(TimeSpan.FromTicks((long)(delay.Ticks * _recovery.BackoffMultiplier)), _recovery.MaxDelay);
                LogReconnectFailed(_logger, attempt, node.Host, node.Port, ex.Message);
                _owner.Post(new ReconnectFailed(node, attempt, ex, giveUp ? null : next));
                if (giveUp)
                {
                    GiveUp(new ConnectionDeadException(
                        $"The connection was lost and {attempt} attempts to connect again failed; the last: {ex.Message}", ex));
                    return;
                }

                delay = next;
                continue;
            }
            catch (Exception)
            {
                // Shut down meanwhile.
                session?.Connection.Break(new ConnectionDeadException("The cluster was shut down."));
                return;
            }

            TaskCompletionSource connected;
            lock (_sync)
            {
                if (!TryTransitionLocked(SupervisorState.Connected))
                {
                    _ = session.Connection.CloseAsync(_options.ShutdownTimeout);
                    return;
                }

                _nodeIndex = index;
                Volatile.Write(ref _session, session);
                connected = _connected;
            }

            TimeSpan downtime = Stopwatch.GetElapsedTime(lostAt);
            LogReconnected(_logger, node.Host, node.Port, attempt, downtime.TotalMilliseconds);
            Telemetry.CoolAmqpTelemetry.RecordReconnect(node.Host);
            _owner.OnConnected(session);
            connected.TrySetResult();
            _owner.Post(new Reconnected(node, attempt, downtime));
            return;
        }
    }

    private void GiveUp(Exception reason)
    {
        TaskCompletionSource connected;
        lock (_sync)
        {
            if (!TryTransitionLocked(SupervisorState.Failed))
            {
                return;
            }

            _failure = reason;
            connected = _connected;
        }

        if (connected.TrySetException(reason))
        {
            _ = connected.Task.Exception;
        }

        _owner.OnGaveUp(reason);
    }

    private TimeSpan Jittered(TimeSpan delay)
    {
        double factor = 1 + ((Random.Shared.NextDouble() * 2) - 1) * _recovery.Jitter;
        return TimeSpan.FromTicks(Math.Max(0, (long)(delay.Ticks * factor)));
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    // ---- using it ----

    /// <summary>The open session; waits for one while the cluster connects or reconnects, up to
    /// <see cref="RecoveryOptions.ConnectionWaitTimeout"/>.</summary>
    public ValueTask<Session> GetSessionAsync(CancellationToken cancellationToken) =>
        GetSessionAsync(Stopwatch.GetTimestamp(), cancellationToken);

    /// <summary>The open session, waiting for one until <see cref="RecoveryOptions.ConnectionWaitTimeout"/> after
    /// <paramref name="waitStarted"/> (a <see cref="Stopwatch"/> timestamp: an operation that waits again after a
    /// second loss does not get a second full wait).</summary>
    public ValueTask<Session> GetSessionAsync(long waitStarted, CancellationToken cancellationToken)
    {
        Session? session = Volatile.Read(ref _session);
        if (session is not null && session.Connection.IsOpen)
        {
            return new ValueTask<Session>(session);
        }

        return new ValueTask<Session>(WaitForSessionAsync(waitStarted, cancellationToken));
    }

    /// <summary>Whether an operation that lost its connection can wait for the next one: recovery is on and the
    /// cluster has neither been shut down nor given up.</summary>
    public bool WillReconnect
    {
        get
        {
            SupervisorState state = State;
            return _recovery.Enabled && state is (SupervisorState.Connected or SupervisorState.Reconnecting or SupervisorState.Connecting);
        }
    }

    private async Task<Session> WaitForSessionAsync(long started, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task connected;
            lock (_sync)
            {
                switch (_state)
                {
                    case SupervisorState.Created:
                        throw new InvalidOperationException("Call StartAsync before using the cluster.");
                    case SupervisorState.ShuttingDown or SupervisorState.ShutDown:
                        throw new ConnectionDeadException("The cluster was shut down.");
                }

                if (_session is { } current && current.Connection.IsOpen)
                {
                    return current;
                }

                connected = _connected.Task;
            }

            TimeSpan left = _recovery.ConnectionWaitTimeout == Timeout.InfiniteTimeSpan
                ? Timeout.InfiniteTimeSpan
                : _recovery.ConnectionWaitTimeout - Stopwatch.GetElapsedTime(started);
            try
            {
                await connected.WaitAsync(left > TimeSpan.Zero || left == Timeout.InfiniteTimeSpan ? left : TimeSpan.Zero,
                    cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException ex)
            {
                throw new ConnectionDeadException(
                    $"No connection to the broker within {_recovery.ConnectionWaitTimeout.TotalSeconds:0.#} s (the cluster is reconnecting).", ex);
            }
        }
    }

    // ---- shutting down ----

    /// <summary>Stops recovery and closes the connection (once; later calls get the same task).</summary>
    /// <param name="consumersDone">Runs after the connection closed, before the state is final.</param>
    public Task ShutdownAsync(Func<Task> consumersDone)
    {
        lock (_sync)
        {
            if (_shutdown is null)
            {
                if (_state == SupervisorState.Created)
                {
                    TryTransitionLocked(SupervisorState.ShutDown);
                    _shutdown = Task.CompletedTask;
                    return _shutdown;
                }

                TryTransitionLocked(SupervisorState.ShuttingDown);
                _shutdown = ShutdownCoreAsync(consumersDone);
            }

            return _shutdown;
        }
    }

    private async Task ShutdownCoreAsync(Func<Task> consumersDone)
    {
        await Task.Yield();
        _stopping.Cancel();
        Session? session = Volatile.Read(ref _session);
        if (session is not null)
        {
            await session.Connection.CloseAsync(_options.ShutdownTimeout).ConfigureAwait(false);
        }

        await consumersDone().ConfigureAwait(false);
        TaskCompletionSource connected;
        lock (_sync)
        {
            connected = _connected;
            TryTransitionLocked(SupervisorState.ShutDown);
        }

        if (connected.TrySetException(new ConnectionDeadException("The cluster was shut down.")))
        {
            _ = connected.Task.Exception;
        }
    }

    [LoggerMessage(EventId = 7001, Level = LogLevel.Debug, Message = "Cluster: {From} -> {To}")]
    private static partial void LogStateChanged(ILogger logger, SupervisorState from, SupervisorState to);

    [LoggerMessage(EventId = 7002, Level = LogLevel.Warning, Message = "Could not connect to {Host}:{Port}: {Reason}")]
    private static partial void LogNodeFailed(ILogger logger, string host, int port, string reason);

    [LoggerMessage(EventId = 7003, Level = LogLevel.Warning,
        Message = "Reconnection attempt {Attempt} to {Host}:{Port} failed: {Reason}")]
    private static partial void LogReconnectFailed(ILogger logger, int attempt, string host, int port, string reason);

    [LoggerMessage(EventId = 7004, Level = LogLevel.Information,
        Message = "Reconnected to {Host}:{Port} after {Attempts} attempts, {DowntimeMs:0} ms without a connection")]
    private static partial void LogReconnected(ILogger logger, string host, int port, int attempts, double downtimeMs);

    [LoggerMessage(EventId = 7006, Level = LogLevel.Warning,
        Message = "{Count} plain publishes had not reached the socket when the connection to {Host} broke: they are lost")]
    private static partial void LogPlainPublishesUnsent(ILogger logger, int count, string host);

    [LoggerMessage(EventId = 7005, Level = LogLevel.Warning, Message = "Could not recover {What}: {Reason}")]
    private static partial void LogRecoveryStepFailed(ILogger logger, string what, string reason);
}
