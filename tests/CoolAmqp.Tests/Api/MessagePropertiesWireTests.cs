using System;
using CoolAmqp;
using CoolAmqp.Framing;
using NUnit.Framework;

namespace CoolAmqp.Tests.Api;

[TestFixture]
public sealed class MessagePropertiesWireTests
{
    private static byte[] Encode(MessageProperties properties)
    {
        BasicProperties wire = properties.ToWire();
        var buffer = new byte[wire.GetSize()];
        int written = wire.WriteTo(buffer);
        Assert.That(written, Is.EqualTo(buffer.Length));
        return buffer;
    }

    [Test]
    public void All_fourteen_properties_round_trip()
    {
        var headers = new FieldTable { { "x-retries", 3 }, { "source", "unit-test" } };
        var original = new MessageProperties
        {
            ContentType = "application/json",
            ContentEncoding = "gzip",
            Headers = headers,
            DeliveryMode = DeliveryModes.Persistent,
            Priority = 7,
            CorrelationId = "corr-1",
            ReplyTo = "amq.rabbitmq.reply-to",
            Expiration = "60000",
            MessageId = "msg-1",
            Timestamp = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000),
            Type = "order.created",
            UserId = "guest",
            AppId = "tests",
            ClusterId = "c1",
        };

        byte[] bytes = Encode(original);
        MessageProperties decoded = MessageProperties.FromWire(bytes);
        Assert.Multiple(() =>
        {
            Assert.That(decoded.ContentType, Is.EqualTo("application/json"));
            Assert.That(decoded.ContentEncoding, Is.EqualTo("gzip"));
            Assert.That(decoded.Headers, Is.Not.Null);
            Assert.That(decoded.Headers!.Count, Is.EqualTo(2));
            Assert.That(decoded.Headers["source"]?.ToString(), Is.EqualTo("unit-test"));
            Assert.That(decoded.DeliveryMode, Is.EqualTo(DeliveryModes.Persistent));
            Assert.That(decoded.Priority, Is.EqualTo((byte)7));
            Assert.That(decoded.CorrelationId, Is.EqualTo("corr-1"));
            Assert.That(decoded.ReplyTo, Is.EqualTo("amq.rabbitmq.reply-to"));
            Assert.That(decoded.Expiration, Is.EqualTo("60000"));
            Assert.That(decoded.MessageId, Is.EqualTo("msg-1"));
            Assert.That(decoded.Timestamp, Is.EqualTo(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000)));
            Assert.That(decoded.Type, Is.EqualTo("order.created"));
            Assert.That(decoded.UserId, Is.EqualTo("guest"));
            Assert.That(decoded.AppId, Is.EqualTo("tests"));
            Assert.That(decoded.ClusterId, Is.EqualTo("c1"));
        });
        Assert.That(Encode(decoded), Is.EqualTo(bytes), "re-encoding gives the same bytes");
    }

    [Test]
    public void Flags_word_marks_exactly_the_present_properties()
    {
        byte[] bytes = Encode(new MessageProperties { ContentType = "t", Priority = 0 });
        // content-type is bit 15, priority bit 11; then "t" as shortstr, then the priority octet 0.
        Assert.That(bytes, Is.EqualTo(new byte[] { 0x88, 0x00, 1, (byte)'t', 0 }));
        MessageProperties decoded = MessageProperties.FromWire(bytes);
        Assert.That(decoded.Priority, Is.EqualTo((byte)0), "a zero priority is sent and read back, not dropped");
        Assert.That(decoded.DeliveryMode, Is.Null);
        Assert.That(decoded.Headers, Is.Null);
    }

    [Test]
    public void Empty_properties_are_a_zero_flags_word()
    {
        Assert.That(Encode(MessageProperties.Empty), Is.EqualTo(new byte[] { 0, 0 }));
        Assert.That(MessageProperties.FromWire(new byte[] { 0, 0 }), Is.SameAs(MessageProperties.Empty));
        Assert.That(MessageProperties.FromWire(ReadOnlySpan<byte>.Empty), Is.SameAs(MessageProperties.Empty));
    }

    [Test]
    public void Timestamp_is_whole_seconds_and_clamps_on_receive()
    {
        var p = new MessageProperties { Timestamp = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_999) };
        Assert.That(p.ToWire().Timestamp, Is.EqualTo(1_700_000_000UL));
        MessageProperties far = MessageProperties.FromWire(new BasicProperties { Timestamp = ulong.MaxValue });
        Assert.That(far.Timestamp, Is.EqualTo(DateTimeOffset.MaxValue));
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new MessageProperties { Timestamp = DateTimeOffset.UnixEpoch.AddSeconds(-1) });
    }

    [Test]
    public void Malformed_sections_throw_format_exceptions()
    {
        Assert.Throws<AmqpFrameFormatException>(() => MessageProperties.FromWire(new byte[] { 0x80 }));
        Assert.Throws<AmqpFrameFormatException>(() => MessageProperties.FromWire(new byte[] { 0x80, 0x00, 5, (byte)'a' }));
        Assert.Throws<AmqpFrameFormatException>(() => MessageProperties.FromWire(new byte[] { 0x00, 0x01 }), "continuation bit");
    }

    [Test]
    public void Oversized_shortstr_is_refused_when_encoding()
    {
        var p = new MessageProperties { MessageId = new string('x', 256) };
        var e = Assert.Throws<ArgumentException>(() => p.ToWire().GetSize());
        Assert.That(e!.Message, Does.Contain("message-id"));
    }

    [Test]
    public void Received_message_decodes_properties_lazily_once()
    {
        byte[] raw = Encode(new MessageProperties { ContentType = "text/plain", DeliveryMode = 1 });
        var m = new ReceivedMessage(null, 1, false, "c", default, default, raw, default, noAck: true, pooledBuffer: null);
        MessageProperties first = m.Properties;
        Assert.That(first.ContentType, Is.EqualTo("text/plain"));
        Assert.That(first.DeliveryMode, Is.EqualTo(DeliveryModes.Transient));
        Assert.That(m.Properties, Is.SameAs(first));
    }
}
