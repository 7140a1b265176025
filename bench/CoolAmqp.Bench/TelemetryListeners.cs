using System;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Threading;
using CoolAmqp.Telemetry;

namespace CoolAmqp.Bench;

/// <summary>--otel: what an OpenTelemetry SDK does per span and measurement, minus the export: every span of CoolAmqp
/// and RabbitMQ.Client sampled with all its data, every instrument of their meters listened to.</summary>
internal sealed class TelemetryListeners : IDisposable
{
    private readonly ActivityListener _activities;
    private readonly MeterListener _meters;
    private long _spans;
    private long _measurements;

    private TelemetryListeners()
    {
        _activities = new ActivityListener
        {
            ShouldListenTo = source => source.Name == CoolAmqpTelemetry.ActivitySourceName || source.Name.StartsWith("RabbitMQ.Client", StringComparison.Ordinal),
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = _ => Interlocked.Increment(ref _spans),
        };
        _meters = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == CoolAmqpTelemetry.MeterName || instrument.Meter.Name.StartsWith("RabbitMQ", StringComparison.Ordinal))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        _meters.SetMeasurementEventCallback<long>((_, _, _, _) => Interlocked.Increment(ref _measurements));
        _meters.SetMeasurementEventCallback<double>((_, _, _, _) => Interlocked.Increment(ref _measurements));
        _meters.SetMeasurementEventCallback<int>((_, _, _, _) => Interlocked.Increment(ref _measurements));
    }

    public static TelemetryListeners Start()
    {
        var listeners = new TelemetryListeners();
        ActivitySource.AddActivityListener(listeners._activities);
        listeners._meters.Start();
        Console.WriteLine("--otel: listening to CoolAmqp and RabbitMQ.Client telemetry (all spans sampled, all instruments)");
        return listeners;
    }

    public void Dispose()
    {
        Console.WriteLine($"--otel: {Interlocked.Read(ref _spans)} spans, {Interlocked.Read(ref _measurements)} measurements");
        _activities.Dispose();
        _meters.Dispose();
    }
}
