using System;
using System.Diagnostics;
using System.Linq;
using System.Text;
using System.Threading.Tasks;
using CoolAmqp.Framing;
using CoolAmqp.Telemetry;
using CoolAmqp.Tests.Integration;
using NUnit.Framework;
using Rmq = RabbitMQ.Client;

namespace CoolAmqp.Tests.Telemetry;

/// <summary>Spans of the <c>CoolAmqp</c> ActivitySource against the broker, seen by a plain ActivityListener.</summary>
[TestFixture]
[Category("Integration")]
[NonParallelizable]
public class TracingTests : SharedClusterFixture
{
    private SpanRecorder _spans = null!;

    [SetUp]
    public void Listen() => _spans = new SpanRecorder();

    [TearDown]
    public void StopListening() => _spans.Dispose();

    private static string? Tag(Activity activity, string name) => activity.GetTagItem(name)?.ToString();

    [Test]
    public async Task A_publish_and_its_processing_are_one_trace_and_the_ack_is_a_child_of_the_processing()
    {
        Queue queue = NewQueue("trace");
        await SharedCluster.DeclareAsync(queue);
        var seen = new TaskCompletionSource<(string? Header, ActivityTraceId? Current, string? App)>(
            TaskCreationOptions.RunContinuationsAsynchronously);
        (Consumer consumer, Task ready) = SharedCluster.Consume(queue, message =>
        {
            FieldTable? headers = message.Properties.Headers;
            string? header = headers is not null && headers.TryGetValue("traceparent", out object? value) ? value as string : null;
            ActivityTraceId? current = Activity.Current?.TraceId;
            string? app = headers?["app"] as string;
            message.Ack();
            seen.TrySetResult((header, current, app));
        }, noAck: false);
        await ready;

        var properties = new MessageProperties { MessageId = "id-1", Headers = new FieldTable { ["app"] = "x" } };
        await SharedCluster.PublishAsync(new Message("hello", properties), routingKey: queue.Name, confirm: true);
        (string? header, ActivityTraceId? current, string? app) = await seen.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await consumer.CancelAsync();

        Activity publish = await _spans.SingleAsync(a => a.DisplayName == "publish amq.default" &&
            Tag(a, "messaging.rabbitmq.destination.routing_key") == queue.Name, "the publish");
        Activity process = await _spans.SingleAsync(a => a.DisplayName == "process " + queue.Name, "the processing");
        Activity ack = await _spans.SingleAsync(a => a.DisplayName == "ack amq.default" && a.ParentSpanId == process.SpanId,
            "the ack under the processing");

        Assert.Multiple(() =>
        {
            Assert.That(publish.Kind, Is.EqualTo(ActivityKind.Producer));
            Assert.That(publish.Source.Name, Is.EqualTo(CoolAmqpTelemetry.ActivitySourceName));
            Assert.That(Tag(publish, "messaging.system"), Is.EqualTo("rabbitmq"));
            Assert.That(Tag(publish, "messaging.operation.type"), Is.EqualTo("send"));
            Assert.That(Tag(publish, "messaging.operation.name"), Is.EqualTo("publish"));
            Assert.That(Tag(publish, "messaging.destination.name"), Is.EqualTo(""));
            Assert.That(publish.GetTagItem("messaging.message.body.size"), Is.EqualTo(5));
            Assert.That(Tag(publish, "messaging.message.id"), Is.EqualTo("id-1"));
            Assert.That(Tag(publish, "server.address"), Is.EqualTo(Broker.Node().Host));
            Assert.That(publish.GetTagItem("server.port"), Is.EqualTo(Broker.Node().Port));
            Assert.That(publish.Status, Is.EqualTo(ActivityStatusCode.Unset));

            Assert.That(header, Is.EqualTo(publish.Id), "the traceparent header is the publish span's id");
            Assert.That(app, Is.EqualTo("x"), "the message's own headers are kept");
            Assert.That(properties.Headers!.ContainsKey("traceparent"), Is.False, "the caller's headers are not changed");
            Assert.That(properties.Headers!.Count, Is.EqualTo(1));

            Assert.That(process.Kind, Is.EqualTo(ActivityKind.Consumer));
            Assert.That(process.TraceId, Is.EqualTo(publish.TraceId));
            Assert.That(process.ParentSpanId, Is.EqualTo(publish.SpanId));
            Assert.That(process.Links.Select(l => l.Context.SpanId), Does.Contain(publish.SpanId));
            Assert.That(current, Is.EqualTo(publish.TraceId), "the callback runs inside the process span");
            Assert.That(Tag(process, "messaging.operation.type"), Is.EqualTo("process"));
            Assert.That(Tag(process, "messaging.destination.subscription.name"), Is.EqualTo(queue.Name));
            Assert.That(Tag(process, "messaging.rabbitmq.destination.routing_key"), Is.EqualTo(queue.Name));
            Assert.That(Tag(process, "messaging.message.id"), Is.EqualTo("id-1"));
            Assert.That(process.GetTagItem("messaging.message.body.size"), Is.EqualTo(5));

            Assert.That(ack.Kind, Is.EqualTo(ActivityKind.Client));
            Assert.That(Tag(ack, "messaging.operation.type"), Is.EqualTo("settle"));
            Assert.That(Tag(ack, "messaging.operation.name"), Is.EqualTo("ack"));
            Assert.That(ack.TraceId, Is.EqualTo(publish.TraceId));
        });
    }

