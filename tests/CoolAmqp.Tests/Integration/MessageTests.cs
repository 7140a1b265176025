using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json;
using System.Threading.Tasks;
using CoolAmqp.Framing;
using CoolAmqp.Tracing;
using NUnit.Framework;

namespace CoolAmqp.Tests.Integration;

/// <summary>Messages through RabbitMQ and back: every property, every header type, body sizes around frame-max,
/// dead-lettering.</summary>
[TestFixture]
[Category("Integration")]
public class MessageTests
{
    private const uint FrameMax = 16384;

    private Cluster _cluster = null!;
    private HoldingFrameTracer _tracer = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _tracer = new HoldingFrameTracer(maxFrames: 10_000);
        _cluster = new Cluster([new NodeDefinition(Broker.Uri) { FrameMax = FrameMax }],
            new ClusterOptions { Name = nameof(MessageTests), FrameTracer = _tracer });
        await _cluster.StartAsync(timeout: TimeSpan.FromSeconds(10));
    }

    [OneTimeTearDown]
    public async Task StopAsync() => await _cluster.DisposeAsync();

    /// <summary>Publishes through the broker into a fresh queue and takes the message back with basic.get.</summary>
    private async Task<ReceivedMessage> RoundTripAsync(Message message)
    {
        var queue = new Queue(Broker.Unique("roundtrip"), exclusive: true);
        await _cluster.DeclareAsync(queue);
        await _cluster.PublishAsync(message, routingKey: queue.Name, confirm: true);
        ReceivedMessage? received = await _cluster.GetAsync(queue);
        Assert.That(received, Is.Not.Null, "the message should be in the queue");
        await _cluster.DeleteQueueAsync(queue);
        return received!;
    }

    [Test]
    public async Task Every_property_round_trips()
    {
        var timestamp = new DateTimeOffset(2024, 5, 6, 7, 8, 9, TimeSpan.Zero);
        var properties = new MessageProperties
        {
            ContentType = "application/json",
            ContentEncoding = "utf-8",
            Headers = new FieldTable { { "h", "v" } },
            DeliveryMode = DeliveryModes.Persistent,
            Priority = 0,
            CorrelationId = "correlation-1",
            ReplyTo = "reply-queue",
            Expiration = "60000",
            MessageId = "message-1",
            Timestamp = timestamp,
            Type = "test.type",
            UserId = Broker.Node().User,
            AppId = "coolamqp-tests",
            ClusterId = "cluster-1",
        };
        ReceivedMessage received = await RoundTripAsync(new Message("{}", properties));
        MessageProperties back = received.Properties;
        Assert.Multiple(() =>
        {
            Assert.That(back.ContentType, Is.EqualTo("application/json"));
            Assert.That(back.ContentEncoding, Is.EqualTo("utf-8"));
            Assert.That(back.Headers?["h"], Is.EqualTo("v"));
            Assert.That(back.DeliveryMode, Is.EqualTo(DeliveryModes.Persistent));
            Assert.That(back.Priority, Is.EqualTo((byte)0), "a zero priority is sent, not dropped");
            Assert.That(back.CorrelationId, Is.EqualTo("correlation-1"));
            Assert.That(back.ReplyTo, Is.EqualTo("reply-queue"));
            Assert.That(back.Expiration, Is.EqualTo("60000"));
            Assert.That(back.MessageId, Is.EqualTo("message-1"));
            Assert.That(back.Timestamp, Is.EqualTo(timestamp));
            Assert.That(back.Type, Is.EqualTo("test.type"));
            Assert.That(back.UserId, Is.EqualTo(Broker.Node().User));
            Assert.That(back.AppId, Is.EqualTo("coolamqp-tests"));
            Assert.That(back.ClusterId, Is.EqualTo("cluster-1"));
        });
    }

    [Test]
    public async Task No_properties_round_trip_as_none()
    {
        ReceivedMessage received = await RoundTripAsync(new Message("bare"));
        Assert.That(received.Properties.IsEmpty, Is.True);
    }

    [Test]
    public async Task Every_header_type_round_trips()
    {
        var nested = new FieldTable { { "inner", "deep" }, { "n", 7 } };
        var headers = new FieldTable
        {
            { "bool", true },
            { "sbyte", (sbyte)-5 },
            { "short", (short)-300 },
            { "int", -70000 },
            { "long", -5_000_000_000L },
            { "float", 1.5f },
            { "double", -2.25 },
            { "decimal", new AmqpDecimal(2, 12345) },
            { "string", "zażółć" },
            { "bytes", new byte[] { 0, 1, 2, 255 } },
            { "array", new object?[] { 1, "two", true } },
            { "timestamp", new AmqpTimestamp(1_700_000_000) },
            { "table", nested },
            { "void", null },
        };
        ReceivedMessage received = await RoundTripAsync(new Message("h", new MessageProperties { Headers = headers }));
        FieldTable back = received.Properties.Headers!;
        Assert.Multiple(() =>
        {
            Assert.That(back["bool"], Is.EqualTo(true));
            Assert.That(back["sbyte"], Is.EqualTo((sbyte)-5));
            Assert.That(back["short"], Is.EqualTo((short)-300));
            Assert.That(back["int"], Is.EqualTo(-70000));
            Assert.That(back["long"], Is.EqualTo(-5_000_000_000L));
            Assert.That(back["float"], Is.EqualTo(1.5f));
            Assert.That(back["double"], Is.EqualTo(-2.25));
            Assert.That(back["decimal"], Is.EqualTo(new AmqpDecimal(2, 12345)));
            Assert.That(back["string"], Is.EqualTo("zażółć"));
            Assert.That(back["bytes"], Is.EqualTo(new byte[] { 0, 1, 2, 255 }));
            Assert.That(back["array"], Is.EqualTo(new object?[] { 1, "two", true }));
            Assert.That(back["timestamp"], Is.EqualTo(new AmqpTimestamp(1_700_000_000)));
            Assert.That(back["table"], Is.EqualTo(nested));
            Assert.That(back.ContainsKey("void"), Is.True);
            Assert.That(back["void"], Is.Null);
            Assert.That(back, Has.Count.EqualTo(headers.Count));
        });
    }

    [Test]
    public async Task Frame_max_is_negotiated_down_to_the_clients()
    {
        string name = Broker.Unique("framemax");
        await using var cluster = new Cluster([new NodeDefinition(Broker.Uri) { FrameMax = FrameMax }], new ClusterOptions { Name = name });
        await cluster.StartAsync();
        JsonElement? row = await Broker.ConnectionNamedAsync(name, "frame_max");
        Assert.That(row?.GetProperty("frame_max").GetInt64(), Is.EqualTo(FrameMax));
    }

    [TestCase(0, 0)]
    [TestCase(1, 1)]
    [TestCase((int)FrameMax - 9, 1)]
    [TestCase((int)FrameMax - 8, 1)]
    [TestCase((int)FrameMax - 7, 2)]
    [TestCase(3 * ((int)FrameMax - 8) + 1, 4)]
    public async Task Bodies_are_split_into_frames_and_reassembled(int size, int expectedBodyFrames)
    {
        byte[] body = new byte[size];
        new Random(size).NextBytes(body);
        var queue = new Queue(Broker.Unique("body"), exclusive: true);
        await _cluster.DeclareAsync(queue);
        _tracer.Clear();
        await _cluster.PublishAsync(new Message(body), routingKey: queue.Name, confirm: true);
        int sentBodyFrames = _tracer.Frames.Count(f => f.Direction == FrameDirection.ToServer && f.Type == FrameType.Body);
        Assert.Multiple(() =>
        {
            Assert.That(sentBodyFrames, Is.EqualTo(expectedBodyFrames), "body frames sent");
            Assert.That(_tracer.Frames.Where(f => f.Type == FrameType.Body).All(f => f.Payload.Length <= FrameMax - 8), Is.True);
        });

        ReceivedMessage? received = await _cluster.GetAsync(queue);
        Assert.That(received, Is.Not.Null);
        Assert.That(received!.Body.ToArray(), Is.EqualTo(body));
    }

    [Test]
    public async Task A_16_MiB_body_round_trips_through_a_consumer()
    {
        byte[] body = new byte[16 * 1024 * 1024];
        new Random(16).NextBytes(body);
        var queue = new Queue(Broker.Unique("big"), exclusive: true);
        var arrived = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var cluster = await Broker.StartAsync();
        var (consumer, ready) = cluster.Consume(queue, m => arrived.TrySetResult(m.Body.ToArray()));
        await ready;
        await cluster.PublishAsync(new Message(body), routingKey: queue.Name, confirm: true);
        Task done = await Task.WhenAny(arrived.Task, Task.Delay(TimeSpan.FromSeconds(30)));
        Assert.That(done, Is.SameAs(arrived.Task), "the big message should arrive");
        Assert.That((await arrived.Task).AsSpan().SequenceEqual(body), Is.True);
        await consumer.CancelAsync();
    }

    [Test]
    public async Task Expired_messages_are_dead_lettered()
    {
        var deadLetters = new Queue(Broker.Unique("dead-letters"), exclusive: true);
        await _cluster.DeclareAsync(deadLetters);
        var expiring = new Queue(Broker.Unique("expiring"), exclusive: true, arguments: new FieldTable
        {
            { "x-message-ttl", 100 },
            { "x-dead-letter-exchange", string.Empty },
            { "x-dead-letter-routing-key", deadLetters.Name },
        });
        await _cluster.DeclareAsync(expiring);
        await _cluster.PublishAsync(new Message("short-lived"), routingKey: expiring.Name, confirm: true);

        Assert.That(await Broker.EventuallyAsync(async () =>
            (await _cluster.DeclareAsync(deadLetters, passive: true)).MessageCount == 1, TimeSpan.FromSeconds(10)), Is.True);
        ReceivedMessage? dead = await _cluster.GetAsync(deadLetters);
        Assert.That(dead, Is.Not.Null);
        uint left = (await _cluster.DeclareAsync(expiring, passive: true)).MessageCount;
        Assert.Multiple(() =>
        {
            Assert.That(dead!.Body.ToArray(), Is.EqualTo("short-lived"u8.ToArray()));
            Assert.That(dead.Properties.Headers?.ContainsKey("x-death"), Is.True);
            Assert.That(left, Is.Zero);
        });
        var death = (object?[])dead!.Properties.Headers!["x-death"]!;
        Assert.That(((FieldTable)death[0]!)["reason"], Is.EqualTo("expired"));
    }
}
