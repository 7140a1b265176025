using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using CoolAmqp.Framing;
using CoolAmqp.Telemetry;
using CoolAmqp.Tests.Integration;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using NUnit.Framework;

namespace CoolAmqp.Tests.Telemetry;

/// <summary>The <c>CoolAmqp</c> meter's instruments against the broker, read with MetricCollector. Each test publishes
/// to an exchange of its own and counts only the measurements tagged with it.</summary>
[TestFixture]
[Category("Integration")]
[NonParallelizable]
public class MetricsTests : SharedClusterFixture
{
    private static MetricCollector<T> Collect<T>(string instrument) where T : struct =>
        new(null, CoolAmqpTelemetry.MeterName, instrument);

    private static long Sum(MetricCollector<long> collector, string tag, string value) =>
        collector.GetMeasurementSnapshot().Where(m => Equals(m.Tags.GetValueOrDefault(tag), value)).Sum(m => m.Value);

    private static IEnumerable<CollectedMeasurement<T>> Tagged<T>(MetricCollector<T> collector, string tag, string value)
        where T : struct =>
        collector.GetMeasurementSnapshot().Where(m => Equals(m.Tags.GetValueOrDefault(tag), value));

    private async Task<(Exchange Exchange, Queue Queue)> RouteAsync(string what, FieldTable? queueArguments = null)
    {
        var exchange = new Exchange(Broker.Unique(what), ExchangeType.Fanout, autoDelete: true);
        var queue = new Queue(Broker.Unique(what), autoDelete: true, arguments: queueArguments, exchange: exchange);
        await SharedCluster.DeclareAsync(exchange);
        await SharedCluster.DeclareAsync(queue);
        return (exchange, queue);
    }

    [Test]
    public async Task Confirmed_publishes_are_counted_sent_and_confirmed_and_timed_to_their_confirm()
    {
        using MetricCollector<long> sent = Collect<long>("messaging.client.sent.messages");
        using MetricCollector<long> confirmed = Collect<long>("coolamqp.client.confirmed.messages");
        using MetricCollector<double> duration = Collect<double>("messaging.client.operation.duration");
        (Exchange exchange, _) = await RouteAsync("confirmed");

        var pending = new List<Task>();
        for (int i = 0; i < 20; i++)
        {
            pending.Add(SharedCluster.PublishAsync(new Message($"m{i}"), exchange, confirm: true).AsTask());
        }

        await Task.WhenAll(pending);
        for (int i = 0; i < 5; i++)
        {
            await SharedCluster.PublishAsync(new Message("plain"), exchange);
        }

        CollectedMeasurement<double>[] timings = [.. Tagged(duration, "messaging.destination.name", exchange.Name)];
        Assert.Multiple(() =>
        {
            Assert.That(Sum(sent, "messaging.destination.name", exchange.Name), Is.EqualTo(25), "20 confirmed + 5 plain");
            Assert.That(Sum(confirmed, "messaging.destination.name", exchange.Name), Is.EqualTo(20));
            Assert.That(timings, Has.Length.EqualTo(20), "one latency per confirmed publish, none for plain ones");
            Assert.That(timings.Select(m => m.Value), Is.All.GreaterThan(0).And.All.LessThan(10));
            Assert.That(timings.All(m => Equals(m.Tags.GetValueOrDefault("messaging.operation.name"), "publish")), Is.True);
            Assert.That(timings.All(m => !m.Tags.ContainsKey("error.type")), Is.True);
            Assert.That(sent.GetMeasurementSnapshot().Where(m => Equals(m.Tags.GetValueOrDefault("messaging.destination.name"), exchange.Name))
                .All(m => Equals(m.Tags.GetValueOrDefault("messaging.system"), "rabbitmq") &&
                          Equals(m.Tags.GetValueOrDefault("server.address"), Broker.Node().Host)), Is.True);
        });
    }