    [Test]
    public async Task Baggage_and_the_callers_trace_travel_with_the_message()
    {
        Queue queue = NewQueue("baggage");
        await SharedCluster.DeclareAsync(queue);
        var seen = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        (Consumer consumer, Task ready) = SharedCluster.Consume(queue, async (ReceivedMessage _) =>
        {
            await Task.Yield();
            seen.TrySetResult(Activity.Current?.GetBaggageItem("tenant"));
        });
        await ready;

        ActivityTraceId outerTrace;
        using (var outer = new Activity("test request").Start())
        {
            outer.AddBaggage("tenant", "acme");
            outerTrace = outer.TraceId;
            await SharedCluster.PublishAsync(new Message("b"), routingKey: queue.Name);
        }

        string? tenant = await seen.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await consumer.CancelAsync();
        Activity publish = await _spans.SingleAsync(a => a.DisplayName == "publish amq.default" &&
            Tag(a, "messaging.rabbitmq.destination.routing_key") == queue.Name, "the publish");
        Activity process = await _spans.SingleAsync(a => a.DisplayName == "process " + queue.Name, "the processing");
        Assert.Multiple(() =>
        {
            Assert.That(publish.TraceId, Is.EqualTo(outerTrace), "the publish is a child of the caller's activity");
            Assert.That(process.TraceId, Is.EqualTo(outerTrace));
            Assert.That(tenant, Is.EqualTo("acme"), "baggage read from the headers (OnMessageAsync callback)");
        });
    }

    [Test]
    public async Task A_failed_publish_span_has_error_type_and_status()
    {
        string missing = Broker.Unique("missing-exchange");
        Assert.ThrowsAsync<AmqpException>(async () =>
            await SharedCluster.PublishAsync(new Message("x"), missing, "k", confirm: true));
        Activity publish = await _spans.SingleAsync(a => a.DisplayName == "publish " + missing, "the failed publish");
        Assert.Multiple(() =>
        {
            Assert.That(publish.Status, Is.EqualTo(ActivityStatusCode.Error));
            Assert.That(Tag(publish, "error.type"), Is.EqualTo("NOT_FOUND"));
            Assert.That(Tag(publish, "messaging.destination.name"), Is.EqualTo(missing));
            Assert.That(publish.GetTagItem("coolamqp.publish.confirm"), Is.EqualTo(true));
        });
    }

