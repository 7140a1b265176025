using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CoolAmqp.Extensions.Hosting;

/// <summary>
/// Runs the cluster with the host. Start: connect (honouring the host's start token), start the hosted consumers,
/// wait until they are online. Stop: fire the handlers' tokens and let the handlers in flight finish, cancel the
/// consumers, then shut the cluster down gracefully and dispose it; each step bounded by the host's stop token.
/// </summary>
internal sealed partial class CoolAmqpHostedService : IHostedService, IAsyncDisposable
{
    private readonly Cluster _cluster;
    private readonly CoolAmqpHostingOptions _options;
    private readonly IEnumerable<ConsumerRegistration> _registrations;
    private readonly IOptionsMonitor<CoolAmqpConsumerOptions> _consumerOptions;
    private readonly IServiceScopeFactory _scopes;
    private readonly ILogger _logger;
    private readonly List<HostedConsumer> _consumers = [];
    private Task _eventLog = Task.CompletedTask;
    private bool _started;
    private bool _connected;

    public CoolAmqpHostedService(Cluster cluster, IOptions<CoolAmqpHostingOptions> options,
        IEnumerable<ConsumerRegistration> registrations, IOptionsMonitor<CoolAmqpConsumerOptions> consumerOptions,
        IServiceScopeFactory scopes, ILogger<CoolAmqpHostedService> logger)
    {
        _cluster = cluster;
        _options = options.Value;
        _registrations = registrations;
        _consumerOptions = consumerOptions;
        _scopes = scopes;
        _logger = logger;
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // Built first, so that a consumer's invalid settings fail the start before anything connects.
        foreach (ConsumerRegistration registration in _registrations)
        {
            _consumers.Add(new HostedConsumer(registration, _consumerOptions.Get(registration.Queue), _scopes, _logger));
        }

        _started = true;
        await _cluster.StartAsync(_options.WaitForConnection, _options.StartTimeout, cancellationToken).ConfigureAwait(false);
        _connected = true;
        if (_options.LogEvents)
        {
            _eventLog = LogEventsAsync();
        }

        var ready = new List<Task>(_consumers.Count);
        foreach (HostedConsumer consumer in _consumers)
        {
            ready.Add(consumer.StartAsync(_cluster));
        }

        if (_options.WaitForConnection)
        {
            await WithCancellation(Task.WhenAll(ready), cancellationToken).ConfigureAwait(false);
            LogStarted(_logger, _cluster.ConnectedNode, _consumers.Count);
        }
        else
        {
            // Nobody awaits them: observed here, so that a consumer that never comes online is logged, not lost.
            foreach (Task consumerReady in ready)
            {
                _ = consumerReady.ContinueWith(static (t, state) => LogConsumerFailed((ILogger)state!, t.Exception!.GetBaseException()),
                    _logger, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously,
                    TaskScheduler.Default);
            }
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (!_started)
        {
            return;
        }

        if (!_connected)
        {
            // The start failed (and said so to the host): nothing to drain or shut down.
            await _cluster.DisposeAsync().ConfigureAwait(false);
            return;
        }

        try
        {
            foreach (HostedConsumer consumer in _consumers)
            {
                consumer.BeginStop();
            }

            var drained = new List<Task>(_consumers.Count);
            foreach (HostedConsumer consumer in _consumers)
            {
                drained.Add(consumer.Drained);
            }

            await WithCancellation(Task.WhenAll(drained), cancellationToken).ConfigureAwait(false);

            var cancelled = new List<Task>(_consumers.Count);
            foreach (HostedConsumer consumer in _consumers)
            {
                cancelled.Add(consumer.CancelAsync(cancellationToken));
            }

            await Task.WhenAll(cancelled).ConfigureAwait(false);
            await _cluster.ShutdownAsync(wait: true, cancellationToken).ConfigureAwait(false);
            await WithCancellation(_eventLog, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The host's shutdown timeout passed: what is left is cut short by the disposal below.
            LogStopCutShort(_logger);
        }
        finally
        {
            await _cluster.DisposeAsync().ConfigureAwait(false);
        }
    }

    public ValueTask DisposeAsync()
    {
        foreach (HostedConsumer consumer in _consumers)
        {
            consumer.Dispose();
        }

        return default;
    }

    private async Task LogEventsAsync()
    {
        try
        {
            await foreach (ClusterEvent clusterEvent in _cluster.ReadEventsAsync().ConfigureAwait(false))
            {
                Log(clusterEvent);
            }
        }
#pragma warning disable CA1031 // Logging events must never take the host down.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            LogEventsFailed(_logger, ex);
        }
    }

    private void Log(ClusterEvent clusterEvent)
    {
        if (!_logger.IsEnabled(LogLevel.Information))
        {
            (clusterEvent as MessageReceived)?.Message.Dispose();
            return;
        }

        switch (clusterEvent)
        {
            case ConnectionLost lost:
                LogConnectionLost(_logger, lost.Reason?.Message ?? "unknown");
                break;
            case Reconnected reconnected:
                LogReconnected(_logger, reconnected.Node, reconnected.Attempts, reconnected.Downtime);
                break;
            case ReconnectFailed failed:
                LogReconnectFailed(_logger, failed.Node, failed.Attempt, failed.Error.Message);
                break;
            case PublishingBlocked blocked:
                LogBlocked(_logger, blocked.Node, blocked.Reason);
                break;
            case PublishingUnblocked unblocked:
                LogUnblocked(_logger, unblocked.Node);
                break;
            case MessageReceived received:
                // From a consumer the application made without a callback: its messages are meant for the events,
                // which this service reads. Left unsettled (the broker requeues them when that channel closes).
                LogMessageInEvents(_logger, received.Message);
                received.Message.Dispose();
                break;
            default:
                LogEvent(_logger, clusterEvent.GetType().Name);
                break;
        }
    }

    private static async Task WithCancellation(Task task, CancellationToken cancellationToken)
    {
        if (!cancellationToken.CanBeCanceled || task.IsCompleted)
        {
            await task.ConfigureAwait(false);
            return;
        }

        var cancelled = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        using (cancellationToken.Register(static state => ((TaskCompletionSource<bool>)state!).TrySetResult(true), cancelled))
        {
            if (await Task.WhenAny(task, cancelled.Task).ConfigureAwait(false) != task)
            {
                throw new OperationCanceledException(cancellationToken);
            }
        }

        await task.ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 9001, Level = LogLevel.Information, Message = "CoolAmqp connected to {Node}; {Consumers} hosted consumers online")]
    private static partial void LogStarted(ILogger logger, NodeDefinition? node, int consumers);

