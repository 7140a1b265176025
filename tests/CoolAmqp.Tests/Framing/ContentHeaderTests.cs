using System;
using System.Collections.Generic;
using CoolAmqp.Framing;
using CsCheck;
using NUnit.Framework;

namespace CoolAmqp.Tests.Framing;

public class ContentHeaderTests
{
    private const string Chars = "abcxyz-_./:+ éñ€中";

    private static readonly Gen<string?> ShortStr =
        Gen.Char[Chars].Array[0, 80].Select(chars => new string(chars)).Null(0.3);

    private static readonly Gen<BasicProperties> Properties = Gen.Select(
        ShortStr, ShortStr,
        Gen.Int.Select(seed => seed % 3 == 0 ? null : FieldTableTests.RandomTable(new Random(seed), 0)),
        Gen.Byte.Nullable(0.3), Gen.Byte.Nullable(0.3),
        ShortStr, ShortStr, ShortStr, ShortStr,
        Gen.ULong.Nullable(0.3),
        ShortStr, ShortStr, ShortStr, ShortStr,
        (contentType, contentEncoding, headers, deliveryMode, priority, correlationId, replyTo, expiration, messageId,
            timestamp, type, userId, appId, reserved) => new BasicProperties
        {
            ContentType = contentType,
            ContentEncoding = contentEncoding,
            Headers = headers,
            DeliveryMode = deliveryMode,
            Priority = priority,
            CorrelationId = correlationId,
            ReplyTo = replyTo,
            Expiration = expiration,
            MessageId = messageId,
            Timestamp = timestamp,
            Type = type,
            UserId = userId,
            AppId = appId,
            Reserved = reserved,
        });

    private static byte[] HeaderPayload(BasicProperties properties, ulong bodySize)
    {
        byte[] frame = new byte[FrameEncoder.ContentHeaderFrameSize(properties)];
        FrameEncoder.WriteContentHeaderFrame(frame, 1, 60, bodySize, properties);
        return frame.AsSpan(7, frame.Length - 8).ToArray();
    }

    [Test]
    public void Random_properties_round_trip_with_presence_kept()
    {
        Gen.Select(Properties, Gen.ULong).Sample((properties, bodySize) =>
        {
            byte[] payload = HeaderPayload(properties, bodySize);
            ContentHeader.Reader reader = ContentHeader.Read(payload);
            Assert.That(reader.BodySize, Is.EqualTo(bodySize));
            Assert.That(reader.Properties.Flags, Is.EqualTo(properties.Flags));
            Assert.That(reader.Properties.HasPriority, Is.EqualTo(properties.Priority is not null));
            Assert.That(reader.Properties.ToProperties(), Is.EqualTo(properties));
        }, iter: 300, threads: 1);
    }

    [Test]
    public void Empty_properties_are_a_zero_flags_word()
    {
        byte[] payload = HeaderPayload(default, 0);
        Assert.That(Hex.Format(payload), Is.EqualTo("003C" + "0000" + "0000000000000000" + "0000"));
        Assert.That(ContentHeader.Read(payload).Properties.ToProperties(), Is.EqualTo(default(BasicProperties)));
    }

    [Test]
    public void Content_header_for_another_class_is_refused()
    {
        byte[] payload = Hex.Parse("0032 0000 0000000000000000 0000");
        Assert.That(() => ContentHeader.Read(payload), Throws.TypeOf<AmqpFrameFormatException>().With.Message.Contains("class 50"));
    }

    [Test]
    public void Unknown_property_flag_is_refused()
    {
        byte[] payload = Hex.Parse("003C 0000 0000000000000000 0001"); // continuation bit
        Assert.That(() => ContentHeader.Read(payload), Throws.TypeOf<AmqpFrameFormatException>());
    }

    [Test]
    public void Shortstr_property_over_255_bytes_names_the_field()
    {
        var properties = new BasicProperties { CorrelationId = new string('x', 256) };
        Assert.That(() => FrameEncoder.ContentHeaderFrameSize(properties),
            Throws.ArgumentException.With.Message.Contains("correlation-id"));
    }

    [Test]
    public void Truncated_and_mutated_headers_only_throw_format_exception()
    {
        var seeds = new List<byte[]>
        {
            HeaderPayload(new BasicProperties { ContentType = "text/plain", Headers = FieldTableTests.SampleTable(), Priority = 0, Timestamp = 5 }, 10),
            HeaderPayload(new BasicProperties { MessageId = "id", CorrelationId = "c", ReplyTo = "r", Expiration = "6000", AppId = "a", UserId = "u", Type = "t" }, 1),
        };

        foreach (byte[] seed in seeds)
        {
            Fuzz.AllPrefixesRejected(seed, input => ContentHeader.Read(input));
        }

        (_, int rejected) = Fuzz.Run(seeds, 20000, seed: 77, input =>
        {
            ContentHeader.Reader reader = ContentHeader.Read(input);
            _ = reader.Properties.ToProperties();
        });
        Assert.That(rejected, Is.GreaterThan(1000));
    }
}