    [Test]
    public async Task GetAsync_is_a_receive_span_linked_to_the_publish()
    {
        Queue queue = NewQueue("get");
        await SharedCluster.DeclareAsync(queue);
        await SharedCluster.PublishAsync(new Message("got"), routingKey: queue.Name, confirm: true);
        using ReceivedMessage? message = await SharedCluster.GetAsync(queue);
        Assert.That(message, Is.Not.Null);
        using ReceivedMessage? none = await SharedCluster.GetAsync(queue);
        Assert.That(none, Is.Null);

        Activity publish = await _spans.SingleAsync(a => a.DisplayName == "publish amq.default" &&
            Tag(a, "messaging.rabbitmq.destination.routing_key") == queue.Name, "the publish");
        Activity[] receives = [.. _spans.Stopped.Where(a => a.DisplayName == "receive " + queue.Name)];
        Assert.That(receives, Has.Length.EqualTo(2));
        Activity receive = receives.Single(a => a.GetTagItem("coolamqp.queue.empty") is null);
        Assert.Multiple(() =>
        {
            Assert.That(receive.Kind, Is.EqualTo(ActivityKind.Consumer));
            Assert.That(Tag(receive, "messaging.operation.type"), Is.EqualTo("receive"));
            Assert.That(receive.Links.Select(l => l.Context.SpanId), Does.Contain(publish.SpanId));
            Assert.That(receive.Links.Select(l => l.Context.TraceId), Does.Contain(publish.TraceId));
            Assert.That(receive.GetTagItem("messaging.message.body.size"), Is.EqualTo(3));
            Assert.That(receives.Single(a => a != receive).GetTagItem("coolamqp.queue.empty"), Is.EqualTo(true));
        });
    }

    [Test]
    public async Task Declarations_and_bindings_are_client_spans_and_a_refused_one_has_error_type()
    {
        var exchange = new Exchange(Broker.Unique("tx"), ExchangeType.Fanout, autoDelete: true);
        Queue queue = NewQueue("bound");
        await SharedCluster.DeclareAsync(exchange);
        await SharedCluster.DeclareAsync(queue);
        await SharedCluster.BindAsync(queue, exchange);
        string missing = Broker.Unique("missing-queue");
        Assert.ThrowsAsync<AmqpException>(async () => await SharedCluster.DeclareAsync(new Queue(missing), passive: true));

        Activity declareExchange = await _spans.SingleAsync(a => a.DisplayName == "declare " + exchange.Name, "the exchange's declare");
        Activity declareQueue = await _spans.SingleAsync(a => a.DisplayName == "declare " + queue.Name, "the queue's declare");
        Activity bind = await _spans.SingleAsync(a => a.DisplayName == "bind " + queue.Name, "the binding");
        Activity refused = await _spans.SingleAsync(a => a.DisplayName == "declare " + missing, "the refused declare");
        Assert.Multiple(() =>
        {
            Assert.That(declareExchange.Kind, Is.EqualTo(ActivityKind.Client));
            Assert.That(declareQueue.Kind, Is.EqualTo(ActivityKind.Client));
            Assert.That(Tag(bind, "messaging.destination.name"), Is.EqualTo(exchange.Name));
            Assert.That(Tag(bind, "messaging.operation.name"), Is.EqualTo("bind"));
            Assert.That(declareQueue.Status, Is.EqualTo(ActivityStatusCode.Unset));
            Assert.That(refused.Status, Is.EqualTo(ActivityStatusCode.Error));
            Assert.That(Tag(refused, "error.type"), Is.EqualTo("NOT_FOUND"));
        });
    }

    [Test]
    public async Task A_pooled_OnDelivery_consumer_gets_process_and_reject_spans()
    {
        Queue queue = NewQueue("delivery");
        await SharedCluster.DeclareAsync(queue);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        (Consumer consumer, Task ready) = SharedCluster.Consume(queue, new ConsumerOptions
        {
            NoAck = false,
            OnDelivery = delivery =>
            {
                delivery.Reject(requeue: false);
                done.TrySetResult();
            },
        });
        await ready;
        await SharedCluster.PublishAsync(new Message("no"), routingKey: queue.Name, confirm: true);
        await done.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await consumer.CancelAsync();

        Activity publish = await _spans.SingleAsync(a => a.DisplayName == "publish amq.default" &&
            Tag(a, "messaging.rabbitmq.destination.routing_key") == queue.Name, "the publish");
        Activity process = await _spans.SingleAsync(a => a.DisplayName == "process " + queue.Name, "the processing");
        Activity reject = await _spans.SingleAsync(a => a.DisplayName == "reject amq.default" && a.TraceId == publish.TraceId,
            "the reject");
        Assert.Multiple(() =>
        {
            Assert.That(process.ParentSpanId, Is.EqualTo(publish.SpanId));
            Assert.That(reject.ParentSpanId, Is.EqualTo(process.SpanId));
            Assert.That(reject.GetTagItem("coolamqp.settled"), Is.EqualTo(true));
        });
    }

