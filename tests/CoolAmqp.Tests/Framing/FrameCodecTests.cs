using System;
using System.Buffers;
using System.Collections.Generic;
using CoolAmqp.Framing;
using NUnit.Framework;

namespace CoolAmqp.Tests.Framing;

public class FrameCodecTests
{
    private const uint FrameMax = 4096;

    private static byte[] Body(int length)
    {
        byte[] body = new byte[length];
        new Random(length).NextBytes(body);
        return body;
    }

    private static List<(FrameHeader Header, byte[] Payload)> ReadAll(ReadOnlySequence<byte> buffer, uint frameMax = FrameMax)
    {
        var frames = new List<(FrameHeader, byte[])>();
        while (FrameDecoder.TryReadFrame(buffer, frameMax, out FrameHeader header, out ReadOnlySequence<byte> payload, out SequencePosition next))
        {
            Assert.That(payload.Length, Is.EqualTo(header.Size));
            frames.Add((header, payload.ToArray()));
            buffer = buffer.Slice(next);
        }

        Assert.That(buffer.Length, Is.Zero, "bytes left after the last whole frame");
        return frames;
    }

    [TestCase(0, 0)]
    [TestCase(1, 1)]
    [TestCase(4088, 1)]   // exactly frameMax - 8: one full frame
    [TestCase(4089, 2)]
    [TestCase(10000, 3)]  // 4088 + 4088 + 1824
    [TestCase(8176, 2)]   // two full frames, no empty third
    public void Body_is_split_into_frame_max_minus_8_chunks(int length, int expectedFrames)
    {
        byte[] body = Body(length);
        int size = FrameEncoder.BodyFramesSize(length, FrameMax);
        Assert.That(size, Is.EqualTo(length + expectedFrames * 8));
        byte[] buffer = new byte[size];
        Assert.That(FrameEncoder.WriteBodyFrames(buffer, 7, body, FrameMax), Is.EqualTo(size));

        List<(FrameHeader Header, byte[] Payload)> frames = ReadAll(new ReadOnlySequence<byte>(buffer));
        Assert.That(frames, Has.Count.EqualTo(expectedFrames));
        var joined = new List<byte>();
        foreach ((FrameHeader header, byte[] payload) in frames)
        {
            Assert.That(header.Type, Is.EqualTo(FrameType.Body));
            Assert.That(header.Channel, Is.EqualTo(7));
            Assert.That(header.Size, Is.LessThanOrEqualTo(FrameMax - 8));
            joined.AddRange(payload);
        }

        Assert.That(joined, Is.EqualTo(body));
    }

    [Test]
    public void Frame_max_zero_means_one_body_frame_and_tiny_frame_max_is_refused()
    {
        Assert.That(FrameEncoder.BodyFramesSize(100000, 0), Is.EqualTo(100008));
        Assert.Throws<ArgumentOutOfRangeException>(() => FrameEncoder.BodyFramesSize(1, 8));
        Assert.Throws<ArgumentOutOfRangeException>(() => FrameEncoder.BodyFramesSize(-1, FrameMax));
        Assert.That(FrameEncoder.BodyFramesSize(1, 9), Is.EqualTo(9));
    }

