using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Reflection;
using System.Runtime.CompilerServices;
using CoolAmqp.Connections;
using CoolAmqp.Framing;

namespace CoolAmqp.Telemetry;

/// <summary>
/// The names under which CoolAmqp reports traces (an <see cref="ActivitySource"/>) and metrics (a <see cref="Meter"/>),
/// following OpenTelemetry's messaging semantic conventions for RabbitMQ. Subscribe to them by name, e.g.
/// <c>AddSource(CoolAmqpTelemetry.ActivitySourceName)</c> and <c>AddMeter(CoolAmqpTelemetry.MeterName)</c> with the
/// OpenTelemetry SDK. Nothing is measured, tagged or allocated for telemetry while nobody listens.
/// </summary>
/// <remarks>
/// Spans: <c>publish {exchange}</c> (producer; with confirms it ends at the broker's answer), <c>process {queue}</c>
/// (consumer, around each consumer callback, parented by the publisher's trace context read from the message headers,
/// and linked to it), <c>receive {queue}</c> (consumer, <c>GetAsync</c>), <c>ack|nack|reject {exchange}</c>,
/// <c>declare {name}</c> and <c>bind {queue}</c> (client). A publish writes W3C trace context (<c>traceparent</c>,
/// <c>tracestate</c>, <c>baggage</c>, through <see cref="DistributedContextPropagator.Current"/>) into a copy of the
/// message's headers, as RabbitMQ.Client 7 and the OpenTelemetry instrumentations of other clients do.
/// Metrics: <c>messaging.client.sent.messages</c>, <c>messaging.client.consumed.messages</c>,
/// <c>messaging.client.operation.duration</c> (publish to confirm), <c>messaging.process.duration</c> (consumer
/// callback), and under <c>coolamqp.client.*</c>: confirmed, nacked, returned, acked and rejected messages, sent and
/// received bytes, open connections and channels, reconnects and blocked time.
/// </remarks>
public static class CoolAmqpTelemetry
{
    /// <summary>The name of CoolAmqp's <see cref="ActivitySource"/>: <c>CoolAmqp</c>.</summary>
    public const string ActivitySourceName = "CoolAmqp";

    /// <summary>The name of CoolAmqp's <see cref="Meter"/>: <c>CoolAmqp</c>.</summary>
    public const string MeterName = "CoolAmqp";

    // ---- attribute names and values (OpenTelemetry semantic conventions) ----
    internal const string MessagingSystem = "messaging.system";
    internal const string RabbitMq = "rabbitmq";
    internal const string OperationName = "messaging.operation.name";
    internal const string OperationType = "messaging.operation.type";
    internal const string DestinationName = "messaging.destination.name";
    internal const string SubscriptionName = "messaging.destination.subscription.name";
    internal const string RoutingKey = "messaging.rabbitmq.destination.routing_key";
    internal const string DeliveryTag = "messaging.rabbitmq.message.delivery_tag";
    internal const string BodySize = "messaging.message.body.size";
    internal const string MessageId = "messaging.message.id";
    internal const string ConversationId = "messaging.message.conversation_id";
    internal const string ServerAddress = "server.address";
    internal const string ServerPort = "server.port";
    internal const string ErrorType = "error.type";
    internal const string ProtocolName = "network.protocol.name";
    internal const string ProtocolVersion = "network.protocol.version";

    /// <summary>The name RabbitMQ.Client and the conventions use for the default exchange in span names.</summary>
    internal const string DefaultExchange = "amq.default";

    private static readonly string? Version =
        typeof(CoolAmqpTelemetry).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;

    internal static readonly ActivitySource Source = new(ActivitySourceName, Version);
    internal static readonly Meter Meter = new(MeterName, Version);

    private static readonly double[] DurationBuckets = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

    internal static readonly Counter<long> SentMessages = Meter.CreateCounter<long>(
        "messaging.client.sent.messages", "{message}", "Messages published (appended for the socket).");

