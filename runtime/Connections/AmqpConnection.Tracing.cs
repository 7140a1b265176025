using System;
using System.Buffers;
using System.Buffers.Binary;
using CoolAmqp.Framing;
using CoolAmqp.Tracing;

namespace CoolAmqp.Connections;

/// <summary>Frame tracing (only when the cluster has a tracer; otherwise none of this runs).</summary>
internal sealed partial class AmqpConnection
{
    private byte[]? _traceScratch;

    private void TraceInbound(in FrameHeader header, in ReadOnlySequence<byte> payload)
    {
        ReadOnlySpan<byte> bytes = FrameDecoder.Contiguous(in payload, ref _traceScratch);
        var frame = new AmqpFrame(header.Channel, header.Type, bytes);
        _tracer!.OnFrame(DateTimeOffset.UtcNow, in frame, FrameDirection.ToClient);
    }

    /// <summary>Called by the writer, under its lock, with whole frames just appended.</summary>
    void IOutboundFrameObserver.OnFramesWritten(ReadOnlySpan<byte> frames)
    {
        DateTimeOffset now = DateTimeOffset.UtcNow;
        while (frames.Length >= FrameEncoder.Overhead)
        {
            var type = (FrameType)frames[0];
            ushort channel = BinaryPrimitives.ReadUInt16BigEndian(frames.Slice(1));
            int size = (int)BinaryPrimitives.ReadUInt32BigEndian(frames.Slice(3));
            var frame = new AmqpFrame(channel, type, frames.Slice(FrameHeader.Length, size));
            _tracer!.OnFrame(now, in frame, FrameDirection.ToServer);
            frames = frames.Slice(size + FrameEncoder.Overhead);
        }
    }
}