    [Test]
    public async Task Nacked_and_returned_publishes_are_counted_with_their_error_type()
    {
        using MetricCollector<long> nacked = Collect<long>("coolamqp.client.nacked.messages");
        using MetricCollector<long> returned = Collect<long>("coolamqp.client.returned.messages");
        using MetricCollector<long> confirmed = Collect<long>("coolamqp.client.confirmed.messages");
        using MetricCollector<double> duration = Collect<double>("messaging.client.operation.duration");
        (Exchange full, _) = await RouteAsync("nacked",
            new FieldTable { { "x-max-length", 1 }, { "x-overflow", "reject-publish" } });
        var unbound = new Exchange(Broker.Unique("unbound"), ExchangeType.Fanout, autoDelete: true);
        await SharedCluster.DeclareAsync(unbound);

        await SharedCluster.PublishAsync(new Message("first"), full, confirm: true);
        Assert.ThrowsAsync<MessageNackedException>(async () => await SharedCluster.PublishAsync(new Message("second"), full, confirm: true));
        Assert.ThrowsAsync<MessageReturnedException>(async () => await SharedCluster.PublishAsync(new Message("lost"), unbound, mandatory: true));

        Assert.Multiple(() =>
        {
            Assert.That(Sum(confirmed, "messaging.destination.name", full.Name), Is.EqualTo(1));
            Assert.That(Sum(nacked, "messaging.destination.name", full.Name), Is.EqualTo(1));
            Assert.That(Tagged(nacked, "messaging.destination.name", full.Name).Single().Tags["error.type"], Is.EqualTo("basic.nack"));
            Assert.That(Sum(returned, "messaging.destination.name", unbound.Name), Is.EqualTo(1));
            Assert.That(Tagged(returned, "messaging.destination.name", unbound.Name).Single().Tags["error.type"], Is.EqualTo("NO_ROUTE"));
            Assert.That(Sum(confirmed, "messaging.destination.name", unbound.Name), Is.EqualTo(0), "a returned publish is not confirmed");
            Assert.That(Tagged(duration, "messaging.destination.name", full.Name).Count(m => m.Tags.ContainsKey("error.type")), Is.EqualTo(1));
        });
    }

    [Test]
    public async Task Deliveries_settlements_and_callbacks_are_counted_and_timed()
    {
        using MetricCollector<long> consumed = Collect<long>("messaging.client.consumed.messages");
        using MetricCollector<long> acked = Collect<long>("coolamqp.client.acked.messages");
        using MetricCollector<long> rejected = Collect<long>("coolamqp.client.rejected.messages");
        using MetricCollector<double> process = Collect<double>("messaging.process.duration");
        (Exchange exchange, Queue queue) = await RouteAsync("consumed");

        int handled = 0;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        (Consumer consumer, Task ready) = SharedCluster.Consume(queue, message =>
        {
            int n = int.Parse(message.Body.Span[1..].ToArray().Select(b => (char)b).ToArray(), System.Globalization.CultureInfo.InvariantCulture);
            if (n % 3 == 0)
            {
                message.Ack();
            }
            else if (n % 3 == 1)
            {
                message.Nack(requeue: false);
            }
            else
            {
                message.Reject(requeue: false);
            }

            if (System.Threading.Interlocked.Increment(ref handled) == 9)
            {
                done.TrySetResult();
            }
        }, noAck: false);
        await ready;
        for (int i = 0; i < 9; i++)
        {
            await SharedCluster.PublishAsync(new Message($"m{i}"), exchange, confirm: true);
        }

        await done.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await consumer.CancelAsync();
        // The duration is recorded after the callback returns.
        Assert.That(await Broker.EventuallyAsync(() => Task.FromResult(
            Tagged(process, "messaging.destination.subscription.name", queue.Name).Count() == 9), TimeSpan.FromSeconds(5)), Is.True,
            "one process duration per callback");

        Assert.Multiple(() =>
        {
            Assert.That(Sum(consumed, "messaging.destination.subscription.name", queue.Name), Is.EqualTo(9));
            Assert.That(Tagged(consumed, "messaging.destination.subscription.name", queue.Name)
                .All(m => Equals(m.Tags["messaging.destination.name"], exchange.Name) &&
                          Equals(m.Tags["messaging.operation.name"], "deliver")), Is.True);
            Assert.That(Sum(acked, "messaging.destination.name", exchange.Name), Is.EqualTo(3));
            IEnumerable<CollectedMeasurement<long>> refused = Tagged(rejected, "messaging.destination.name", exchange.Name).ToArray();
            Assert.That(refused.Where(m => Equals(m.Tags["messaging.operation.name"], "nack")).Sum(m => m.Value), Is.EqualTo(3));
            Assert.That(refused.Where(m => Equals(m.Tags["messaging.operation.name"], "reject")).Sum(m => m.Value), Is.EqualTo(3));
        });
    }

