using System;
using BenchmarkDotNet.Attributes;
using CoolAmqp.Connections;
using CoolAmqp.Framing;

namespace CoolAmqp.Benchmarks;

/// <summary>
/// The outbound path of a connection, as the publisher and the consumer's acks use it: frames appended to the
/// connection's <see cref="FrameWriter"/> under its lock, and the writer loop moving them to the stream
/// (<see cref="System.IO.Stream.Null"/>). Each invocation appends <see cref="Batch"/> operations and then waits
/// until the writer loop has sent them all, so the time per operation includes the loop's share.
/// </summary>
[MemoryDiagnoser]
public class WriterBenchmarks
{
    private const int Batch = 100;

    private ConnectionHarness _harness = null!;
    private Message _message = null!;
    private ulong _tag;

    [Params(16, 1024, 65536)]
    public int BodySize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _harness = new ConnectionHarness();
        byte[] body = new byte[BodySize];
        new Random(1).NextBytes(body);
        _message = new Message(body, new MessageProperties
        {
            ContentType = "application/json",
            DeliveryMode = 2,
            MessageId = "5f0c6d1e-8a4b-4c52-9d7e-2b1f3a9c0e11",
            Timestamp = DateTimeOffset.FromUnixTimeSeconds(1700000000),
        });
    }

    /// <summary>What <c>PublishAsync</c> does per message without confirms: build basic.publish, convert the
    /// properties, append publish, header and body frames to the writer in one hold of its lock.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public void PublishIntoWriter()
    {
        FrameWriter writer = _harness.Connection.Writer;
        for (int i = 0; i < Batch; i++)
        {
            var method = new BasicPublish("orders", "orders.created.eu-west", false, false);
            BasicProperties properties = _message.Properties.ToWire();
            var hook = default(NoHook);
            writer.TryWritePublish(_harness.Channel, in method, in properties, _message.Body.Span, ref hook);
        }

        _harness.WaitDrained();
    }

    /// <summary>Ack batching: one basic.ack per delivery (as <c>ReceivedMessage.Ack()</c> sends it), appended
    /// one by one and coalesced by the writer loop into few socket writes. Independent of BodySize.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public void AckEachThroughWriter()
    {
        for (int i = 0; i < Batch; i++)
        {
            // The read loop tracks each delivery's tag; an ack of a tag never delivered sends nothing.
            _harness.Channel.TrackDelivery(++_tag, needsSettling: true);
            _harness.Channel.Ack(_tag, multiple: false);
        }

        _harness.WaitDrained();
    }

    private struct NoHook : IPublishHook
    {
        public readonly void BeforeAppend()
        {
        }

        public readonly void AfterAppend(long committedTotal, long sentTotal)
        {
        }
    }
}
