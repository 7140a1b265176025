using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CoolAmqp.Extensions.Hosting;

/// <summary>
/// One hosted consumer: consumes its queue on the cluster, hands each message to a handler resolved from a new
/// scope, settles it, and on stop lets the handlers in flight finish before the consumer is cancelled (so that the
/// acknowledgements of those that succeed still reach the broker on the open channel).
/// </summary>
internal sealed partial class HostedConsumer : IDisposable
{
    private readonly ConsumerRegistration _registration;
    private readonly CoolAmqpConsumerOptions _options;
    private readonly IServiceScopeFactory _scopes;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource<bool> _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _inFlight;
    private Consumer? _consumer;

    public HostedConsumer(ConsumerRegistration registration, CoolAmqpConsumerOptions options, IServiceScopeFactory scopes,
        ILogger logger)
    {
        _registration = registration;
        _options = options;
        _scopes = scopes;
        _logger = logger;
    }

    public string QueueName => _registration.Queue;

    /// <summary>Starts consuming; the task completes when the consumer is online.</summary>
    public Task StartAsync(Cluster cluster)
    {
        var queue = new Queue(_registration.Queue, durable: _options.Durable);
        (Consumer consumer, Task ready) = cluster.Consume(queue, new ConsumerOptions
        {
            OnMessageAsync = HandleAsync,
            NoAck = _options.AutoAck,
            PrefetchCount = _options.PrefetchCount,
            MaxConcurrency = _options.MaxConcurrency,
            DeclareQueue = _options.DeclareQueue,
        });
        _consumer = consumer;
        return ready;
    }

    private async ValueTask HandleAsync(ReceivedMessage message, CancellationToken consumerStopping)
    {
        // Counted before the stopping check, so that DrainAsync never misses a handler that is about to run.
        Interlocked.Increment(ref _inFlight);
        try
        {
            if (_stopping.IsCancellationRequested)
            {
                // Arrived (prefetched) after the stop began: not handled, and left unsettled, so the broker requeues
                // it when the consumer's channel closes. A requeue now would only bring it back to this consumer.
                return;
            }

            using var stopping = CancellationTokenSource.CreateLinkedTokenSource(consumerStopping, _stopping.Token);
            try
            {
                AsyncServiceScope scope = _scopes.CreateAsyncScope();
                await using (scope.ConfigureAwait(false))
                {
                    var handler = (IMessageHandler)scope.ServiceProvider.GetRequiredService(_registration.HandlerType);
                    await handler.HandleAsync(message, stopping.Token).ConfigureAwait(false);
                }
            }
#pragma warning disable CA1031 // A handler's failure is settled and logged; it must not stop the consumer.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                Settle(message, ex, stopping.IsCancellationRequested);
                return;
            }

            if (!_options.AutoAck)
            {
                message.Ack();
            }
        }
        finally
        {
            if (Interlocked.Decrement(ref _inFlight) == 0 && _stopping.IsCancellationRequested)
            {
                _drained.TrySetResult(true);
            }
        }
    }

    private void Settle(ReceivedMessage message, Exception error, bool stopping)
    {
        if (stopping)
        {
            // Most likely failed because it was told to stop: the message was not handled, so it goes back to the
            // queue (left unsettled, the broker requeues it when the channel closes) rather than to the error path.
            LogHandlerStopped(_logger, _registration.Queue, message.DeliveryTag, error);
            return;
        }

        if (_options.AutoAck)
        {
            LogHandlerFailedAutoAck(_logger, _registration.Queue, message.DeliveryTag, error);
            return;
        }

        bool requeue = _options.OnHandlerError == HandlerErrorAction.Requeue;
        LogHandlerFailed(_logger, _registration.Queue, message.DeliveryTag, requeue, error);
        message.Reject(requeue);
    }

    /// <summary>Fires the handlers' tokens and stops handing out messages.</summary>
    public void BeginStop()
    {
        _stopping.Cancel();
        if (Volatile.Read(ref _inFlight) == 0)
        {
            _drained.TrySetResult(true);
        }
    }

    /// <summary>Completes when no handler runs any more (after <see cref="BeginStop"/>).</summary>
    public Task Drained => _drained.Task;

    /// <summary>Cancels the consumer (basic.cancel, channel closed; unsettled messages go back to the queue).</summary>
    public Task CancelAsync(CancellationToken cancellationToken) =>
        _consumer?.CancelAsync(cancellationToken) ?? Task.CompletedTask;

    public void Dispose() => _stopping.Dispose();

    [LoggerMessage(EventId = 9101, Level = LogLevel.Error,
        Message = "The handler of queue '{Queue}' failed on delivery {DeliveryTag}; rejected (requeue: {Requeue})")]
    private static partial void LogHandlerFailed(ILogger logger, string queue, ulong deliveryTag, bool requeue, Exception exception);

    [LoggerMessage(EventId = 9102, Level = LogLevel.Error,
        Message = "The handler of queue '{Queue}' failed on delivery {DeliveryTag}; the consumer is auto-ack, so the message is lost")]
    private static partial void LogHandlerFailedAutoAck(ILogger logger, string queue, ulong deliveryTag, Exception exception);

    [LoggerMessage(EventId = 9103, Level = LogLevel.Information,
        Message = "The handler of queue '{Queue}' stopped on delivery {DeliveryTag} as the host stops; the broker requeues it")]
    private static partial void LogHandlerStopped(ILogger logger, string queue, ulong deliveryTag, Exception exception);
}