    [Test]
    public async Task GetAsync_counts_a_received_message()
    {
        using MetricCollector<long> consumed = Collect<long>("messaging.client.consumed.messages");
        (Exchange exchange, Queue queue) = await RouteAsync("get");
        await SharedCluster.PublishAsync(new Message("g"), exchange, confirm: true);
        using ReceivedMessage? message = await SharedCluster.GetAsync(queue);
        using ReceivedMessage? none = await SharedCluster.GetAsync(queue);
        CollectedMeasurement<long>[] got = [.. Tagged(consumed, "messaging.destination.subscription.name", queue.Name)];
        Assert.That(got, Has.Length.EqualTo(1), "the empty basic.get counts nothing");
        Assert.That(got[0].Tags["messaging.operation.name"], Is.EqualTo("receive"));
    }

    [Test]
    public async Task Bytes_connections_and_channels_are_observed()
    {
        using MetricCollector<long> sentBytes = Collect<long>("coolamqp.client.sent.bytes");
        using MetricCollector<long> receivedBytes = Collect<long>("coolamqp.client.received.bytes");
        using MetricCollector<int> connections = Collect<int>("coolamqp.client.connections");
        using MetricCollector<int> channels = Collect<int>("coolamqp.client.channels");
        string host = Broker.Node().Host;
        long Latest(MetricCollector<long> c)
        {
            c.RecordObservableInstruments();
            return c.GetMeasurementSnapshot().Last(m => Equals(m.Tags["server.address"], host)).Value;
        }

        long sentBefore = Latest(sentBytes);
        long receivedBefore = Latest(receivedBytes);
        connections.RecordObservableInstruments();
        int connectionsBefore = connections.GetMeasurementSnapshot().Last(m => Equals(m.Tags["server.address"], host)).Value;

        await using (Cluster second = await Broker.StartAsync(new ClusterOptions { Name = TestContext.CurrentContext.Test.Name }))
        {
            Queue queue = NewQueue("bytes");
            await second.DeclareAsync(queue);
            await second.PublishAsync(new Message(new byte[100_000]), routingKey: queue.Name, confirm: true);
            connections.RecordObservableInstruments();
            channels.RecordObservableInstruments();
            Assert.That(connections.GetMeasurementSnapshot().Last(m => Equals(m.Tags["server.address"], host)).Value,
                Is.EqualTo(connectionsBefore + 1), "the second cluster's connection");
            Assert.That(channels.GetMeasurementSnapshot().Last(m => Equals(m.Tags["server.address"], host)).Value,
                Is.GreaterThanOrEqualTo(2), "an RPC channel and a publishing channel at least");
            using ReceivedMessage? back = await second.GetAsync(queue);
            Assert.That(back, Is.Not.Null);
        }

        connections.RecordObservableInstruments();
        Assert.Multiple(() =>
        {
            Assert.That(Latest(sentBytes) - sentBefore, Is.GreaterThan(100_000), "the body went out, and stays counted after the close");
            Assert.That(Latest(receivedBytes) - receivedBefore, Is.GreaterThan(100_000), "and came back by basic.get");
            Assert.That(connections.GetMeasurementSnapshot().Last(m => Equals(m.Tags["server.address"], host)).Value,
                Is.EqualTo(connectionsBefore), "closed again");
        });
    }
}
