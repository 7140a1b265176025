using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;
using CoolAmqp.Channels;
using CoolAmqp.Connections;
using CoolAmqp.Framing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CoolAmqp;

/// <summary>
/// The front door of CoolAmqp (CoolAMQP's <c>Cluster</c>): connects to a broker and publishes, consumes,
/// declares, binds, and reports what happens as events. Safe to use from many threads at once.
/// </summary>
/// <remarks>
/// The cluster connects to the first node only, and does not reconnect: after the connection is lost (reported as
/// <see cref="ConnectionLost"/> and <see cref="ClusterOptions.OnFail"/>), operations fail with
/// <see cref="ConnectionDeadException"/>.
/// </remarks>
public sealed partial class Cluster : IAsyncDisposable
{
    private readonly object _sync = new();
    private readonly NodeDefinition[] _nodes;
    private readonly ClusterOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly Channel<ClusterEvent> _events = Channel.CreateUnbounded<ClusterEvent>(
        new UnboundedChannelOptions { AllowSynchronousContinuations = false });
    private readonly List<Consumer> _consumers = [];
    private readonly TaskCompletionSource _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ClusterState _state = ClusterState.Created;
    private Session? _session;
    private Task? _shutdown;
    private int _failReported;

    /// <summary>Creates a cluster over <paramref name="nodes"/> (it connects to the first). Nothing happens until
    /// <see cref="StartAsync"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="nodes"/> is empty.</exception>
    public Cluster(IEnumerable<NodeDefinition> nodes, ClusterOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(nodes);
        _nodes = [.. nodes];
        if (_nodes.Length == 0)
        {
            throw new ArgumentException("At least one node is needed.", nameof(nodes));
        }

        foreach (NodeDefinition node in _nodes)
        {
            ArgumentNullException.ThrowIfNull(node, nameof(nodes));
        }

        _options = options ?? new ClusterOptions();
        _loggerFactory = _options.LoggerFactory ?? NullLoggerFactory.Instance;
        _logger = _loggerFactory.CreateLogger<Cluster>();
    }

    /// <summary>Creates a cluster of one node.</summary>
    public Cluster(NodeDefinition node, ClusterOptions? options = null)
        : this([node ?? throw new ArgumentNullException(nameof(node))], options)
    {
    }

    private enum ClusterState
    {
        Created,
        Started,
        ShuttingDown,
        ShutDown,
    }

    /// <summary>The nodes given at construction.</summary>
    public IReadOnlyList<NodeDefinition> Nodes => _nodes;

    /// <summary>The options given at construction.</summary>
    public ClusterOptions Options => _options;

    /// <summary>Whether the cluster has an open connection now.</summary>
    public bool IsConnected => Volatile.Read(ref _session)?.Connection.IsOpen == true;

    /// <summary>Whether the broker currently blocks publishing (connection.blocked).</summary>
    public bool IsBlocked => Volatile.Read(ref _session)?.Connection.IsBlocked == true;

    /// <summary>The broker's server-properties from connection.start (product, version, capabilities, ...);
    /// null before the first connection.</summary>
    public FieldTable? ServerProperties => Volatile.Read(ref _session)?.Connection.ServerProperties;

    // ---- lifecycle ----

