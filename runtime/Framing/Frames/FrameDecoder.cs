using System;
using System.Buffers;
using System.Buffers.Binary;

namespace CoolAmqp.Framing;

/// <summary>
/// Finds frames in received bytes without copying them (spec 4.2.3), and gives parsers a contiguous view of a
/// payload, copying only when the payload spans two buffer segments.
/// </summary>
internal static class FrameDecoder
{
    /// <summary>
    /// Reads one frame from the start of <paramref name="buffer"/>. Returns false when more bytes are needed;
    /// <paramref name="payload"/> is a slice of <paramref name="buffer"/> and <paramref name="next"/> is the
    /// position after the frame-end octet.
    /// </summary>
    /// <param name="buffer">Received bytes.</param>
    /// <param name="frameMax">The negotiated frame-max (a frame's whole size, header and frame-end included); 0 = no limit.</param>
    /// <param name="header">The frame header, when a whole frame is present.</param>
    /// <param name="payload">The payload, when a whole frame is present.</param>
    /// <param name="next">The position after the frame, when a whole frame is present.</param>
    /// <exception cref="AmqpFrameFormatException">An unknown frame type, a size over frame-max, or a bad frame-end octet.</exception>
    public static bool TryReadFrame(in ReadOnlySequence<byte> buffer, uint frameMax, out FrameHeader header, out ReadOnlySequence<byte> payload, out SequencePosition next)
    {
        header = default;
        payload = default;
        next = default;
        if (buffer.Length < FrameHeader.Length)
        {
            return false;
        }

        ReadOnlySpan<byte> first = buffer.FirstSpan;
        Span<byte> copy = stackalloc byte[FrameHeader.Length];
        scoped ReadOnlySpan<byte> raw;
        if (first.Length >= FrameHeader.Length)
        {
            raw = first;
        }
        else
        {
            buffer.Slice(0, FrameHeader.Length).CopyTo(copy);
            raw = copy;
        }

        byte type = raw[0];
        if (type is not ((byte)FrameType.Method or (byte)FrameType.Header or (byte)FrameType.Body or (byte)FrameType.Heartbeat))
        {
            throw UnknownType(buffer, type);
        }

        ushort channel = BinaryPrimitives.ReadUInt16BigEndian(raw.Slice(1));
        uint size = BinaryPrimitives.ReadUInt32BigEndian(raw.Slice(3));
        if (frameMax != 0 && size > frameMax - Math.Min(frameMax, (uint)FrameEncoder.Overhead))
        {
            throw new AmqpFrameFormatException(
                $"{(FrameType)type} frame on channel {channel} has a {size}-byte payload; frame-max {frameMax} allows {frameMax - Math.Min(frameMax, (uint)FrameEncoder.Overhead)}.");
        }

        long total = (long)size + FrameEncoder.Overhead;
        if (buffer.Length < total)
        {
            return false;
        }

        byte end;
        if (first.Length >= total)
        {
            end = first[(int)total - 1];
        }
        else
        {
            ReadOnlySequence<byte> endSlice = buffer.Slice(total - 1, 1);
            end = endSlice.FirstSpan[0];
        }

        if (end != FrameEncoder.FrameEnd)
        {
            throw new AmqpFrameFormatException(
                $"{(FrameType)type} frame on channel {channel} ({size}-byte payload) ends with 0x{end:X2} instead of the frame-end octet 0xCE.");
        }

        header = new FrameHeader((FrameType)type, channel, size);
        payload = buffer.Slice(FrameHeader.Length, size);
        next = buffer.GetPosition(total);
        return true;
    }

    private static AmqpFrameFormatException UnknownType(in ReadOnlySequence<byte> buffer, byte type)
    {
        // A server that does not speak 0-9-1 answers the protocol header with its own and closes (spec 4.2.2).
        if (type == (byte)'A' && buffer.Length >= 8)
        {
            Span<byte> header = stackalloc byte[8];
            buffer.Slice(0, 8).CopyTo(header);
            if (header.StartsWith("AMQP"u8))
            {
                return new AmqpFrameFormatException(
                    $"The peer answered with protocol header AMQP {header[4]}-{header[5]}-{header[6]}-{header[7]}: it does not accept AMQP 0-9-1.");
            }
        }

        return new AmqpFrameFormatException($"Unknown frame type {type} (0x{type:X2}).");
    }

    /// <summary>
    /// A contiguous view of <paramref name="payload"/>: the bytes in place when they lie in one segment, else a copy
    /// in <paramref name="scratch"/>, which is rented from <see cref="ArrayPool{T}.Shared"/> (or grown) as needed
    /// and stays with the caller for reuse; give it back with <see cref="ReturnScratch"/>.
    /// </summary>
    public static ReadOnlySpan<byte> Contiguous(in ReadOnlySequence<byte> payload, ref byte[]? scratch)
    {
        if (payload.IsSingleSegment)
        {
            return payload.FirstSpan;
        }

        int length = checked((int)payload.Length);
        if (scratch is null || scratch.Length < length)
        {
            ReturnScratch(ref scratch);
            scratch = ArrayPool<byte>.Shared.Rent(length);
        }

        payload.CopyTo(scratch);
        return scratch.AsSpan(0, length);
    }

    /// <summary>Returns a scratch buffer from <see cref="Contiguous"/> to the pool.</summary>
    public static void ReturnScratch(ref byte[]? scratch)
    {
        if (scratch is not null)
        {
            ArrayPool<byte>.Shared.Return(scratch);
            scratch = null;
        }
    }
}
