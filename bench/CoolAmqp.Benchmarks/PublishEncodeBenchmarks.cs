using System;
using BenchmarkDotNet.Attributes;
using CoolAmqp.Framing;

namespace CoolAmqp.Benchmarks;

/// <summary>Encoding a whole publish (basic.publish + content header + body frames) into a preallocated buffer.</summary>
[MemoryDiagnoser]
public class PublishEncodeBenchmarks
{
    private const uint FrameMax = 131072;

    private BasicPublish _method;
    private BasicProperties _properties;
    private byte[] _body = [];
    private byte[] _buffer = [];

    [Params(16, 1024, 65536)]
    public int BodySize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _method = new BasicPublish("orders", "orders.created.eu-west", mandatory: false, immediate: false);
        _properties = new BasicProperties
        {
            ContentType = "application/json",
            DeliveryMode = 2,
            MessageId = "5f0c6d1e-8a4b-4c52-9d7e-2b1f3a9c0e11",
            Timestamp = 1700000000,
        };
        _body = new byte[BodySize];
        new Random(1).NextBytes(_body);
        _buffer = new byte[FrameEncoder.PublishSize(_method, _properties, BodySize, FrameMax)];
    }

    /// <summary>What the publisher does per message: size the frames, then write them.</summary>
    [Benchmark]
    public int SizeAndWritePublish()
    {
        int size = FrameEncoder.PublishSize(_method, _properties, _body.Length, FrameMax);
        return size + FrameEncoder.WritePublish(_buffer.AsSpan(0, size), 1, _method, _properties, _body, FrameMax);
    }
}