    [LoggerMessage(EventId = 9002, Level = LogLevel.Warning, Message = "CoolAmqp's stop was cut short by the host's shutdown timeout")]
    private static partial void LogStopCutShort(ILogger logger);

    [LoggerMessage(EventId = 9003, Level = LogLevel.Error, Message = "Reading CoolAmqp's events failed")]
    private static partial void LogEventsFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 9004, Level = LogLevel.Error, Message = "A hosted CoolAmqp consumer could not go online")]
    private static partial void LogConsumerFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 9010, Level = LogLevel.Warning, Message = "CoolAmqp lost its connection: {Reason}")]
    private static partial void LogConnectionLost(ILogger logger, string reason);

    [LoggerMessage(EventId = 9011, Level = LogLevel.Information, Message = "CoolAmqp reconnected to {Node} after {Attempts} attempts and {Downtime}")]
    private static partial void LogReconnected(ILogger logger, NodeDefinition node, int attempts, TimeSpan downtime);

    [LoggerMessage(EventId = 9012, Level = LogLevel.Warning, Message = "CoolAmqp's reconnection attempt {Attempt} to {Node} failed: {Error}")]
    private static partial void LogReconnectFailed(ILogger logger, NodeDefinition node, int attempt, string error);

    [LoggerMessage(EventId = 9013, Level = LogLevel.Warning, Message = "The broker {Node} blocks publishing: {Reason}")]
    private static partial void LogBlocked(ILogger logger, NodeDefinition node, string reason);

    [LoggerMessage(EventId = 9014, Level = LogLevel.Information, Message = "The broker {Node} unblocked publishing")]
    private static partial void LogUnblocked(ILogger logger, NodeDefinition node);

    [LoggerMessage(EventId = 9015, Level = LogLevel.Warning,
        Message = "{Message} arrived in CoolAmqp's events, which the hosting service reads and logs (LogEvents); it was left unsettled. Set LogEvents to false to read the events yourself")]
    private static partial void LogMessageInEvents(ILogger logger, ReceivedMessage message);

    [LoggerMessage(EventId = 9016, Level = LogLevel.Information, Message = "CoolAmqp event: {Event}")]
    private static partial void LogEvent(ILogger logger, string @event);
}