    [TestCase(0)]
    [TestCase(16)]
    [TestCase(5000)]
    public void Publish_writes_method_header_and_body_frames_in_one_run(int bodyLength)
    {
        var method = new BasicPublish("amq.direct", "key", mandatory: true, immediate: false);
        var properties = new BasicProperties { ContentType = "application/json", DeliveryMode = 2, Priority = 0, Timestamp = 1700000000 };
        byte[] body = Body(bodyLength);

        int size = FrameEncoder.PublishSize(method, properties, body.Length, FrameMax);
        byte[] buffer = new byte[size + 10];
        Assert.That(FrameEncoder.WritePublish(buffer, 3, method, properties, body, FrameMax), Is.EqualTo(size));

        List<(FrameHeader Header, byte[] Payload)> frames = ReadAll(new ReadOnlySequence<byte>(buffer, 0, size));
        Assert.That(frames, Has.Count.EqualTo(2 + (bodyLength + 4087) / 4088));
        Assert.That(frames.TrueForAll(f => f.Header.Channel == 3), Is.True);

        Assert.That(frames[0].Header.Type, Is.EqualTo(FrameType.Method));
        Assert.That(BasicPublish.Read(frames[0].Payload.AsSpan(4)).ToMethod(), Is.EqualTo(method));

        Assert.That(frames[1].Header.Type, Is.EqualTo(FrameType.Header));
        ContentHeader.Reader header = ContentHeader.Read(frames[1].Payload);
        Assert.That(header.BodySize, Is.EqualTo((ulong)bodyLength));
        Assert.That(header.Properties.ToProperties(), Is.EqualTo(properties));

        var joined = new List<byte>();
        for (int i = 2; i < frames.Count; i++)
        {
            Assert.That(frames[i].Header.Type, Is.EqualTo(FrameType.Body));
            joined.AddRange(frames[i].Payload);
        }

        Assert.That(joined, Is.EqualTo(body));
    }

    [Test]
    public void Incomplete_frames_need_more_bytes()
    {
        byte[] frame = new byte[FrameEncoder.MethodFrameSize(new BasicAck(9, multiple: false))];
        FrameEncoder.WriteMethodFrame(frame, 1, new BasicAck(9, multiple: false));
        for (int length = 0; length < frame.Length; length++)
        {
            var partial = new ReadOnlySequence<byte>(frame, 0, length);
            Assert.That(FrameDecoder.TryReadFrame(partial, FrameMax, out _, out _, out _), Is.False, $"{length} bytes");
        }

        Assert.That(FrameDecoder.TryReadFrame(new ReadOnlySequence<byte>(frame), FrameMax, out FrameHeader header, out _, out _), Is.True);
        Assert.That(header.Size, Is.EqualTo(13u));
    }

    [Test]
    public void Unknown_frame_type_is_a_format_error()
    {
        byte[] frame = Hex.Parse("04 0000 00000000 CE");
        Assert.That(() => FrameDecoder.TryReadFrame(new ReadOnlySequence<byte>(frame), FrameMax, out _, out _, out _),
            Throws.TypeOf<AmqpFrameFormatException>().With.Message.Contains("Unknown frame type 4"));
    }

    [Test]
    public void Protocol_header_from_the_server_is_reported_as_version_mismatch()
    {
        byte[] reply = Hex.Parse("414D5150 00000900");
        Assert.That(() => FrameDecoder.TryReadFrame(new ReadOnlySequence<byte>(reply), FrameMax, out _, out _, out _),
            Throws.TypeOf<AmqpFrameFormatException>().With.Message.Contains("AMQP 0-0-9-0"));
    }

    [Test]
    public void Bad_frame_end_is_a_format_error()
    {
        byte[] frame = Hex.Parse("08 0000 00000000 CD");
        Assert.That(() => FrameDecoder.TryReadFrame(new ReadOnlySequence<byte>(frame), FrameMax, out _, out _, out _),
            Throws.TypeOf<AmqpFrameFormatException>().With.Message.Contains("0xCD"));
    }

    [Test]
    public void Size_over_frame_max_is_refused_from_the_header_alone()
    {
        // frame-max counts the whole frame, so the payload may be at most frameMax - 8.
        byte[] atLimit = new byte[FrameMax];
        FrameEncoder.WriteBodyFrames(atLimit, 1, new byte[FrameMax - 8], FrameMax);
        Assert.That(FrameDecoder.TryReadFrame(new ReadOnlySequence<byte>(atLimit), FrameMax, out _, out _, out _), Is.True);

        byte[] header = Hex.Parse("03 0001 00000FF9"); // payload 4089: one byte too many, body not yet received
        Assert.That(() => FrameDecoder.TryReadFrame(new ReadOnlySequence<byte>(header), FrameMax, out _, out _, out _),
            Throws.TypeOf<AmqpFrameFormatException>().With.Message.Contains("frame-max 4096"));
        Assert.That(FrameDecoder.TryReadFrame(new ReadOnlySequence<byte>(header), 0, out _, out _, out _), Is.False, "frame-max 0: no limit");
    }

