using System;
using System.Buffers;
using BenchmarkDotNet.Attributes;
using CoolAmqp.Framing;

namespace CoolAmqp.Benchmarks;

/// <summary>
/// Reading a delivery's basic.deliver and content header frames from received bytes: find the frames, parse them in
/// place, and read the fields a consumer looks at.
/// </summary>
[MemoryDiagnoser]
public class DeliverDecodeBenchmarks
{
    private const uint FrameMax = 131072;

    private ReadOnlySequence<byte> _oneSegment;
    private ReadOnlySequence<byte> _twoSegments;
    private byte[]? _scratch;

    [GlobalSetup]
    public void Setup()
    {
        var deliver = new BasicDeliver("amq.ctag-Xk3v9bq2Zt8PYwCq1s0a4g", 123456, redelivered: false, "orders", "orders.created.eu-west");
        var properties = new BasicProperties
        {
            ContentType = "application/json",
            DeliveryMode = 2,
            MessageId = "5f0c6d1e-8a4b-4c52-9d7e-2b1f3a9c0e11",
            Timestamp = 1700000000,
            Headers = new FieldTable { ["x-retry"] = 3, ["tenant"] = "acme" },
        };
        byte[] data = new byte[FrameEncoder.MethodFrameSize(deliver) + FrameEncoder.ContentHeaderFrameSize(properties)];
        int split = FrameEncoder.WriteMethodFrame(data, 1, deliver);
        FrameEncoder.WriteContentHeaderFrame(data.AsSpan(split), 1, BasicProperties.ClassIndex, 1024, properties);
        _oneSegment = new ReadOnlySequence<byte>(data);

        // The content header straddles two pipe segments, so it is copied to the scratch buffer.
        var first = new Chunk(data.AsMemory(0, split + 20), null);
        var second = new Chunk(data.AsMemory(split + 20), first);
        _twoSegments = new ReadOnlySequence<byte>(first, 0, second, second.Memory.Length);
    }

    [GlobalCleanup]
    public void Cleanup() => FrameDecoder.ReturnScratch(ref _scratch);

    [Benchmark(Baseline = true)]
    public long ReadDeliverAndHeader() => Read(_oneSegment);

    [Benchmark]
    public long ReadDeliverAndHeaderAcrossSegments() => Read(_twoSegments);

    private long Read(ReadOnlySequence<byte> buffer)
    {
        long sum = 0;
        while (FrameDecoder.TryReadFrame(buffer, FrameMax, out FrameHeader header, out ReadOnlySequence<byte> payload, out SequencePosition next))
        {
            ReadOnlySpan<byte> span = FrameDecoder.Contiguous(payload, ref _scratch);
            if (header.Type == FrameType.Method)
            {
                BasicDeliver.Reader deliver = BasicDeliver.Read(span.Slice(4));
                sum += (long)deliver.DeliveryTag + deliver.ConsumerTagBytes.Length + deliver.RoutingKeyBytes.Length + deliver.ExchangeBytes.Length;
                sum += deliver.Redelivered ? 1 : 0;
            }
            else
            {
                ContentHeader.Reader content = ContentHeader.Read(span);
                BasicProperties.Reader properties = content.Properties;
                sum += (long)content.BodySize + (properties.DeliveryMode ?? 0) + properties.ContentTypeBytes.Length
                    + properties.MessageIdBytes.Length + (long)(properties.Timestamp ?? 0) + properties.HeadersBytes.Length;
            }

            buffer = buffer.Slice(next);
        }

        return sum;
    }

    private sealed class Chunk : ReadOnlySequenceSegment<byte>
    {
        public Chunk(ReadOnlyMemory<byte> memory, Chunk? previous)
        {
            Memory = memory;
            if (previous is not null)
            {
                RunningIndex = previous.RunningIndex + previous.Memory.Length;
                previous.Next = this;
            }
        }
    }
}
