using System;
using System.Collections.Generic;
using System.Text;
using System.Threading.Tasks;
using CoolAmqp.Framing;
using CoolAmqp.Tracing;
using Microsoft.Extensions.Logging;
using NUnit.Framework;

namespace CoolAmqp.Tests.Api;

[TestFixture]
public sealed class TracingTests
{
    private sealed class CapturingLogger : ILogger
    {
        public readonly List<(LogLevel Level, EventId Id, string Text)> Entries = new();
        public LogLevel Minimum { get; init; } = LogLevel.Trace;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= Minimum;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (Entries)
            {
                Entries.Add((logLevel, eventId, formatter(state, exception)));
            }
        }
    }

    private static byte[] MethodPayload<T>(T method) where T : struct, IAmqpMethod
    {
        var payload = new byte[4 + method.GetSize()];
        payload[0] = (byte)(method.ClassId >> 8);
        payload[1] = (byte)method.ClassId;
        payload[2] = (byte)(method.MethodId >> 8);
        payload[3] = (byte)method.MethodId;
        method.WriteArguments(payload.AsSpan(4));
        return payload;
    }

    private static readonly byte[] StartOk = MethodPayload(
        new ConnectionStartOk(null, "PLAIN", Encoding.UTF8.GetBytes("\0admin\0s3cr3t-pa55"), "en_US"));

    [Test]
    public void Frame_exposes_command_id_and_method_name()
    {
        byte[] payload = MethodPayload(new BasicAck(5, false));
        var frame = new AmqpFrame(1, FrameType.Method, payload);
        Assert.That(frame.CommandId, Is.EqualTo(BasicAck.CommandIdValue));
        Assert.That(frame.MethodName, Is.EqualTo("basic.ack"));
        Assert.That(frame.Describe(), Is.EqualTo("basic.ack ch=1 delivery-tag=5 multiple=false"));
        var body = new AmqpFrame(1, FrameType.Body, payload);
        Assert.That(body.CommandId, Is.Zero);
        Assert.That(body.MethodName, Is.Null);
        Assert.That(body.Describe(), Is.EqualTo("body ch=1 size=" + payload.Length));
        Assert.That(new AmqpFrame(0, FrameType.Heartbeat, default).Describe(), Is.EqualTo("heartbeat ch=0"));
    }

    [Test]
    public void Describe_renders_deliver_and_close()
    {
        byte[] deliver = MethodPayload(new BasicDeliver("ctag", 9, true, "ex", "rk"));
        Assert.That(new AmqpFrame(3, FrameType.Method, deliver).Describe(),
            Is.EqualTo("basic.deliver ch=3 consumer-tag=ctag delivery-tag=9 redelivered=true exchange='ex' routing-key='rk'"));
        byte[] close = MethodPayload(new ChannelClose(404, "NOT_FOUND - no queue 'q'", 50, 10));
        Assert.That(new AmqpFrame(3, FrameType.Method, close).Describe(),
            Is.EqualTo("channel.close ch=3 reply-code=404 reply-text='NOT_FOUND - no queue 'q'' failed-method=queue.declare"));
    }

    [Test]
    public void Describe_renders_a_content_header()
    {
        BasicProperties props = new MessageProperties { ContentType = "a", DeliveryMode = 2 }.ToWire();
        var payload = new byte[12 + props.GetSize()];
        payload[1] = 60;
        payload[11] = 12;
        props.WriteTo(payload.AsSpan(12));
        Assert.That(new AmqpFrame(1, FrameType.Header, payload).Describe(),
            Is.EqualTo("header ch=1 class=60 body-size=12 properties=content-type,delivery-mode"));
    }

    [Test]
    public void Describe_never_throws_on_garbage()
    {
        Assert.That(new AmqpFrame(1, FrameType.Method, new byte[] { 0, 60 }).Describe(), Does.Contain("malformed"));
        Assert.That(new AmqpFrame(1, FrameType.Method, new byte[] { 0, 60, 0, 60, 1 }).Describe(), Does.StartWith("basic.deliver ch=1").And.Contain("malformed"));
        Assert.That(new AmqpFrame(1, FrameType.Method, new byte[] { 0x12, 0x34, 0, 1 }).Describe(), Does.Contain("unknown method"));
        Assert.That(new AmqpFrame(1, FrameType.Header, new byte[] { 0, 60 }).Describe(), Does.Contain("malformed"));
    }

    [Test]
    public void Start_ok_response_is_redacted()
    {
        string text = new AmqpFrame(0, FrameType.Method, StartOk).Describe();
        Assert.That(text, Does.StartWith("connection.start-ok ch=0 mechanism=PLAIN response=<redacted"));
        Assert.That(text, Does.Not.Contain("s3cr3t"));
        byte[] secureOk = MethodPayload(new ConnectionSecureOk(Encoding.UTF8.GetBytes("s3cr3t-pa55")));
        Assert.That(new AmqpFrame(0, FrameType.Method, secureOk).Describe(), Does.Not.Contain("s3cr3t"));
    }

    [Test]
    public void Logging_tracer_logs_at_its_level_and_never_the_password()
    {
        var logger = new CapturingLogger();
        IFrameTracer tracer = new LoggingFrameTracer(logger);
        tracer.OnFrame(DateTimeOffset.UtcNow, new AmqpFrame(0, FrameType.Method, StartOk), FrameDirection.ToServer);
        tracer.OnFrame(DateTimeOffset.UtcNow, new AmqpFrame(1, FrameType.Method, MethodPayload(new BasicAck(1, true))), FrameDirection.ToServer);
        Assert.That(logger.Entries, Has.Count.EqualTo(2));
        Assert.That(logger.Entries[0].Level, Is.EqualTo(LogLevel.Warning), "CoolAMQP's default level, WARNING");
        Assert.That(logger.Entries[0].Id, Is.EqualTo(LoggingFrameTracer.FrameEventId));
        Assert.That(logger.Entries[0].Text, Does.Contain("ToServer").And.Contain("connection.start-ok"));
        Assert.That(logger.Entries[0].Text, Does.Not.Contain("s3cr3t"));
        Assert.That(logger.Entries[1].Text, Is.EqualTo("AMQP frame ToServer: basic.ack ch=1 delivery-tag=1 multiple=true"));
    }

    [Test]
    public void Logging_tracer_honours_level_and_disabled_logger()
    {
        var logger = new CapturingLogger { Minimum = LogLevel.Information };
        new LoggingFrameTracer(logger, LogLevel.Debug).OnFrame(DateTimeOffset.UtcNow, new AmqpFrame(0, FrameType.Heartbeat, default), FrameDirection.ToClient);
        Assert.That(logger.Entries, Is.Empty);
        new LoggingFrameTracer(logger, LogLevel.Error).OnFrame(DateTimeOffset.UtcNow, new AmqpFrame(0, FrameType.Heartbeat, default), FrameDirection.ToClient);
        Assert.That(logger.Entries, Has.Count.EqualTo(1));
        Assert.That(logger.Entries[0].Level, Is.EqualTo(LogLevel.Error));
        Assert.Throws<ArgumentNullException>(() => _ = new LoggingFrameTracer(null!));
    }

    [Test]
    public void Holding_tracer_copies_frames_and_clears()
    {
        var tracer = new HoldingFrameTracer();
        byte[] payload = MethodPayload(new BasicAck(2, false));
        var at = new DateTimeOffset(2024, 1, 2, 3, 4, 5, TimeSpan.Zero);
        tracer.OnFrame(at, new AmqpFrame(4, FrameType.Method, payload), FrameDirection.ToServer);
        payload[4] = 0xFF; // the tracer must have copied the bytes
        tracer.OnFrame(at, new AmqpFrame(0, FrameType.Heartbeat, default), FrameDirection.ToClient);

        IReadOnlyList<TracedFrame> frames = tracer.Frames;
        Assert.That(frames, Has.Count.EqualTo(2));
        TracedFrame first = frames[0];
        Assert.Multiple(() =>
        {
            Assert.That(first.Direction, Is.EqualTo(FrameDirection.ToServer));
            Assert.That(first.Timestamp, Is.EqualTo(at));
            Assert.That(first.Channel, Is.EqualTo((ushort)4));
            Assert.That(first.Type, Is.EqualTo(FrameType.Method));
            Assert.That(first.CommandId, Is.EqualTo(BasicAck.CommandIdValue));
            Assert.That(first.MethodName, Is.EqualTo("basic.ack"));
            Assert.That(first.Payload[4], Is.Zero);
            Assert.That(first.Describe(), Is.EqualTo("basic.ack ch=4 delivery-tag=2 multiple=false"));
            Assert.That(frames[1].MethodName, Is.Null);
        });

        tracer.Clear();
        Assert.That(tracer.Frames, Is.Empty);
        Assert.That(tracer.Count, Is.Zero);
        Assert.That(frames, Has.Count.EqualTo(2), "snapshots are not affected by Clear");
    }

    [Test]
    public void Holding_tracer_is_thread_safe_and_bounded()
    {
        var all = new HoldingFrameTracer();
        var bounded = new HoldingFrameTracer(maxFrames: 10);
        Parallel.For(0, 4, _ =>
        {
            for (int i = 0; i < 500; i++)
            {
                var frame = new AmqpFrame(1, FrameType.Body, new byte[] { (byte)i });
                all.OnFrame(DateTimeOffset.UtcNow, frame, FrameDirection.ToClient);
                bounded.OnFrame(DateTimeOffset.UtcNow, frame, FrameDirection.ToClient);
            }
        });
        Assert.That(all.Count, Is.EqualTo(2000));
        Assert.That(bounded.Frames, Has.Count.EqualTo(10));
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new HoldingFrameTracer(0));
    }
}