    internal static readonly Counter<long> ConsumedMessages = Meter.CreateCounter<long>(
        "messaging.client.consumed.messages", "{message}", "Messages delivered to a consumer or received by basic.get.");

    internal static readonly Histogram<double> OperationDuration = Meter.CreateHistogram<double>(
        "messaging.client.operation.duration", "s", "Publish with confirms: from the append to the broker's answer.",
        tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });

    internal static readonly Histogram<double> ProcessDuration = Meter.CreateHistogram<double>(
        "messaging.process.duration", "s", "Duration of a consumer callback.",
        tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });

    internal static readonly Counter<long> ConfirmedMessages = Meter.CreateCounter<long>(
        "coolamqp.client.confirmed.messages", "{message}", "Publishes the broker confirmed (basic.ack).");

    internal static readonly Counter<long> NackedMessages = Meter.CreateCounter<long>(
        "coolamqp.client.nacked.messages", "{message}", "Publishes the broker refused (basic.nack).");

    internal static readonly Counter<long> ReturnedMessages = Meter.CreateCounter<long>(
        "coolamqp.client.returned.messages", "{message}", "Mandatory publishes the broker returned (basic.return).");

    internal static readonly Counter<long> AckedMessages = Meter.CreateCounter<long>(
        "coolamqp.client.acked.messages", "{message}", "Deliveries acknowledged (basic.ack calls that settled).");

    internal static readonly Counter<long> RejectedMessages = Meter.CreateCounter<long>(
        "coolamqp.client.rejected.messages", "{message}",
        "Deliveries refused (basic.nack or basic.reject calls that settled; messaging.operation.name tells which).");

    internal static readonly Counter<long> Reconnects = Meter.CreateCounter<long>(
        "coolamqp.client.reconnects", "{reconnect}", "Connections re-established after a loss.");

    internal static readonly Counter<double> BlockedDuration = Meter.CreateCounter<double>(
        "coolamqp.client.blocked.duration", "s", "Time connections spent blocked by the broker (connection.blocked).");

    private static readonly object Sync = new();
    private static readonly List<AmqpConnection> Open = [];
    private static readonly Dictionary<string, (long Sent, long Received)> Retired = new(StringComparer.Ordinal);

    static CoolAmqpTelemetry()
    {
        Meter.CreateObservableCounter("coolamqp.client.sent.bytes", ObserveSentBytes, "By",
            "Bytes written to brokers' sockets.");
        Meter.CreateObservableCounter("coolamqp.client.received.bytes", ObserveReceivedBytes, "By",
            "Bytes read from brokers' sockets.");
        Meter.CreateObservableUpDownCounter("coolamqp.client.connections", ObserveConnections, "{connection}",
            "Open connections.");
        Meter.CreateObservableUpDownCounter("coolamqp.client.channels", ObserveChannels, "{channel}",
            "Open channels.");
    }

    // ---- gates (a field read each: the hot paths test one and skip everything else) ----

    /// <summary>Whether confirm outcomes are measured.</summary>
    internal static bool ConfirmObserved
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => OperationDuration.Enabled || ConfirmedMessages.Enabled || NackedMessages.Enabled || ReturnedMessages.Enabled;
    }

    /// <summary>Whether consumer callbacks are traced or timed.</summary>
    internal static bool ProcessObserved
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Source.HasListeners() || ProcessDuration.Enabled;
    }

    /// <summary>Whether settlements are traced or counted.</summary>
    internal static bool SettleObserved
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Source.HasListeners() || AckedMessages.Enabled || RejectedMessages.Enabled;
    }

    // ---- connections (observable instruments) ----

    internal static void ConnectionOpened(AmqpConnection connection)
    {
        lock (Sync)
        {
            Open.Add(connection);
        }
    }

    internal static void ConnectionEnded(AmqpConnection connection)
    {
        lock (Sync)
        {
            if (!Open.Remove(connection))
            {
                return;
            }

            string host = connection.Settings.Host;
            Retired.TryGetValue(host, out (long Sent, long Received) totals);
            Retired[host] = (totals.Sent + connection.Writer.SentTotal, totals.Received + connection.ReceivedTotal);
        }
    }

    private static IEnumerable<Measurement<long>> ObserveSentBytes() => ObserveBytes(sent: true);

    private static IEnumerable<Measurement<long>> ObserveReceivedBytes() => ObserveBytes(sent: false);

    private static List<Measurement<long>> ObserveBytes(bool sent)
    {
        lock (Sync)
        {
            var totals = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (KeyValuePair<string, (long Sent, long Received)> retired in Retired)
            {
                totals[retired.Key] = sent ? retired.Value.Sent : retired.Value.Received;
            }

            foreach (AmqpConnection connection in Open)
            {
                string host = connection.Settings.Host;
                totals.TryGetValue(host, out long total);
                totals[host] = total + (sent ? connection.Writer.SentTotal : connection.ReceivedTotal);
            }

            var measurements = new List<Measurement<long>>(totals.Count);
            foreach (KeyValuePair<string, long> total in totals)
            {
                measurements.Add(new Measurement<long>(total.Value, new KeyValuePair<string, object?>(MessagingSystem, RabbitMq),
                    new KeyValuePair<string, object?>(ServerAddress, total.Key)));
            }

            return measurements;
        }
    }

    private static List<Measurement<int>> ObserveConnections() => ObserveOpen(channels: false);

    private static List<Measurement<int>> ObserveChannels() => ObserveOpen(channels: true);

    private static List<Measurement<int>> ObserveOpen(bool channels)
    {
        lock (Sync)
        {
            var counts = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (AmqpConnection connection in Open)
            {
                string host = connection.Settings.Host;
                counts.TryGetValue(host, out int count);
                counts[host] = count + (channels ? connection.ChannelCount : 1);
            }

            var measurements = new List<Measurement<int>>(counts.Count);
            foreach (KeyValuePair<string, int> count in counts)
            {
                measurements.Add(new Measurement<int>(count.Value, new KeyValuePair<string, object?>(MessagingSystem, RabbitMq),
                    new KeyValuePair<string, object?>(ServerAddress, count.Key)));
            }

            return measurements;
        }
    }

    // ---- metrics ----

    /// <summary>One publish appended (call when <see cref="SentMessages"/> is enabled).</summary>
    internal static void RecordSent(string exchange, AmqpConnection connection)
    {
        var tags = new TagList
        {
            { MessagingSystem, RabbitMq },
            { OperationName, "publish" },
            { DestinationName, exchange },
            { ServerAddress, connection.Settings.Host },
            { ServerPort, connection.BoxedPort },
        };
        SentMessages.Add(1, in tags);
    }

    /// <summary>The outcome of a publish with confirms (call when <see cref="ConfirmObserved"/>).</summary>
    /// <param name="exchange">Where it was published.</param>
    /// <param name="serverAddress">The broker's host.</param>
    /// <param name="started">When it was appended (<see cref="Stopwatch.GetTimestamp"/>), 0 if not timed.</param>
    /// <param name="error">null if confirmed, else its error.type.</param>
    /// <param name="outcome">Which counter: the confirmed, nacked or returned one (null for none).</param>
    internal static void RecordConfirm(string exchange, string? serverAddress, long started, string? error, Counter<long>? outcome)
    {
        var tags = new TagList
        {
            { MessagingSystem, RabbitMq },
            { OperationName, "publish" },
            { DestinationName, exchange },
        };
        if (serverAddress is not null)
        {
            tags.Add(ServerAddress, serverAddress);
        }

        if (error is not null)
        {
            tags.Add(ErrorType, error);
        }

        outcome?.Add(1, in tags);
        if (started != 0 && OperationDuration.Enabled)
        {
            OperationDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, in tags);
        }
    }

    /// <summary>One delivery or basic.get-ok received (call when <see cref="ConsumedMessages"/> is enabled).</summary>
    internal static void RecordConsumed(string operation, string exchange, string queue, string? serverAddress)
    {
        var tags = new TagList
        {
            { MessagingSystem, RabbitMq },
            { OperationName, operation },
            { DestinationName, exchange },
            { SubscriptionName, queue },
        };
        if (serverAddress is not null)
        {
            tags.Add(ServerAddress, serverAddress);
        }

        ConsumedMessages.Add(1, in tags);
    }

    internal static void RecordReconnect(string serverAddress) =>
        Reconnects.Add(1, new KeyValuePair<string, object?>(MessagingSystem, RabbitMq),
            new KeyValuePair<string, object?>(ServerAddress, serverAddress));

    internal static void RecordBlocked(TimeSpan blocked, string serverAddress) =>
        BlockedDuration.Add(blocked.TotalSeconds, new KeyValuePair<string, object?>(MessagingSystem, RabbitMq),
            new KeyValuePair<string, object?>(ServerAddress, serverAddress));

    // ---- errors ----

    /// <summary>error.type for a failure: the reply code's name for a broker error (e.g. <c>NOT_FOUND</c>), else the
    /// exception's type.</summary>
    internal static string ErrorTypeOf(Exception error) => error switch
    {
        AmqpException amqp => AmqpExceptionName(amqp.ReplyCode),
        MessageReturnedException returned => AmqpExceptionName(returned.ReplyCode),
        _ => error.GetType().FullName ?? "_OTHER",
    };

    private static string AmqpExceptionName(ushort replyCode) =>
        ReplyCodes.GetName(replyCode) ?? replyCode.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Marks a span failed.</summary>
    internal static void Fail(Activity? activity, Exception error)
    {
        if (activity is null)
        {
            return;
        }

        activity.SetStatus(ActivityStatusCode.Error, error.Message);
        if (activity.IsAllDataRequested)
        {
            activity.SetTag(ErrorType, ErrorTypeOf(error));
            activity.AddException(error);
        }
    }

    // ---- spans ----

    private static string Target(string exchange) => exchange.Length == 0 ? DefaultExchange : exchange;

    private static void SetCommonTags(Activity activity, string? serverAddress, int serverPort)
    {
        activity.SetTag(MessagingSystem, RabbitMq);
        activity.SetTag(ProtocolName, "amqp");
        activity.SetTag(ProtocolVersion, "0.9.1");
        if (serverAddress is not null)
        {
            activity.SetTag(ServerAddress, serverAddress);
            activity.SetTag(ServerPort, serverPort);
        }
    }

    /// <summary>Starts the producer span of a publish (call only when <see cref="Source"/> has listeners).</summary>
    internal static Activity? StartPublish(Message message, string exchange, string routingKey, bool confirm,
        AmqpConnection? connection)
    {
        Activity? activity = Source.StartActivity("publish " + Target(exchange), ActivityKind.Producer);
        if (activity is { IsAllDataRequested: true })
        {
            SetCommonTags(activity, connection?.Settings.Host, connection?.Settings.Port ?? 0);
            activity.SetTag(OperationName, "publish");
            activity.SetTag(OperationType, "send");
            activity.SetTag(DestinationName, exchange);
            if (routingKey.Length > 0)
            {
                activity.SetTag(RoutingKey, routingKey);
            }

            activity.SetTag(BodySize, message.Body.Length);
            activity.SetTag("coolamqp.publish.confirm", confirm);
            SetMessageTags(activity, message.Properties);
        }

        return activity;
    }

    private static void SetMessageTags(Activity activity, MessageProperties properties)
    {
        if (properties.MessageId is { Length: > 0 } id)
        {
            activity.SetTag(MessageId, id);
        }

        if (properties.CorrelationId is { Length: > 0 } correlation)
        {
            activity.SetTag(ConversationId, correlation);
        }
    }

    /// <summary>The message with <paramref name="activity"/>'s trace context (and baggage) added to a copy of its
    /// headers; the caller's message and headers are left as they are.</summary>
    internal static Message WithContext(Message message, Activity activity)
    {
        MessageProperties properties = message.Properties;
        FieldTable headers = properties.Headers is { } existing ? new FieldTable(existing) : new FieldTable(3);
        DistributedContextPropagator.Current.Inject(activity, headers, static (carrier, name, value) =>
        {
            if (carrier is FieldTable table)
            {
                table[name] = value;
            }
        });
        return new Message(message.Body, properties with { Headers = headers });
    }

    /// <summary>The trace context a publisher wrote into <paramref name="headers"/> (default if none).</summary>
    internal static ActivityContext Extract(FieldTable? headers, out IEnumerable<KeyValuePair<string, string?>>? baggage)
    {
        baggage = null;
        if (headers is null || headers.Count == 0)
        {
            return default;
        }

        DistributedContextPropagator propagator = DistributedContextPropagator.Current;
        propagator.ExtractTraceIdAndState(headers, GetHeader, out string? traceParent, out string? traceState);
        if (traceParent is null || !ActivityContext.TryParse(traceParent, traceState, isRemote: true, out ActivityContext context))
        {
            return default;
        }

        baggage = propagator.ExtractBaggage(headers, GetHeader);
        return context;
    }

    private static readonly DistributedContextPropagator.PropagatorGetterCallback GetHeader = static (
        object? carrier, string name, out string? value, out IEnumerable<string>? values) =>
    {
        values = null;
        value = null;
        if (carrier is FieldTable table && table.TryGetValue(name, out object? raw))
        {
            // CoolAmqp and pika read a longstr as text; RabbitMQ.Client writes and reads them as bytes.
            value = raw switch
            {
                string text => text,
                byte[] bytes => System.Text.Encoding.UTF8.GetString(bytes),
                _ => null,
            };
        }
    };

    /// <summary>Starts the consumer span around a consumer callback, parented by the publisher's context (and linked
    /// to it). Call only when <see cref="Source"/> has listeners.</summary>
    internal static Activity? StartProcess(string queue, string exchange, string routingKey, ulong deliveryTag,
        int bodySize, MessageProperties properties, string? serverAddress, int serverPort)
    {
        ActivityContext parent = Extract(properties.Headers, out IEnumerable<KeyValuePair<string, string?>>? baggage);
        ActivityLink[]? links = parent == default ? null : [new ActivityLink(parent)];
        Activity? activity = Source.StartActivity(ActivityKind.Consumer, parent, tags: null, links, default,
            "process " + queue);
        if (activity is null)
        {
            return null;
        }

        AddBaggage(activity, baggage);
        if (activity.IsAllDataRequested)
        {
            SetCommonTags(activity, serverAddress, serverPort);
            activity.SetTag(OperationName, "process");
            activity.SetTag(OperationType, "process");
            SetDeliveryTags(activity, queue, exchange, routingKey, deliveryTag, bodySize, properties);
        }

        return activity;
    }

    private static void AddBaggage(Activity activity, IEnumerable<KeyValuePair<string, string?>>? baggage)
    {
        if (baggage is null)
        {
            return;
        }

        foreach (KeyValuePair<string, string?> item in baggage)
        {
            activity.AddBaggage(item.Key, item.Value);
        }
    }

    private static void SetDeliveryTags(Activity activity, string queue, string exchange, string routingKey,
        ulong deliveryTag, int bodySize, MessageProperties properties)
    {
        activity.SetTag(DestinationName, exchange);
        activity.SetTag(SubscriptionName, queue);
        if (routingKey.Length > 0)
        {
            activity.SetTag(RoutingKey, routingKey);
        }

        activity.SetTag(DeliveryTag, (long)deliveryTag);
        activity.SetTag(BodySize, bodySize);
        SetMessageTags(activity, properties);
    }

    /// <summary>Ends a consumer callback: its span and its duration.</summary>
    internal static void StopProcess(Activity? activity, long started, string queue, string exchange, Exception? error)
    {
        if (activity is not null)
        {
            if (error is not null)
            {
                Fail(activity, error);
            }

            activity.Dispose();
        }

        if (ProcessDuration.Enabled)
        {
            var tags = new TagList
            {
                { MessagingSystem, RabbitMq },
                { OperationName, "process" },
                { DestinationName, exchange },
                { SubscriptionName, queue },
            };
            if (error is not null)
            {
                tags.Add(ErrorType, ErrorTypeOf(error));
            }

            ProcessDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, in tags);
        }
    }

    /// <summary>Starts the consumer span of a basic.get (call only when <see cref="Source"/> has listeners); the
    /// message's context is linked once it arrived (<see cref="Received"/>).</summary>
    internal static Activity? StartReceive(string queue, AmqpConnection connection)
    {
        Activity? activity = Source.StartActivity("receive " + queue, ActivityKind.Consumer);
        if (activity is { IsAllDataRequested: true })
        {
            SetCommonTags(activity, connection.Settings.Host, connection.Settings.Port);
            activity.SetTag(OperationName, "receive");
            activity.SetTag(OperationType, "receive");
            activity.SetTag(SubscriptionName, queue);
        }

        return activity;
    }

    /// <summary>A basic.get got its message (or none).</summary>
    internal static void Received(Activity activity, string queue, ReceivedMessage? message)
    {
        if (message is null)
        {
            activity.SetTag("coolamqp.queue.empty", true);
            return;
        }

        MessageProperties properties = message.Properties;
        ActivityContext context = Extract(properties.Headers, out IEnumerable<KeyValuePair<string, string?>>? baggage);
        if (context != default)
        {
            activity.AddLink(new ActivityLink(context));
        }

        AddBaggage(activity, baggage);
        if (activity.IsAllDataRequested)
        {
            SetDeliveryTags(activity, queue, message.Exchange, message.RoutingKey, message.DeliveryTag, message.Body.Length,
                properties);
        }
    }

    /// <summary>Starts the client span of an ack, nack or reject (null when nobody traces).</summary>
    internal static Activity? StartSettle(string operation, string exchange, string routingKey, ulong deliveryTag)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        Activity? activity = Source.StartActivity(operation + " " + Target(exchange), ActivityKind.Client);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(MessagingSystem, RabbitMq);
            activity.SetTag(OperationName, operation);
            activity.SetTag(OperationType, "settle");
            activity.SetTag(DestinationName, exchange);
            if (routingKey.Length > 0)
            {
                activity.SetTag(RoutingKey, routingKey);
            }

            activity.SetTag(DeliveryTag, (long)deliveryTag);
        }

        return activity;
    }

    /// <summary>Ends a settlement: its span and its count (when it settled).</summary>
    internal static void StopSettle(Activity? activity, string operation, string exchange, bool settled, Exception? error)
    {
        if (activity is not null)
        {
            if (error is not null)
            {
                Fail(activity, error);
            }
            else if (activity.IsAllDataRequested)
            {
                activity.SetTag("coolamqp.settled", settled);
            }

            activity.Dispose();
        }

        Counter<long> counter = operation == "ack" ? AckedMessages : RejectedMessages;
        if (settled && counter.Enabled)
        {
            counter.Add(1, new KeyValuePair<string, object?>(MessagingSystem, RabbitMq),
                new KeyValuePair<string, object?>(OperationName, operation),
                new KeyValuePair<string, object?>(DestinationName, exchange));
        }
    }

    /// <summary>Starts the client span of a declaration or binding (null when nobody traces).</summary>
    /// <param name="operation"><c>declare</c>, <c>bind</c>, <c>unbind</c>.</param>
    /// <param name="target">What it is about: the queue's or the exchange's name.</param>
    /// <param name="exchange">The exchange involved, if any.</param>
    internal static Activity? StartTopology(string operation, string target, string? exchange)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        Activity? activity = Source.StartActivity(operation + " " + (target.Length == 0 ? "(server-named)" : target),
            ActivityKind.Client);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(MessagingSystem, RabbitMq);
            activity.SetTag(OperationName, operation);
            if (exchange is not null)
            {
                activity.SetTag(DestinationName, exchange);
            }
        }

        return activity;
    }
}