    [Test]
    public void Frames_spanning_segments_are_read_at_every_split_point()
    {
        var deliver = new BasicDeliver("consumer-1", 42, redelivered: false, "ex", "rk");
        var properties = new BasicProperties { ContentType = "text/plain", Headers = new FieldTable { ["h"] = 1 } };
        byte[] body = Body(100);
        int size = FrameEncoder.MethodFrameSize(deliver) + FrameEncoder.ContentHeaderFrameSize(properties) + FrameEncoder.BodyFramesSize(body.Length, FrameMax);
        byte[] data = new byte[size];
        int written = FrameEncoder.WriteMethodFrame(data, 5, deliver);
        written += FrameEncoder.WriteContentHeaderFrame(data.AsSpan(written), 5, 60, (ulong)body.Length, properties);
        written += FrameEncoder.WriteBodyFrames(data.AsSpan(written), 5, body, FrameMax);
        Assert.That(written, Is.EqualTo(size));

        for (int cut = 1; cut < data.Length; cut++)
        {
            for (int second = cut + 1; second < data.Length; second += 37)
            {
                ReadOnlySequence<byte> sequence = Segment.Split(data, cut, second);
                List<(FrameHeader Header, byte[] Payload)> frames = ReadAll(sequence);
                Assert.That(frames, Has.Count.EqualTo(3), $"cut at {cut}, {second}");
                Assert.That(BasicDeliver.Read(frames[0].Payload.AsSpan(4)).ToMethod(), Is.EqualTo(deliver));
                Assert.That(ContentHeader.Read(frames[1].Payload).Properties.ToProperties(), Is.EqualTo(properties));
                Assert.That(frames[2].Payload, Is.EqualTo(body));
            }
        }
    }

    [Test]
    public void Contiguous_copies_only_when_the_payload_spans_segments()
    {
        byte[] data = Hex.Parse("0102030405060708");
        byte[]? scratch = null;

        ReadOnlySequence<byte> single = new ReadOnlySequence<byte>(data).Slice(2, 4);
        ReadOnlySpan<byte> view = FrameDecoder.Contiguous(single, ref scratch);
        Assert.That(view.ToArray(), Is.EqualTo(new byte[] { 3, 4, 5, 6 }));
        Assert.That(scratch, Is.Null, "a single segment is used in place");
        data[3] = 0x44;
        Assert.That(view[1], Is.EqualTo(0x44), "the span is a view into the original buffer");

        ReadOnlySequence<byte> split = Segment.Split(data, 3).Slice(1, 6);
        view = FrameDecoder.Contiguous(split, ref scratch);
        Assert.That(view.ToArray(), Is.EqualTo(new byte[] { 2, 3, 0x44, 5, 6, 7 }));
        Assert.That(scratch, Is.Not.Null);
        byte[] rented = scratch!;

        // A second, smaller multi-segment payload reuses the same scratch array.
        view = FrameDecoder.Contiguous(Segment.Split(data, 1).Slice(0, 3), ref scratch);
        Assert.That(view.ToArray(), Is.EqualTo(new byte[] { 1, 2, 3 }));
        Assert.That(scratch, Is.SameAs(rented));

        FrameDecoder.ReturnScratch(ref scratch);
        Assert.That(scratch, Is.Null);
    }

