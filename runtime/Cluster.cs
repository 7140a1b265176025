using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;
using CoolAmqp.Channels;
using CoolAmqp.Connections;
using CoolAmqp.Framing;
using CoolAmqp.Recovery;
using CoolAmqp.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CoolAmqp;

/// <summary>
/// The front door of CoolAmqp (CoolAMQP's <c>Cluster</c>): connects to a broker and publishes, consumes,
/// declares, binds, and reports what happens as events. Safe to use from many threads at once.
/// </summary>
/// <remarks>
/// The cluster connects to the first of its nodes that answers and, after an unplanned loss, to the next one, again
/// and again with backoff (<see cref="ClusterOptions.Recovery"/>): it declares again what was declared with
/// <c>persistent: true</c> and re-establishes its consumers. See the README's "When things fail" for what happens to
/// work in flight.
/// </remarks>
public sealed partial class Cluster : IAsyncDisposable, ISupervisorOwner
{
    private readonly object _sync = new();
    private readonly ClusterOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly ConnectionSupervisor _supervisor;
    private readonly Channel<ClusterEvent> _events = Channel.CreateUnbounded<ClusterEvent>(
        new UnboundedChannelOptions { AllowSynchronousContinuations = false });
    private readonly List<Consumer> _consumers = [];
    private readonly PublishQueue _plainQueue = new();
    private readonly PublishQueue _confirmingQueue = new();
    private int _waitingPublishes;
    private long _waitingPublishBytes;
    private readonly Republisher? _republisher;
    private int _failReported;

    /// <summary>Creates a cluster over <paramref name="nodes"/> (tried in order, or shuffled with
    /// <see cref="RecoveryOptions.ShuffleNodes"/>). Nothing happens until <see cref="StartAsync"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="nodes"/> is empty.</exception>
    public Cluster(IEnumerable<NodeDefinition> nodes, ClusterOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(nodes);
        NodeDefinition[] list = [.. nodes];
        if (list.Length == 0)
        {
            throw new ArgumentException("At least one node is needed.", nameof(nodes));
        }

        foreach (NodeDefinition node in list)
        {
            ArgumentNullException.ThrowIfNull(node, nameof(nodes));
        }

        _options = options ?? new ClusterOptions();
        ArgumentNullException.ThrowIfNull(_options.Recovery, nameof(options));
        ArgumentNullException.ThrowIfNull(_options.Limits, nameof(options));
        RequirePositive(_options.RpcTimeout, nameof(ClusterOptions.RpcTimeout));
        RequirePositive(_options.BlockedPublishTimeout, nameof(ClusterOptions.BlockedPublishTimeout));
        RequirePositive(_options.Recovery.ConnectionWaitTimeout, nameof(RecoveryOptions.ConnectionWaitTimeout));
        _loggerFactory = _options.LoggerFactory ?? NullLoggerFactory.Instance;
        _logger = _loggerFactory.CreateLogger<Cluster>();
        _supervisor = new ConnectionSupervisor(list, _options, _loggerFactory, this);
        if (_options.Recovery.RepublishUnconfirmed)
        {
            _republisher = new Republisher(_supervisor, _confirmingQueue, _loggerFactory.CreateLogger<Republisher>());
        }
    }