    [Test]
    public async Task A_callback_that_throws_fails_its_process_span()
    {
        Queue queue = NewQueue("throws");
        await SharedCluster.DeclareAsync(queue);
        var thrown = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        (Consumer consumer, Task ready) = SharedCluster.Consume(queue, new ConsumerOptions
        {
            OnMessage = _ => throw new InvalidOperationException("boom"),
            OnCallbackError = (_, _) => thrown.TrySetResult(),
        });
        await ready;
        await SharedCluster.PublishAsync(new Message("x"), routingKey: queue.Name);
        await thrown.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Activity process = await _spans.SingleAsync(a => a.DisplayName == "process " + queue.Name, "the processing");
        await consumer.CancelAsync();
        Assert.Multiple(() =>
        {
            Assert.That(process.Status, Is.EqualTo(ActivityStatusCode.Error));
            Assert.That(Tag(process, "error.type"), Is.EqualTo(typeof(InvalidOperationException).FullName));
        });
    }

    [Test]
    public async Task A_RabbitMQ_Client_publish_parents_the_CoolAmqp_process_span()
    {
        Queue queue = NewQueue("interop-in");
        await SharedCluster.DeclareAsync(queue);
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        (Consumer consumer, Task ready) = SharedCluster.Consume(queue, _ => seen.TrySetResult());
        await ready;

        var factory = new Rmq.ConnectionFactory { Uri = new Uri(Broker.Uri) };
        await using (Rmq.IConnection connection = await factory.CreateConnectionAsync())
        await using (Rmq.IChannel channel = await connection.CreateChannelAsync())
        {
            await channel.BasicPublishAsync("", queue.Name, false, new Rmq.BasicProperties(), Encoding.UTF8.GetBytes("hi"));
        }

        await seen.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await consumer.CancelAsync();
        Activity publish = await _spans.SingleAsync(a => a.Source.Name == "RabbitMQ.Client.Publisher" &&
            Tag(a, "messaging.rabbitmq.destination.routing_key") == queue.Name, "RabbitMQ.Client's publish");
        Activity process = await _spans.SingleAsync(a => a.DisplayName == "process " + queue.Name, "the processing");
        Assert.Multiple(() =>
        {
            Assert.That(publish.Kind, Is.EqualTo(ActivityKind.Producer));
            Assert.That(process.TraceId, Is.EqualTo(publish.TraceId));
            Assert.That(process.ParentSpanId, Is.EqualTo(publish.SpanId));
        });
    }

    [Test]
    public async Task A_CoolAmqp_publish_is_linked_from_the_RabbitMQ_Client_deliver_span()
    {
        Queue queue = NewQueue("interop-out");
        await SharedCluster.DeclareAsync(queue);
        var factory = new Rmq.ConnectionFactory { Uri = new Uri(Broker.Uri) };
        await using Rmq.IConnection connection = await factory.CreateConnectionAsync();
        await using Rmq.IChannel channel = await connection.CreateChannelAsync();
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var rmqConsumer = new Rmq.Events.AsyncEventingBasicConsumer(channel);
        rmqConsumer.ReceivedAsync += (_, _) =>
        {
            seen.TrySetResult();
            return Task.CompletedTask;
        };
        await Rmq.IChannelExtensions.BasicConsumeAsync(channel, queue.Name, true, rmqConsumer);

        await SharedCluster.PublishAsync(new Message("to rmq"), routingKey: queue.Name, confirm: true);
        await seen.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Activity publish = await _spans.SingleAsync(a => a.DisplayName == "publish amq.default" &&
            Tag(a, "messaging.rabbitmq.destination.routing_key") == queue.Name, "the publish");
        Activity deliver = await _spans.SingleAsync(a => a.Source.Name == "RabbitMQ.Client.Subscriber" &&
            Tag(a, "messaging.rabbitmq.destination.routing_key") == queue.Name, "RabbitMQ.Client's deliver");
        Assert.That(deliver.Links.Select(l => (l.Context.TraceId, l.Context.SpanId)),
            Does.Contain((publish.TraceId, publish.SpanId)), "RabbitMQ.Client reads the trace context CoolAmqp wrote");
    }
}
