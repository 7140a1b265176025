using System;
using System.Buffers.Binary;
using CoolAmqp.Connections;
using CoolAmqp.Framing;

namespace CoolAmqp.Tests.Faults;

/// <summary>Frame bytes for the scripted server, built with the runtime's own encoder and generated structs
/// (the well-formed ones) or by hand (the broken ones).</summary>
internal static class Frames
{
    /// <summary>A whole method frame.</summary>
    public static byte[] Method<T>(ushort channel, T method)
        where T : struct, IAmqpMethod
    {
        byte[] frame = new byte[FrameEncoder.MethodFrameSize(in method)];
        int written = FrameEncoder.WriteMethodFrame(frame, channel, in method);
        return written == frame.Length ? frame : throw new InvalidOperationException("The encoder's size and write disagree.");
    }

    /// <summary>A content header frame (class basic) announcing <paramref name="bodySize"/> bytes.</summary>
    public static byte[] Header(ushort channel, ulong bodySize, BasicProperties properties = default)
    {
        byte[] frame = new byte[FrameEncoder.ContentHeaderFrameSize(in properties)];
        FrameEncoder.WriteContentHeaderFrame(frame, channel, BasicProperties.ClassIndex, bodySize, in properties);
        return frame;
    }

    /// <summary>Body frames for <paramref name="body"/>, cut to <paramref name="frameMax"/>.</summary>
    public static byte[] Bodies(ushort channel, ReadOnlySpan<byte> body, uint frameMax)
    {
        byte[] frames = new byte[FrameEncoder.BodyFramesSize(body.Length, frameMax)];
        FrameEncoder.WriteBodyFrames(frames, channel, body, frameMax);
        return frames;
    }

    /// <summary>basic.deliver, its content header and its body frames.</summary>
    public static byte[] Delivery(ushort channel, string consumerTag, ulong deliveryTag, ReadOnlySpan<byte> body,
        uint frameMax, string routingKey = "faults")
    {
        byte[] method = Method(channel, new BasicDeliver(consumerTag, deliveryTag, false, string.Empty, routingKey));
        byte[] header = Header(channel, (ulong)body.Length);
        return Concat(method, header, Bodies(channel, body, frameMax));
    }

    /// <summary>Any frame, with a frame-end octet of our choosing.</summary>
    public static byte[] Raw(byte type, ushort channel, ReadOnlySpan<byte> payload, byte end = FrameEncoder.FrameEnd)
    {
        byte[] frame = new byte[payload.Length + FrameEncoder.Overhead];
        frame[0] = type;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(1), channel);
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(3), (uint)payload.Length);
        payload.CopyTo(frame.AsSpan(FrameHeader.Length));
        frame[^1] = end;
        return frame;
    }

    /// <summary>The payload of a frame built above (without header and frame-end).</summary>
    public static ReadOnlySpan<byte> PayloadOf(byte[] frame) =>
        frame.AsSpan(FrameHeader.Length, frame.Length - FrameEncoder.Overhead);

    public static byte[] Concat(params byte[][] parts)
    {
        int length = 0;
        foreach (byte[] part in parts)
        {
            length += part.Length;
        }

        byte[] all = new byte[length];
        int offset = 0;
        foreach (byte[] part in parts)
        {
            part.CopyTo(all, offset);
            offset += part.Length;
        }

        return all;
    }

    /// <summary>What the client accepts before connection.tune (AmqpLimits.PreTuneInboundFrameMax).</summary>
    public const uint PreTuneFrameMax = AmqpLimits.PreTuneInboundFrameMax;
}

/// <summary>The kinds of broken input a server can send.</summary>
public enum Malformation
{
    /// <summary>A well-formed frame whose frame-end octet is not 0xCE.</summary>
    BadFrameEnd,

    /// <summary>A frame whose type octet is none of method, header, body, heartbeat.</summary>
    UnknownFrameType,