    private static void RequirePositive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero && value != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be positive (or Timeout.InfiniteTimeSpan).");
        }
    }

    /// <summary>Creates a cluster over a comma-separated list of AMQP URIs (see <see cref="NodeDefinition.ParseList"/>).</summary>
    /// <param name="uris">E.g. <c>amqp://user:pass@rabbit1/,amqp://user:pass@rabbit2/</c>; one URI is a cluster of one node.</param>
    /// <param name="options">The options.</param>
    /// <exception cref="FormatException">An entry of <paramref name="uris"/> does not parse.</exception>
    public Cluster(string uris, ClusterOptions? options = null)
        : this(NodeDefinition.ParseList(uris ?? throw new ArgumentNullException(nameof(uris))), options)
    {
    }

    /// <summary>Creates a cluster of one node.</summary>
    public Cluster(NodeDefinition node, ClusterOptions? options = null)
        : this([node ?? throw new ArgumentNullException(nameof(node))], options)
    {
    }

    /// <summary>The nodes, in the order they are tried.</summary>
    public IReadOnlyList<NodeDefinition> Nodes => _supervisor.Nodes;

    /// <summary>The node of the current (or last) connection; null before the first connection.</summary>
    public NodeDefinition? ConnectedNode => _supervisor.Session?.Node;

    /// <summary>The options given at construction.</summary>
    public ClusterOptions Options => _options;

    /// <summary>Whether the cluster has an open connection now.</summary>
    public bool IsConnected => _supervisor.Session?.Connection.IsOpen == true;

    /// <summary>The TLS version of the current (or last) connection (e.g. <see cref="System.Security.Authentication.SslProtocols.Tls13"/>);
    /// null for a plain connection and before the first connection.</summary>
    public System.Security.Authentication.SslProtocols? TlsProtocol => _supervisor.Session?.Connection.TlsProtocol;

    /// <summary>Whether the broker currently blocks publishing (connection.blocked).</summary>
    public bool IsBlocked => _supervisor.Session?.Connection.IsBlocked == true;

    /// <summary>The broker's server-properties from connection.start (product, version, capabilities, ...);
    /// null before the first connection.</summary>
    public FieldTable? ServerProperties => _supervisor.Session?.Connection.ServerProperties;

    // ---- lifecycle ----

    /// <summary>Connects to the broker (CoolAMQP's <c>start</c>), trying each node in turn until one answers.</summary>
    /// <param name="wait">Wait until the connection is open (default). Otherwise return at once; operations
    /// wait for the connection themselves.</param>
    /// <param name="timeout">How long the whole start may take; default: each node its own connection timeout (10 s).</param>
    /// <param name="cancellationToken">Stops waiting (and connecting).</param>
    /// <exception cref="InvalidOperationException">Called more than once.</exception>
    /// <exception cref="ConnectionDeadException">Could not connect in time, or the broker is unreachable (the
    /// socket error is the inner exception). With several nodes: none worked, and
    /// <see cref="ConnectionDeadException.NodeFailures"/> says why for each.</exception>
    /// <exception cref="AuthenticationFailedException">The broker (of a cluster of one node) refused the credentials.</exception>
    /// <exception cref="AmqpException">The broker (of a cluster of one node) refused the connection, e.g. for an
    /// unknown virtual host.</exception>
    /// <remarks>A failed start is final and reported to its caller only (not to <see cref="ClusterOptions.OnFail"/>
    /// nor as an event); recovery is for a connection that was established.</remarks>
    public Task StartAsync(bool wait = true, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        Task connecting = _supervisor.StartAsync(timeout, cancellationToken);
        if (wait)
        {
            return connecting;
        }

        // Observed here so that a failure nobody awaits is still logged, not lost.
        _ = connecting.ContinueWith(static (t, s) => ((Cluster)s!).LogStartFailedInBackground(t.Exception!), this,
            CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        return Task.CompletedTask;
    }

    private void LogStartFailedInBackground(AggregateException error) =>
        LogStartFailed(_logger, error.InnerException?.Message ?? error.Message, error.InnerException ?? error);

    /// <summary>Closes the connection gracefully (CoolAMQP's <c>shutdown</c>) and stops any reconnection. Consumers
    /// stop; unconfirmed publishes fail with <see cref="ConnectionDeadException"/>; the event stream completes.</summary>
    /// <param name="wait">Wait until the connection is closed (default).</param>
    /// <param name="cancellationToken">Stops waiting (the task then ends with <see cref="OperationCanceledException"/>);
    /// the shutdown itself goes on, bounded by <see cref="ClusterOptions.ShutdownTimeout"/>. Consumers' callbacks got
    /// their stopping token at the start of the shutdown.</param>
    /// <exception cref="InvalidOperationException"><see cref="StartAsync"/> was not called.</exception>
    public Task ShutdownAsync(bool wait = true, CancellationToken cancellationToken = default)
    {
        if (_supervisor.State == ConnectionSupervisor.SupervisorState.Created)
        {
            throw new InvalidOperationException("ShutdownAsync was called before StartAsync.");
        }

        Task shutdown = _supervisor.ShutdownAsync(ShutDownConsumersAsync);
        if (!wait)
        {
            return Task.CompletedTask;
        }

        return cancellationToken.CanBeCanceled ? shutdown.WaitAsync(cancellationToken) : shutdown;
    }

    private async Task ShutDownConsumersAsync()
    {
        Consumer[] consumers;
        lock (_sync)
        {
            consumers = [.. _consumers];
            _consumers.Clear();
        }

        var cancelling = new Task[consumers.Length];
        for (int i = 0; i < consumers.Length; i++)
        {
            cancelling[i] = consumers[i].OnShutdownAsync();
        }

        await Task.WhenAll(cancelling).ConfigureAwait(false);
        _events.Writer.TryComplete();
    }

    /// <summary>Sends a new secret for the logged-in user on the open connection (connection.update-secret, e.g. a
    /// fresh OAuth 2 token) and waits for the broker to accept it; the connection stays open. Reconnections log in with
    /// this secret from now on (unless <see cref="ClusterOptions.CredentialsProvider"/> is set: it has the last word).
    /// While the cluster reconnects, this waits for the connection like any operation.</summary>
    /// <param name="newSecret">The new password or token. Never logged or traced.</param>
    /// <param name="reason">Why, for the broker's log (a short string: at most 255 UTF-8 bytes).</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <exception cref="ArgumentException"><paramref name="reason"/> is longer than 255 UTF-8 bytes.</exception>
    /// <exception cref="ConnectionDeadException">The broker refused the secret (RabbitMQ then closes the connection
    /// with 530 NOT_ALLOWED, the broker's reason in the message; recovery reconnects), or the connection is gone.</exception>
    /// <exception cref="AmqpTimeoutException">No answer within <see cref="ClusterOptions.RpcTimeout"/>.</exception>
    public async Task UpdateSecretAsync(string newSecret, string reason, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(newSecret);
        ArgumentNullException.ThrowIfNull(reason);
        if (System.Text.Encoding.UTF8.GetByteCount(reason) > 255)
        {
            throw new ArgumentException("The reason of an update-secret is a short string: at most 255 UTF-8 bytes.", nameof(reason));
        }

        _supervisor.Credentials.SetSecret(newSecret);
        Session session = await GetSessionAsync(cancellationToken).ConfigureAwait(false);
        await session.Connection.UpdateSecretAsync(newSecret, reason, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Shuts down if started (and not yet shut down); otherwise does nothing.</summary>
    public async ValueTask DisposeAsync()
    {
        await _supervisor.ShutdownAsync(ShutDownConsumersAsync).ConfigureAwait(false);
    }

    // ---- what the supervisor reports ----

    void ISupervisorOwner.OnConnected(Session session)
    {
        Consumer[] consumers;
        lock (_sync)
        {
            consumers = [.. _consumers];
        }

        foreach (Consumer consumer in consumers)
        {
            consumer.Attach(session.Connection);
        }
    }

    void ISupervisorOwner.OnConnectionLost(Exception reason)
    {
        PostEvent(new ConnectionLost(reason));
        if (_options.OnFail is { } onFail && Interlocked.Exchange(ref _failReported, 1) == 0)
        {
            RunCallback(static state => ((Action)state!)(), onFail, nameof(ClusterOptions.OnFail));
        }
    }

    /// <summary>Runs a user callback on the thread pool (never on the read loop, which it could stall); its
    /// exception is logged.</summary>
    /// <summary>Runs an application callback on the thread pool, logging what it throws.</summary>
    internal void RunCallback(Action<object?> callback, object? state, string name) =>
        _ = Task.Run(() =>
        {
            try
            {
                callback(state);
            }
#pragma warning disable CA1031 // User callback: log and carry on.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                AmqpConnection.LogCallbackFailed(_logger, name, ex);
            }
        });

    void ISupervisorOwner.OnGaveUp(Exception reason)
    {
        Consumer[] consumers;
        lock (_sync)
        {
            consumers = [.. _consumers];
        }

        foreach (Consumer consumer in consumers)
        {
            _ = consumer.OnClusterFailedAsync(reason);
        }
    }

    void ISupervisorOwner.Post(ClusterEvent clusterEvent) => PostEvent(clusterEvent);

    Republisher? ISupervisorOwner.Republisher => _republisher;

    void ISupervisorOwner.OnBlockedChanged(NodeDefinition node, string? reason)
    {
        PostEvent(reason is null ? new PublishingUnblocked(node) : new PublishingBlocked(node, reason));
        if (_options.OnBlocked is { } onBlocked)
        {
            RunCallback(reason is null ? static state => ((Action<bool>)state!)(false) : static state => ((Action<bool>)state!)(true),
                onBlocked, nameof(ClusterOptions.OnBlocked));
        }
    }

    /// <summary>The open session, waiting for a connection while the cluster (re)connects.</summary>
    private ValueTask<Session> GetSessionAsync(CancellationToken cancellationToken) =>
        _supervisor.GetSessionAsync(cancellationToken);

    internal void PostEvent(ClusterEvent clusterEvent)
    {
        if (!_events.Writer.TryWrite(clusterEvent) && clusterEvent is MessageReceived received)
        {
            received.Message.Dispose();
        }
    }

    // ---- events ----

    /// <summary>
    /// The next event (CoolAMQP's <c>drain</c>): a <see cref="MessageReceived"/> from a consumer without a
    /// callback, a <see cref="ConnectionLost"/>, or <see cref="NothingMuch.Instance"/> when nothing happened
    /// within <paramref name="timeout"/>.
    /// </summary>
    /// <param name="timeout">How long to wait: <see cref="TimeSpan.Zero"/> returns at once, null waits until an
    /// event arrives (or the cluster shuts down).</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    public ValueTask<ClusterEvent> DrainAsync(TimeSpan? timeout, CancellationToken cancellationToken = default)
    {
        if (_events.Reader.TryRead(out ClusterEvent? next))
        {
            return new ValueTask<ClusterEvent>(next);
        }

        if (timeout == TimeSpan.Zero)
        {
            return new ValueTask<ClusterEvent>(NothingMuch.Instance);
        }

        if (timeout is { } t && t < TimeSpan.Zero && t != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), t, "The timeout must not be negative.");
        }

        return new ValueTask<ClusterEvent>(DrainSlowAsync(timeout, cancellationToken));
    }

    private async Task<ClusterEvent> DrainSlowAsync(TimeSpan? timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (timeout is { } t && t != Timeout.InfiniteTimeSpan)
        {
            deadline.CancelAfter(t);
        }

        try
        {
            while (await _events.Reader.WaitToReadAsync(deadline.Token).ConfigureAwait(false))
            {
                if (_events.Reader.TryRead(out ClusterEvent? next))
                {
                    return next;
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // The timeout passed.
        }

        return NothingMuch.Instance;
    }

    /// <summary>Every event as it arrives, until the cluster shuts down.</summary>
    public IAsyncEnumerable<ClusterEvent> ReadEventsAsync(CancellationToken cancellationToken = default) =>
        _events.Reader.ReadAllAsync(cancellationToken);

    // ---- publishing ----

    /// <summary>Publishes a message (CoolAMQP's <c>publish</c>).</summary>
    /// <remarks>Order is kept only among publishes made the same way, each awaited before the next: plain publishes
    /// go on one channel and confirmed or mandatory ones on another, and the broker keeps order only within a channel
    /// (README, "Publishing order").</remarks>
    /// <param name="message">The message.</param>
    /// <param name="exchange">Exchange name; "" (the default) is the default direct exchange.</param>
    /// <param name="routingKey">Routing key.</param>
    /// <param name="confirm">Wait for the broker to take responsibility (publisher confirms): the task completes
    /// on basic.ack and fails with <see cref="MessageNackedException"/> on basic.nack.</param>
    /// <param name="mandatory">Ask the broker to return the message if no queue takes it; the task then fails
    /// with <see cref="MessageReturnedException"/>. A mandatory publish always waits for its confirm, even
    /// without <paramref name="confirm"/>, since that is when the broker tells: the return comes before the ack,
    /// and is matched to its publish by the order of the two (README, "Mandatory publishes and returns"). If the
    /// channel closes between the return and the ack, the task fails with the channel's error instead.</param>
    /// <param name="cancellationToken">Stops waiting (the message may still be published).</param>
    /// <returns>Without confirms: completes once the message is queued for the socket (at once unless the
    /// outbound buffer is full). With confirms: completes when the broker confirms.</returns>
    /// <exception cref="AmqpException">The broker closed the publishing channel (e.g. the exchange does not
    /// exist); later publishes use a new channel.</exception>
    /// <exception cref="ConnectionDeadException">The connection is down, or broke before the confirm.</exception>
    /// <exception cref="ArgumentException">An exchange name, routing key or property does not fit AMQP.</exception>
    public ValueTask PublishAsync(Message message, string exchange = "", string routingKey = "", bool confirm = false,
        bool mandatory = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(exchange);
        ArgumentNullException.ThrowIfNull(routingKey);
        if (CoolAmqpTelemetry.Source.HasListeners())
        {
            return PublishTracedAsync(message, exchange, routingKey, confirm, mandatory, cancellationToken);
        }

        return PublishCoreAsync(message, exchange, routingKey, confirm, mandatory, cancellationToken);
    }

    /// <summary>A publish with its producer span (someone listens to <see cref="CoolAmqpTelemetry.ActivitySourceName"/>):
    /// the message goes out with the span's trace context in a copy of its headers, and the span ends when the publish
    /// does (at the broker's confirm, with confirms).</summary>
    private async ValueTask PublishTracedAsync(Message message, string exchange, string routingKey, bool confirm,
        bool mandatory, CancellationToken cancellationToken)
    {
        using Activity? activity = CoolAmqpTelemetry.StartPublish(message, exchange, routingKey, confirm || mandatory,
            _supervisor.Session?.Connection);
        if (activity is not null)
        {
            message = CoolAmqpTelemetry.WithContext(message, activity);
        }

        try
        {
            await PublishCoreAsync(message, exchange, routingKey, confirm, mandatory, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            CoolAmqpTelemetry.Fail(activity, ex);
            throw;
        }
    }

    private ValueTask PublishCoreAsync(Message message, string exchange, string routingKey, bool confirm,
        bool mandatory, CancellationToken cancellationToken)
    {
        bool confirming = confirm || mandatory;
        PublishQueue queue = confirming ? _confirmingQueue : _plainQueue;
        Session? session = _supervisor.Session;
        if (session is not null && session.Connection.IsOpen && queue.IsEmpty &&
            (confirming ? session.Confirming : session.Plain).TryPublish(message, exchange, routingKey, mandatory,
                cancellationToken, out ValueTask completion))
        {
            return completion;
        }

        return PublishInOrderAsync(queue, message, exchange, routingKey, confirming, mandatory, cancellationToken);
    }

    /// <summary>Publishes a message to <paramref name="exchange"/>; see
    /// <see cref="PublishAsync(Message, string, string, bool, bool, CancellationToken)"/>.</summary>
    public ValueTask PublishAsync(Message message, Exchange exchange, string routingKey = "", bool confirm = false,
        bool mandatory = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(exchange);
        return PublishAsync(message, exchange.Name, routingKey, confirm, mandatory, cancellationToken);
    }

    /// <summary>A publish that has to wait (for the connection, its channel, flow or room in the outbound buffer)
    /// queues behind the ones already waiting, and while any waits, later publishes of the same kind queue too: so
    /// publishes made one after the other reach their channel in that order. A connection lost while it waits is
    /// waited out (nothing was sent), within <see cref="RecoveryOptions.ConnectionWaitTimeout"/> in all.</summary>
    // Pooled: a publisher that runs ahead of the socket waits here for every publish past the high-water mark.
#if NET // netstandard2.0 has no pooling builder (nor a method-level AsyncMethodBuilder)
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
#endif
    private async ValueTask PublishInOrderAsync(PublishQueue queue, Message message, string exchange, string routingKey,
        bool confirming, bool mandatory, CancellationToken cancellationToken)
    {
        int bytes = message.Body.Length;
        bool counted = _supervisor.Session?.Connection.IsOpen != true;
        if (counted)
        {
            ReserveWaiting(bytes);
        }

        ValueTask completion;
        queue.Enter();
        try
        {
            await queue.Turn.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                long waitStarted = Stopwatch.GetTimestamp();
                while (true)
                {
                    Session session = await _supervisor.GetSessionAsync(waitStarted, cancellationToken).ConfigureAwait(false);
                    Publisher publisher = confirming ? session.Confirming : session.Plain;
                    try
                    {
                        if (!publisher.TryPublish(message, exchange, routingKey, mandatory, cancellationToken, out completion))
                        {
                            completion = await publisher.AppendAsync(message, exchange, routingKey, mandatory, cancellationToken)
                                .ConfigureAwait(false);
                        }

                        break;
                    }
                    catch (ConnectionDeadException) when (!session.Connection.IsOpen && _supervisor.WillReconnect &&
                                                          !cancellationToken.IsCancellationRequested)
                    {
                        // The connection died while this publish waited on it; it was not appended, so it can
                        // wait for the next connection.
                    }
                }
            }
            finally
            {
                queue.Turn.Release();
            }
        }
        finally
        {
            queue.Leave();
            if (counted)
            {
                ReleaseWaiting(bytes);
            }
        }

        // Confirms are awaited outside the turn: the next publish need not wait for this one's confirm.
        await completion.ConfigureAwait(false);
    }

    private void ReserveWaiting(int bytes)
    {
        RecoveryOptions limits = _options.Recovery;
        int count = Interlocked.Increment(ref _waitingPublishes);
        long total = Interlocked.Add(ref _waitingPublishBytes, bytes);
        if (count > limits.MaxWaitingPublishes || (total > limits.MaxWaitingPublishBytes && count > 1))
        {
            ReleaseWaiting(bytes);
            throw new PublishBufferFullException(
                $"The cluster has no connection and {count - 1} publishes ({total - bytes} body bytes) already wait for " +
                $"one (limits: {limits.MaxWaitingPublishes} publishes, {limits.MaxWaitingPublishBytes} bytes): this " +
                "one was not sent.");
        }
    }

    private void ReleaseWaiting(int bytes)
    {
        Interlocked.Decrement(ref _waitingPublishes);
        Interlocked.Add(ref _waitingPublishBytes, -bytes);
    }

    // ---- consuming ----

    /// <summary>Starts consuming <paramref name="queue"/> (CoolAMQP's <c>consume</c>).</summary>
    /// <returns>The consumer (keep it: it is the only way to cancel) and a task that completes when the consumer
    /// is online (basic.consume-ok), or fails with why it could not go online.</returns>
    public (Consumer Consumer, Task Ready) Consume(Queue queue, ConsumerOptions options)
    {
        ArgumentNullException.ThrowIfNull(queue);
        ArgumentNullException.ThrowIfNull(options);
        var consumer = new Consumer(this, queue, options, _loggerFactory.CreateLogger<Consumer>());
        Session? session;
        lock (_sync)
        {
            if (_supervisor.State is ConnectionSupervisor.SupervisorState.ShuttingDown or ConnectionSupervisor.SupervisorState.ShutDown)
            {
                throw new ObjectDisposedException(nameof(Cluster), "The cluster was shut down.");
            }

            _consumers.Add(consumer);
            session = _supervisor.Session;
        }

        // Otherwise (not connected yet, or reconnecting) it attaches when the connection opens.
        if (session is not null && session.Connection.IsOpen)
        {
            consumer.Attach(session.Connection);
        }

        return (consumer, consumer.Ready);
    }

    /// <summary>Starts consuming <paramref name="queue"/> with a synchronous callback (or, without one, into the
    /// cluster's events); see <see cref="Consume(Queue, ConsumerOptions)"/> and <see cref="ConsumerOptions"/>.</summary>
    public (Consumer Consumer, Task Ready) Consume(Queue queue, Action<ReceivedMessage>? onMessage = null,
        bool noAck = true, ushort? prefetchCount = null, bool cancelOnFailure = false,
        bool failOnFirstTimeResourceLocked = false, BodyReceiveMode bodyReceiveMode = BodyReceiveMode.Copied) =>
        Consume(queue, new ConsumerOptions
        {
            OnMessage = onMessage,
            NoAck = noAck,
            PrefetchCount = prefetchCount,
            CancelOnFailure = cancelOnFailure,
            FailOnFirstTimeResourceLocked = failOnFirstTimeResourceLocked,
            BodyReceiveMode = bodyReceiveMode,
        });

    /// <summary>Starts consuming <paramref name="queue"/> with an asynchronous callback; see
    /// <see cref="Consume(Queue, ConsumerOptions)"/>.</summary>
    public (Consumer Consumer, Task Ready) Consume(Queue queue, Func<ReceivedMessage, ValueTask> onMessage,
        bool noAck = true, ushort? prefetchCount = null, bool cancelOnFailure = false,
        bool failOnFirstTimeResourceLocked = false, BodyReceiveMode bodyReceiveMode = BodyReceiveMode.Copied)
    {
        ArgumentNullException.ThrowIfNull(onMessage);
        return Consume(queue, (message, _) => onMessage(message), noAck, prefetchCount, cancelOnFailure,
            failOnFirstTimeResourceLocked, bodyReceiveMode);
    }

    /// <summary>Starts consuming <paramref name="queue"/> with an asynchronous callback that gets a token firing when
    /// the consumer stops (see <see cref="ConsumerOptions.OnMessageAsync"/>); see
    /// <see cref="Consume(Queue, ConsumerOptions)"/>.</summary>
    public (Consumer Consumer, Task Ready) Consume(Queue queue, Func<ReceivedMessage, CancellationToken, ValueTask> onMessage,
        bool noAck = true, ushort? prefetchCount = null, bool cancelOnFailure = false,
        bool failOnFirstTimeResourceLocked = false, BodyReceiveMode bodyReceiveMode = BodyReceiveMode.Copied) =>
        Consume(queue, new ConsumerOptions
        {
            OnMessageAsync = onMessage ?? throw new ArgumentNullException(nameof(onMessage)),
            NoAck = noAck,
            PrefetchCount = prefetchCount,
            CancelOnFailure = cancelOnFailure,
            FailOnFirstTimeResourceLocked = failOnFirstTimeResourceLocked,
            BodyReceiveMode = bodyReceiveMode,
        });

    /// <summary>
    /// Consumes <paramref name="queue"/> for as long as the enumeration lasts: <c>await foreach (var m in
    /// cluster.SubscribeAsync(queue)) { ...; m.Ack(); }</c>. The consumer starts with the enumeration and is cancelled
    /// when it ends (the loop finishes, <c>break</c>s, throws, or <paramref name="cancellationToken"/> fires). Messages
    /// must be settled (<see cref="ReceivedMessage.Ack"/>, <c>Nack</c>, <c>Reject</c>): the broker sends at most
    /// <paramref name="prefetchCount"/> unsettled ones, so the subscription holds at most that many in memory; those
    /// not settled when it ends are requeued by the broker. It rides through reconnections like any consumer.
    /// </summary>
    /// <param name="queue">The queue (declared first, as <see cref="ConsumerOptions.DeclareQueue"/> does).</param>
    /// <param name="prefetchCount">How many unsettled messages the broker may send (1 to 65535). Default 100.</param>
    /// <param name="cancellationToken">Ends the enumeration (with <see cref="OperationCanceledException"/>).</param>
    /// <returns>The messages, in order.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="prefetchCount"/> is 0 (no bound).</exception>
    /// <exception cref="AmqpException">The broker refused the consumer (at the first <c>MoveNextAsync</c>).</exception>
    public async IAsyncEnumerable<ReceivedMessage> SubscribeAsync(Queue queue, ushort prefetchCount = 100,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(queue);
        ArgumentOutOfRangeException.ThrowIfZero(prefetchCount);
        var (consumer, ready) = Consume(queue, new ConsumerOptions
        {
            NoAck = false,
            PrefetchCount = prefetchCount,
            ReadFromConsumer = true,
        });
        try
        {
            await ready.WaitAsync(cancellationToken).ConfigureAwait(false);
            await foreach (ReceivedMessage message in consumer.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return message;
            }
        }
        finally
        {
            await consumer.CancelAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>The consumers the cluster keeps (a copy).</summary>
    internal Consumer[] Consumers
    {
        get
        {
            lock (_sync)
            {
                return [.. _consumers];
            }
        }
    }

    internal void Forget(Consumer consumer)
    {
        lock (_sync)
        {
            _consumers.Remove(consumer);
        }
    }

    [LoggerMessage(EventId = 5001, Level = LogLevel.Error, Message = "Connecting in the background failed: {Reason}")]
    private static partial void LogStartFailed(ILogger logger, string reason, Exception exception);
}
