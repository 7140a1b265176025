using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading.Tasks;
using CoolAmqp.Telemetry;
using CoolAmqp.Tests.Integration;
using NUnit.Framework;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace CoolAmqp.Tests.Telemetry;

/// <summary>CoolAmqp's spans and metrics through the OpenTelemetry SDK (in-memory exporters), as an application would
/// see them.</summary>
[TestFixture]
[Category("Integration")]
[NonParallelizable]
public class OpenTelemetrySdkTests : SharedClusterFixture
{
    private static long SumOf(IEnumerable<MetricSnapshot> metrics, string name, string tag, string value)
    {
        long sum = 0;
        foreach (MetricSnapshot metric in metrics.Where(m => m.Name == name))
        {
            foreach (MetricPoint point in metric.MetricPoints)
            {
                bool match = false;
                foreach (KeyValuePair<string, object?> t in point.Tags)
                {
                    match |= t.Key == tag && Equals(t.Value, value);
                }

                if (match)
                {
                    sum += metric.MetricType == MetricType.Histogram ? point.GetHistogramCount() : point.GetSumLong();
                }
            }
        }

        return sum;
    }

    [Test]
    public async Task The_SDK_exports_publish_and_process_spans_of_one_trace_and_the_message_counts()
    {
        var spans = new List<Activity>();
        var metrics = new List<MetricSnapshot>();
        using TracerProvider tracing = Sdk.CreateTracerProviderBuilder()
            .AddSource(CoolAmqpTelemetry.ActivitySourceName)
            .AddInMemoryExporter(spans)
            .Build();
        using MeterProvider metering = Sdk.CreateMeterProviderBuilder()
            .AddMeter(CoolAmqpTelemetry.MeterName)
            .AddInMemoryExporter(metrics)
            .Build();

        var exchange = new Exchange(Broker.Unique("otel"), ExchangeType.Fanout, autoDelete: true);
        var queue = new Queue(Broker.Unique("otel"), autoDelete: true, exchange: exchange);
        await SharedCluster.DeclareAsync(exchange);
        await SharedCluster.DeclareAsync(queue);
        int handled = 0;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        (Consumer consumer, Task ready) = SharedCluster.Consume(queue, message =>
        {
            message.Ack();
            if (System.Threading.Interlocked.Increment(ref handled) == 3)
            {
                done.TrySetResult();
            }
        }, noAck: false);
        await ready;
        for (int i = 0; i < 3; i++)
        {
            await SharedCluster.PublishAsync(new Message($"otel {i}"), exchange, confirm: true);
        }

        await done.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await consumer.CancelAsync();
        Assert.That(await Broker.EventuallyAsync(() =>
        {
            tracing.ForceFlush();
            return Task.FromResult(spans.Count(s => s.DisplayName == "process " + queue.Name) == 3);
        }, TimeSpan.FromSeconds(5)), Is.True, "three process spans exported");
        metering.ForceFlush();

        Activity[] publishes = [.. spans.Where(s => s.DisplayName == "publish " + exchange.Name)];
        Activity[] processes = [.. spans.Where(s => s.DisplayName == "process " + queue.Name)];
        Assert.Multiple(() =>
        {
            Assert.That(publishes, Has.Length.EqualTo(3));
            Assert.That(publishes.All(p => p.Kind == ActivityKind.Producer), Is.True);
            Assert.That(processes.All(p => p.Kind == ActivityKind.Consumer), Is.True);
            Assert.That(processes.Select(p => (p.TraceId, p.ParentSpanId)),
                Is.EquivalentTo(publishes.Select(p => (p.TraceId, p.SpanId))), "each processing is a child of its publish");
            Assert.That(spans.Any(s => s.DisplayName == "declare " + queue.Name && s.Kind == ActivityKind.Client), Is.True);

            Assert.That(SumOf(metrics, "messaging.client.sent.messages", "messaging.destination.name", exchange.Name), Is.EqualTo(3));
            Assert.That(SumOf(metrics, "coolamqp.client.confirmed.messages", "messaging.destination.name", exchange.Name), Is.EqualTo(3));
            Assert.That(SumOf(metrics, "messaging.client.operation.duration", "messaging.destination.name", exchange.Name), Is.EqualTo(3));
            Assert.That(SumOf(metrics, "messaging.client.consumed.messages", "messaging.destination.subscription.name", queue.Name), Is.EqualTo(3));
            Assert.That(SumOf(metrics, "coolamqp.client.acked.messages", "messaging.destination.name", exchange.Name), Is.EqualTo(3));
            Assert.That(SumOf(metrics, "messaging.process.duration", "messaging.destination.subscription.name", queue.Name), Is.EqualTo(3));
            Assert.That(metrics.Any(m => m.Name == "coolamqp.client.connections"), Is.True);
        });
    }
}
