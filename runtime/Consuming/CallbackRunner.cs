using System;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using CoolAmqp.Channels;
using CoolAmqp.Connections;
using CoolAmqp.Telemetry;
using Microsoft.Extensions.Logging;

namespace CoolAmqp.Consuming;

/// <summary>
/// Runs a consumer's callbacks: the one place user code is called with a delivery, its failures logged and reported to
/// <see cref="ConsumerOptions.OnCallbackError"/> (never stopping the consumer), and its process span and duration
/// recorded when someone listens (<see cref="CoolAmqpTelemetry"/>). Every dispatcher goes through it.
/// </summary>
internal sealed partial class CallbackRunner
{
    private readonly Consumer _consumer;
    private readonly ConsumerOptions _options;
    private readonly ILogger _logger;
    private readonly CancellationToken _stopping;

    /// <param name="consumer">Whose callbacks (its queue's name and connection label logs and spans).</param>
    /// <param name="logger">Where failures are logged.</param>
    /// <param name="stopping">Fires when the consumer ends: the token <see cref="ConsumerOptions.OnMessageAsync"/>
    /// gets.</param>
    public CallbackRunner(Consumer consumer, ILogger logger, CancellationToken stopping)
    {
        _consumer = consumer;
        _options = consumer.Options;
        _logger = logger;
        _stopping = stopping;
    }

    private string QueueName => _consumer.Queue.Name;

    /// <summary>Runs <see cref="ConsumerOptions.OnMessage"/>; returns when it does.</summary>
    public void Run(ReceivedMessage message)
    {
        if (CoolAmqpTelemetry.ProcessObserved)
        {
            // A synchronous callback: the task is complete when it returns.
            ValueTask observed = RunObservedAsync(message);
            if (!observed.IsCompletedSuccessfully)
            {
                observed.AsTask().GetAwaiter().GetResult();
            }

            return;
        }

        try
        {
            _options.OnMessage!(message);
        }
#pragma warning disable CA1031 // User code: log and report, never stop the consumer.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Failed(message, ex);
        }
    }

    /// <summary>Runs <see cref="ConsumerOptions.OnMessageAsync"/>; completes when its task does (synchronously, without
    /// allocating, when the callback completed synchronously).</summary>
    public ValueTask RunAsync(ReceivedMessage message)
    {
        if (CoolAmqpTelemetry.ProcessObserved)
        {
            return RunObservedAsync(message);
        }

        try
        {
            ValueTask pending = _options.OnMessageAsync!(message, _stopping);
            if (!pending.IsCompletedSuccessfully)
            {
                return AwaitAsync(pending, message);
            }

            pending.GetAwaiter().GetResult();
        }
#pragma warning disable CA1031 // User code: log and report, never stop the consumer.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Failed(message, ex);
        }

        return default;
    }

    /// <summary>Hands a pooled delivery to <see cref="ConsumerOptions.OnDelivery"/>; a no-ack one ends when the
    /// callback returns.</summary>
    public void Run(DeliveryRecord record, long token)
    {
        if (!record.IsCurrent(token))
        {
            // Ended before its turn: its channel closed (the broker requeues it), or a multiple-settle of a later
            // delivery covered it. Its record may hold another delivery by now.
            return;
        }

        ulong tag = record.Tag;
        long started = 0;
        Activity? activity = null;
        string? exchange = null;
        Exception? failure = null;
        bool observed = CoolAmqpTelemetry.ProcessObserved;
        if (observed)
        {
            var delivery = new Delivery(record, token);
            exchange = delivery.Exchange;
            started = Stopwatch.GetTimestamp();
            activity = CoolAmqpTelemetry.Source.HasListeners()
                ? StartProcess(exchange, delivery.RoutingKey, tag, delivery.Body.Length, delivery.Properties)
                : null;
        }

        try
        {
            _options.OnDelivery!(new Delivery(record, token));
        }
#pragma warning disable CA1031 // User code: log and report, never stop the consumer.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            failure = ex;
            LogMessageCallbackFailed(_logger, QueueName, tag, ex);
            if (_options.OnCallbackError is not null)
            {
                ReportDeliveryError(new Delivery(record, token), ex);
            }
        }
        finally
        {
            if (observed)
            {
                CoolAmqpTelemetry.StopProcess(activity, started, QueueName, exchange!, failure);
            }

            if (_options.NoAck)
            {
                record.End(token);
            }
        }
    }

    private async ValueTask AwaitAsync(ValueTask pending, ReceivedMessage message)
    {
        try
        {
            await pending.ConfigureAwait(false);
        }
#pragma warning disable CA1031 // User code: log and report, never stop the consumer.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Failed(message, ex);
        }
    }

    /// <summary>The callback with its process span and duration (someone listens).</summary>
    private async ValueTask RunObservedAsync(ReceivedMessage message)
    {
        // Read before the callback: a pooled message's buffer goes back to the pool when it is settled.
        string exchange = message.Exchange;
        ulong tag = message.DeliveryTag;
        Activity? activity = CoolAmqpTelemetry.Source.HasListeners()
            ? StartProcess(exchange, message.RoutingKey, tag, message.Body.Length, message.Properties)
            : null;
        long started = Stopwatch.GetTimestamp();
        Exception? failure = null;
        try
        {
            if (_options.OnMessageAsync is { } onMessageAsync)
            {
                await onMessageAsync(message, _stopping).ConfigureAwait(false);
            }
            else
            {
                _options.OnMessage!(message);
            }
        }
#pragma warning disable CA1031 // User code: log and report, never stop the consumer.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            failure = ex;
            Failed(message, ex, tag);
        }
        finally
        {
            CoolAmqpTelemetry.StopProcess(activity, started, QueueName, exchange, failure);
        }
    }

    private Activity? StartProcess(string exchange, string routingKey, ulong tag, int bodyLength,
        MessageProperties properties)
    {
        ConnectionSettings? settings = _consumer.Connection?.Settings;
        return CoolAmqpTelemetry.StartProcess(QueueName, exchange, routingKey, tag, bodyLength, properties,
            settings?.Host, settings?.Port ?? 0);
    }

    private void Failed(ReceivedMessage message, Exception error) => Failed(message, error, message.DeliveryTag);

    private void Failed(ReceivedMessage message, Exception error, ulong tag)
    {
        LogMessageCallbackFailed(_logger, QueueName, tag, error);
        ReportCallbackError(message, error);
    }

    private void ReportDeliveryError(Delivery delivery, Exception error)
    {
        ReceivedMessage copy;
        try
        {
            copy = delivery.ToReceivedMessage();
        }
        catch (ObjectDisposedException)
        {
            // Settled before the callback threw: nothing left to report it with (it was logged).
            return;
        }

        ReportCallbackError(copy, error);
    }

    private void ReportCallbackError(ReceivedMessage message, Exception error)
    {
        if (_options.OnCallbackError is not { } onError)
        {
            return;
        }

        try
        {
            onError(message, error);
        }
#pragma warning disable CA1031 // User code.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            AmqpConnection.LogCallbackFailed(_logger, nameof(ConsumerOptions.OnCallbackError), ex);
        }
    }

    [LoggerMessage(EventId = 4006, Level = LogLevel.Error, Message = "The message callback of the consumer of '{Queue}' threw for delivery {DeliveryTag}")]
    private static partial void LogMessageCallbackFailed(ILogger logger, string queue, ulong deliveryTag, Exception exception);
}