    [Test]
    public void Mutated_frames_only_throw_format_exception()
    {
        var seeds = new List<byte[]>();
        var publish = new BasicPublish("ex", "rk", false, false);
        var properties = new BasicProperties { MessageId = "m1", Headers = FieldTableTests.SampleTable() };
        byte[] body = Body(300);
        byte[] run = new byte[FrameEncoder.PublishSize(publish, properties, body.Length, 128)];
        FrameEncoder.WritePublish(run, 1, publish, properties, body, 128);
        seeds.Add(run);
        byte[] heartbeat = new byte[8];
        FrameEncoder.WriteHeartbeat(heartbeat);
        seeds.Add(heartbeat);

        var random = new Random(31337);
        (int accepted, int rejected) = Fuzz.Run(seeds, 20000, seed: 5, input =>
        {
            // Feed through the decoder in up to three segments, and parse each frame as the connection would.
            int a = random.Next(input.Length + 1), b = random.Next(input.Length + 1);
            ReadOnlySequence<byte> buffer = Segment.Split(input, Math.Min(a, b), Math.Max(a, b));
            byte[]? scratch = null;
            while (FrameDecoder.TryReadFrame(buffer, 4096, out FrameHeader header, out ReadOnlySequence<byte> payload, out SequencePosition next))
            {
                ReadOnlySpan<byte> span = FrameDecoder.Contiguous(payload, ref scratch);
                if (header.Type == FrameType.Header)
                {
                    ContentHeader.Reader reader = ContentHeader.Read(span);
                    _ = reader.Properties.Headers;
                }
                else if (header.Type == FrameType.Method && span.Length >= 4)
                {
                    _ = BasicPublish.Read(span.Slice(4)).ToMethod();
                }

                buffer = buffer.Slice(next);
            }

            FrameDecoder.ReturnScratch(ref scratch);
        });
        Assert.That(accepted, Is.GreaterThan(100));
        Assert.That(rejected, Is.GreaterThan(1000));
    }

    [Test]
    public void Encoding_a_publish_and_decoding_a_delivery_allocate_nothing()
    {
        var method = new BasicPublish("amq.direct", "key", false, false);
        var properties = new BasicProperties { ContentType = "application/json", DeliveryMode = 2, Headers = new FieldTable { ["n"] = 1 } };
        byte[] body = Body(1024);
        byte[] buffer = new byte[FrameEncoder.PublishSize(method, properties, body.Length, FrameMax)];

        var deliver = new BasicDeliver("ctag", 1, false, "amq.direct", "key");
        byte[] incoming = new byte[FrameEncoder.MethodFrameSize(deliver) + FrameEncoder.ContentHeaderFrameSize(properties)];
        int split = FrameEncoder.WriteMethodFrame(incoming, 1, deliver);
        FrameEncoder.WriteContentHeaderFrame(incoming.AsSpan(split), 1, 60, 1024, properties);
        ReadOnlySequence<byte> twoSegments = Segment.Split(incoming, split + 5);
        byte[]? scratch = null;

        long total = 0;
        for (int round = 0; round < 2; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 100; i++)
            {
                total += FrameEncoder.WritePublish(buffer, 1, method, properties, body, FrameMax);
                ReadOnlySequence<byte> input = twoSegments;
                while (FrameDecoder.TryReadFrame(input, FrameMax, out FrameHeader header, out ReadOnlySequence<byte> payload, out SequencePosition next))
                {
                    ReadOnlySpan<byte> span = FrameDecoder.Contiguous(payload, ref scratch);
                    if (header.Type == FrameType.Method)
                    {
                        total += (long)BasicDeliver.Read(span.Slice(4)).DeliveryTag;
                    }
                    else
                    {
                        total += ContentHeader.Read(span).Properties.DeliveryMode ?? 0;
                    }

                    input = input.Slice(next);
                }
            }

            // The first round may rent the scratch buffer; the second must allocate nothing.
            if (round == 1)
            {
                Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero);
            }
        }

        Assert.That(total, Is.GreaterThan(0));
        FrameDecoder.ReturnScratch(ref scratch);
    }
}