    /// <summary>Connects to the broker (CoolAMQP's <c>start</c>).</summary>
    /// <param name="wait">Wait until the connection is open (default). Otherwise return at once; operations
    /// wait for the connection themselves.</param>
    /// <param name="timeout">How long connecting may take; default the node's connection timeout (10 s).</param>
    /// <param name="cancellationToken">Stops waiting (and connecting).</param>
    /// <exception cref="InvalidOperationException">Called more than once.</exception>
    /// <exception cref="ConnectionDeadException">Could not connect in time, or the broker is unreachable (the
    /// socket error is the inner exception).</exception>
    /// <exception cref="AuthenticationFailedException">The broker refused the credentials.</exception>
    /// <exception cref="AmqpException">The broker refused the connection, e.g. for an unknown virtual host.</exception>
    public Task StartAsync(bool wait = true, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        lock (_sync)
        {
            if (_state != ClusterState.Created)
            {
                throw new InvalidOperationException("StartAsync was already called on this cluster.");
            }

            _state = ClusterState.Started;
        }

        Task connecting = ConnectAsync(_nodes[0], timeout ?? _nodes[0].ConnectionTimeout, cancellationToken);
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

    /// <summary>Fails the wait for the first connection. Operations that wait for it get the error; the caller of
    /// StartAsync got it already, so it is marked observed: otherwise it would resurface as an unobserved task
    /// exception when nobody calls an operation afterwards.</summary>
    private void FailConnected(Exception error)
    {
        if (_connected.TrySetException(error))
        {
            _ = _connected.Task.Exception;
        }
    }

    private void LogStartFailedInBackground(AggregateException error) =>
        LogStartFailed(_logger, error.InnerException?.Message ?? error.Message, error.InnerException ?? error);

    private async Task ConnectAsync(NodeDefinition node, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var connection = new AmqpConnection(node, _options, _loggerFactory.CreateLogger<AmqpConnection>());
        connection.Terminated += OnConnectionTerminated;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await connection.ConnectAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            FailConnected(ex);
            cancellationToken.ThrowIfCancellationRequested();
            throw;
        }

        var session = new Session(connection, _loggerFactory.CreateLogger<Publisher>());
        Consumer[] consumers;
        lock (_sync)
        {
            if (_state != ClusterState.Started)
            {
                // Shut down while connecting.
                _ = connection.CloseAsync(_options.ShutdownTimeout);
                throw new ConnectionDeadException("The cluster was shut down while connecting.");
            }

            Volatile.Write(ref _session, session);
            consumers = [.. _consumers];
        }

        foreach (Consumer consumer in consumers)
        {
            consumer.Attach(connection);
        }

        _connected.TrySetResult();
    }

    /// <summary>Closes the connection gracefully (CoolAMQP's <c>shutdown</c>). Consumers stop; unconfirmed
    /// publishes fail with <see cref="ConnectionDeadException"/>; the event stream completes.</summary>
    /// <param name="wait">Wait until the connection is closed (default).</param>
    /// <exception cref="InvalidOperationException"><see cref="StartAsync"/> was not called.</exception>
    public Task ShutdownAsync(bool wait = true)
    {
        Task shutdown;
        lock (_sync)
        {
            if (_state == ClusterState.Created)
            {
                throw new InvalidOperationException("ShutdownAsync was called before StartAsync.");
            }

            if (_shutdown is null)
            {
                _state = ClusterState.ShuttingDown;
                _shutdown = ShutdownCoreAsync();
            }

            shutdown = _shutdown;
        }

        return wait ? shutdown : Task.CompletedTask;
    }

    private async Task ShutdownCoreAsync()
    {
        await Task.Yield();
        Session? session = Volatile.Read(ref _session);
        Consumer[] consumers;
        lock (_sync)
        {
            consumers = [.. _consumers];
            _consumers.Clear();
        }

        if (session is not null)
        {
            await session.Connection.CloseAsync(_options.ShutdownTimeout).ConfigureAwait(false);
        }

        var cancelling = new Task[consumers.Length];
        for (int i = 0; i < consumers.Length; i++)
        {
            cancelling[i] = consumers[i].OnShutdownAsync();
        }

        await Task.WhenAll(cancelling).ConfigureAwait(false);

        FailConnected(new ConnectionDeadException("The cluster was shut down."));
        _events.Writer.TryComplete();
        lock (_sync)
        {
            _state = ClusterState.ShutDown;
        }
    }

    /// <summary>Shuts down if started (and not yet shut down); otherwise does nothing.</summary>
    public async ValueTask DisposeAsync()
    {
        bool started;
        lock (_sync)
        {
            started = _state != ClusterState.Created;
            if (!started)
            {
                _state = ClusterState.ShutDown;
            }
        }

        if (started)
        {
            await ShutdownAsync(wait: true).ConfigureAwait(false);
        }
    }