    /// <summary>A valid method frame padded (readers ignore trailing bytes) past the negotiated frame-max.</summary>
    FrameOverFrameMax,

    /// <summary>A method frame whose arguments stop halfway.</summary>
    TruncatedArguments,

    /// <summary>A method of a class that does not exist.</summary>
    UnknownClass,

    /// <summary>A method id that its (existing) class does not have.</summary>
    UnknownMethod,

    /// <summary>A content header with no basic.deliver (or return, get-ok) before it.</summary>
    HeaderWithoutDeliver,

    /// <summary>A delivery whose body frames carry more bytes than its header announced.</summary>
    BodyLargerThanAnnounced,

    /// <summary>A basic.deliver followed by a body frame without a content header.</summary>
    BodyWithoutHeader,

    /// <summary>A delivery whose header announces a body larger than any array (2^63 - 1 bytes).</summary>
    HugeBodySize,
}

/// <summary>Builds broken frames from the frame the client is waiting for, so that a client that skipped a check
/// would take the broken frame for the answer it expects.</summary>
internal static class Malformed
{
    /// <param name="kind">What to break.</param>
    /// <param name="expected">The well-formed method frame the client waits for now.</param>
    /// <param name="frameMax">The client's current inbound frame limit.</param>
    public static byte[] Build(Malformation kind, byte[] expected, uint frameMax)
    {
        ushort channel = BinaryPrimitives.ReadUInt16BigEndian(expected.AsSpan(1));
        ReadOnlySpan<byte> payload = Frames.PayloadOf(expected);
        switch (kind)
        {
            case Malformation.BadFrameEnd:
            {
                byte[] frame = (byte[])expected.Clone();
                frame[^1] = 0x00;
                return frame;
            }

            case Malformation.UnknownFrameType:
                return Frames.Raw(9, channel, payload);

            case Malformation.FrameOverFrameMax:
            {
                byte[] padded = new byte[frameMax - FrameEncoder.Overhead + 1];
                payload.CopyTo(padded);
                return Frames.Raw((byte)FrameType.Method, channel, padded);
            }

            case Malformation.TruncatedArguments:
            {
                int arguments = payload.Length - 4;
                if (arguments < 2)
                {
                    throw new ArgumentException("The expected method has too few argument bytes to truncate.", nameof(expected));
                }

                return Frames.Raw((byte)FrameType.Method, channel, payload.Slice(0, 4 + arguments / 2));
            }

            case Malformation.UnknownClass:
            {
                byte[] changed = payload.ToArray();
                BinaryPrimitives.WriteUInt16BigEndian(changed, 99);
                return Frames.Raw((byte)FrameType.Method, channel, changed);
            }

            case Malformation.UnknownMethod:
            {
                byte[] changed = payload.ToArray();
                BinaryPrimitives.WriteUInt16BigEndian(changed.AsSpan(2), 99);
                return Frames.Raw((byte)FrameType.Method, channel, changed);
            }

            case Malformation.HeaderWithoutDeliver:
                return Frames.Header(channel, 5);

            case Malformation.BodyLargerThanAnnounced:
                return Frames.Concat(
                    Frames.Method(channel, new BasicDeliver("faults-ctag", 1, false, string.Empty, "faults")),
                    Frames.Header(channel, 4),
                    Frames.Raw((byte)FrameType.Body, channel, "12345678"u8));

            case Malformation.BodyWithoutHeader:
                return Frames.Concat(
                    Frames.Method(channel, new BasicDeliver("faults-ctag", 1, false, string.Empty, "faults")),
                    Frames.Raw((byte)FrameType.Body, channel, "1234"u8));

            case Malformation.HugeBodySize:
                return Frames.Concat(
                    Frames.Method(channel, new BasicDeliver("faults-ctag", 1, false, string.Empty, "faults")),
                    Frames.Header(channel, long.MaxValue),
                    Frames.Raw((byte)FrameType.Body, channel, "1234"u8));

            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, null);
        }
    }
}
