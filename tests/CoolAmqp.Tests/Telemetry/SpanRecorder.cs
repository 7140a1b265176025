using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading.Tasks;
using CoolAmqp.Telemetry;
using NUnit.Framework;

namespace CoolAmqp.Tests.Telemetry;

/// <summary>An <see cref="ActivityListener"/> on CoolAmqp's and RabbitMQ.Client's sources that samples everything and
/// keeps every span that ended.</summary>
internal sealed class SpanRecorder : IDisposable
{
    private readonly ActivityListener _listener;
    private readonly ConcurrentQueue<Activity> _stopped = new();

    public SpanRecorder()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == CoolAmqpTelemetry.ActivitySourceName ||
                                       source.Name.StartsWith("RabbitMQ.Client", StringComparison.Ordinal),
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity => _stopped.Enqueue(activity),
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public IReadOnlyList<Activity> Stopped => [.. _stopped];

    /// <summary>The one ended span matching <paramref name="match"/>, waiting up to 10 s for it.</summary>
    public async Task<Activity> SingleAsync(Func<Activity, bool> match, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            Activity[] found = [.. _stopped.Where(match)];
            if (found.Length == 1)
            {
                return found[0];
            }

            if (found.Length > 1)
            {
                Assert.Fail($"{found.Length} spans are {what}: {string.Join(", ", found.Select(a => a.DisplayName))}");
            }

            if (deadline.Elapsed > TimeSpan.FromSeconds(10))
            {
                Assert.Fail($"No span is {what}; ended: {string.Join(", ", _stopped.Select(a => a.DisplayName))}");
            }

            await Task.Delay(20);
        }
    }

    public void Dispose() => _listener.Dispose();
}