    private void OnConnectionTerminated(AmqpConnection connection, Exception reason, bool graceful)
    {
        // A connection that never opened failed StartAsync, whose caller hears of it; like CoolAMQP's on_fail,
        // OnFail and ConnectionLost are about an established connection failing.
        if (graceful || !connection.WasOpen)
        {
            return;
        }

        PostEvent(new ConnectionLost(reason));
        if (_options.OnFail is { } onFail && Interlocked.Exchange(ref _failReported, 1) == 0)
        {
            _ = Task.Run(() =>
            {
                try
                {
                    onFail();
                }
#pragma warning disable CA1031 // User callback: log and carry on.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    AmqpConnection.LogCallbackFailed(_logger, nameof(ClusterOptions.OnFail), ex);
                }
            });
        }
    }

    /// <summary>The open session, waiting for the first connection when started without waiting.</summary>
    private ValueTask<Session> GetSessionAsync(CancellationToken cancellationToken)
    {
        Session? session = Volatile.Read(ref _session);
        if (session is not null && session.Connection.IsOpen)
        {
            return new ValueTask<Session>(session);
        }

        return new ValueTask<Session>(WaitForSessionAsync(cancellationToken));
    }

    private async Task<Session> WaitForSessionAsync(CancellationToken cancellationToken)
    {
        lock (_sync)
        {
            switch (_state)
            {
                case ClusterState.Created:
                    throw new InvalidOperationException("Call StartAsync before using the cluster.");
                case ClusterState.ShuttingDown or ClusterState.ShutDown:
                    throw new ConnectionDeadException("The cluster was shut down.");
            }
        }

        await _connected.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        Session session = Volatile.Read(ref _session)!;
        session.Connection.ThrowIfNotOpen();
        return session;
    }

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
    /// without <paramref name="confirm"/>, since that is when the broker tells.</param>
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
        Session? session = Volatile.Read(ref _session);
        if (session is not null && session.Connection.IsOpen)
        {
            Publisher publisher = confirm || mandatory ? session.Confirming : session.Plain;
            return publisher.PublishAsync(message, exchange, routingKey, mandatory, cancellationToken);
        }

        return PublishSlowAsync(message, exchange, routingKey, confirm, mandatory, cancellationToken);
    }

    /// <summary>Publishes a message to <paramref name="exchange"/>; see
    /// <see cref="PublishAsync(Message, string, string, bool, bool, CancellationToken)"/>.</summary>
    public ValueTask PublishAsync(Message message, Exchange exchange, string routingKey = "", bool confirm = false,
        bool mandatory = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(exchange);
        return PublishAsync(message, exchange.Name, routingKey, confirm, mandatory, cancellationToken);
    }

    private async ValueTask PublishSlowAsync(Message message, string exchange, string routingKey, bool confirm,
        bool mandatory, CancellationToken cancellationToken)
    {
        Session session = await GetSessionAsync(cancellationToken).ConfigureAwait(false);
        Publisher publisher = confirm || mandatory ? session.Confirming : session.Plain;
        await publisher.PublishAsync(message, exchange, routingKey, mandatory, cancellationToken).ConfigureAwait(false);
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
            if (_state is ClusterState.ShuttingDown or ClusterState.ShutDown)
            {
                throw new ObjectDisposedException(nameof(Cluster), "The cluster was shut down.");
            }

            _consumers.Add(consumer);
            session = _session;
        }

        if (session is not null)
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

    /// <summary>What one connection carries: the connection and the channels the cluster keeps on it.</summary>
    private sealed class Session
    {
        public Session(AmqpConnection connection, ILogger publisherLogger)
        {
            Connection = connection;
            Plain = new Publisher(connection, confirms: false, publisherLogger);
            Confirming = new Publisher(connection, confirms: true, publisherLogger);
            Rpc = new RpcChannel(connection);
        }

        public AmqpConnection Connection { get; }

        public Publisher Plain { get; }

        public Publisher Confirming { get; }

        public RpcChannel Rpc { get; }
    }
}
