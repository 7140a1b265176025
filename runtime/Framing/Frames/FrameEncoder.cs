using System;
using System.Buffers.Binary;

namespace CoolAmqp.Framing;

// Frames/ holds the code that needs types generated from the full spec (BasicPublish, BasicProperties, FrameType);
// the files directly in Framing/ depend on nothing generated, so the generator tests compile them with any spec.

/// <summary>
/// Writes whole frames (spec 4.2.3: type octet, channel short, size long, payload, frame-end 0xCE) into a
/// caller-supplied buffer. Every <c>XxxSize</c> returns exactly what the matching <c>Write</c> writes, so a caller
/// reserves space once and writes in place; nothing here allocates. A destination that is too small throws
/// <see cref="ArgumentOutOfRangeException"/> or <see cref="ArgumentException"/>.
/// </summary>
internal static class FrameEncoder
{
    /// <summary>Bytes a frame adds around its payload: the 7-byte header and the frame-end octet.</summary>
    public const int Overhead = 8;

    /// <summary>The frame-end octet (spec 4.2.3).</summary>
    public const byte FrameEnd = AmqpConstants.FrameEnd;

    // class-id, weight, body-size (spec 4.2.6.1), before the property flags.
    private const int ContentHeaderPrefix = 12;

    /// <summary>The protocol header a client sends first (spec 4.2.2): "AMQP" 0 0 9 1.</summary>
    public static ReadOnlySpan<byte> ProtocolHeader =>
        [(byte)'A', (byte)'M', (byte)'Q', (byte)'P', 0, AmqpConstants.ProtocolMajor, AmqpConstants.ProtocolMinor, AmqpConstants.ProtocolRevision];

    /// <summary>Size of a method frame: overhead, class and method ids, arguments.</summary>
    /// <exception cref="ArgumentException">A field does not fit its AMQP type.</exception>
    public static int MethodFrameSize<T>(in T method)
        where T : struct, IAmqpMethod => Overhead + 4 + method.GetSize();

    /// <summary>Writes a method frame and returns the bytes written (<see cref="MethodFrameSize{T}"/>).</summary>
    /// <exception cref="ArgumentException">A field does not fit its AMQP type.</exception>
    public static int WriteMethodFrame<T>(Span<byte> destination, ushort channel, in T method)
        where T : struct, IAmqpMethod
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(FrameHeader.Length), method.ClassId);
        BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(FrameHeader.Length + 2), method.MethodId);
        int payload = 4 + method.WriteArguments(destination.Slice(FrameHeader.Length + 4));
        return Frame(destination, FrameType.Method, channel, payload);
    }

    /// <summary>Size of a content header frame carrying <paramref name="properties"/>.</summary>
    /// <exception cref="ArgumentException">A property does not fit its AMQP type.</exception>
    public static int ContentHeaderFrameSize(in BasicProperties properties) =>
        Overhead + ContentHeaderPrefix + properties.GetSize();

    /// <summary>Writes a content header frame (spec 4.2.6.1; weight is always 0) and returns the bytes written.</summary>
    /// <exception cref="ArgumentException">A property does not fit its AMQP type.</exception>
    public static int WriteContentHeaderFrame(Span<byte> destination, ushort channel, ushort classId, ulong bodySize, in BasicProperties properties)
    {
        Span<byte> payload = destination.Slice(FrameHeader.Length);
        BinaryPrimitives.WriteUInt16BigEndian(payload, classId);
        BinaryPrimitives.WriteUInt16BigEndian(payload.Slice(2), 0);
        BinaryPrimitives.WriteUInt64BigEndian(payload.Slice(4), bodySize);
        int length = ContentHeaderPrefix + properties.WriteTo(payload.Slice(ContentHeaderPrefix));
        return Frame(destination, FrameType.Header, channel, length);
    }

    /// <summary>
    /// Size of the body frames for a body of <paramref name="bodyLength"/> bytes, each carrying at most
    /// <c>frameMax - 8</c> bytes; an empty body has no body frames (spec 4.2.6.2). <paramref name="frameMax"/> 0 means no limit.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="frameMax"/> leaves no room for a payload, or the length is negative.</exception>
    public static int BodyFramesSize(int bodyLength, uint frameMax)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bodyLength);
        if (bodyLength == 0)
        {
            return 0;
        }

        int chunk = MaxBodyChunk(frameMax);
        int frames = bodyLength / chunk + (bodyLength % chunk == 0 ? 0 : 1);
        return checked(bodyLength + frames * Overhead);
    }

    /// <summary>Writes <paramref name="body"/> as body frames (see <see cref="BodyFramesSize"/>) and returns the bytes written.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="frameMax"/> leaves no room for a payload.</exception>
    public static int WriteBodyFrames(Span<byte> destination, ushort channel, ReadOnlySpan<byte> body, uint frameMax)
    {
        if (body.IsEmpty)
        {
            return 0;
        }

        int chunk = MaxBodyChunk(frameMax);
        int written = 0;
        while (!body.IsEmpty)
        {
            int length = Math.Min(chunk, body.Length);
            body.Slice(0, length).CopyTo(destination.Slice(written + FrameHeader.Length));
            written += Frame(destination.Slice(written), FrameType.Body, channel, length);
            body = body.Slice(length);
        }

        return written;
    }

    /// <summary>Writes a heartbeat frame (channel 0, empty payload) and returns 8.</summary>
    public static int WriteHeartbeat(Span<byte> destination) => Frame(destination, FrameType.Heartbeat, 0, 0);

    /// <summary>Size of a whole publish: the basic.publish method frame, the content header frame and the body frames.</summary>
    /// <exception cref="ArgumentException">A field or property does not fit its AMQP type.</exception>
    public static int PublishSize(in BasicPublish method, in BasicProperties properties, int bodyLength, uint frameMax) =>
        checked(MethodFrameSize(method) + ContentHeaderFrameSize(properties) + BodyFramesSize(bodyLength, frameMax));

    /// <summary>
    /// Writes a whole publish as one contiguous run of frames (so frames of two publishers never interleave on a
    /// channel) and returns the bytes written (<see cref="PublishSize"/>).
    /// </summary>
    /// <exception cref="ArgumentException">A field or property does not fit its AMQP type.</exception>
    public static int WritePublish(Span<byte> destination, ushort channel, in BasicPublish method, in BasicProperties properties, ReadOnlySpan<byte> body, uint frameMax)
    {
        int written = WriteMethodFrame(destination, channel, method);
        written += WriteContentHeaderFrame(destination.Slice(written), channel, BasicProperties.ClassIndex, (ulong)body.Length, properties);
        written += WriteBodyFrames(destination.Slice(written), channel, body, frameMax);
        return written;
    }

    /// <summary>The largest body payload one frame may carry under <paramref name="frameMax"/> (0 = no limit).</summary>
    public static int MaxBodyChunk(uint frameMax)
    {
        if (frameMax == 0)
        {
            return int.MaxValue;
        }

        if (frameMax <= Overhead)
        {
            throw new ArgumentOutOfRangeException(nameof(frameMax), frameMax, "frame-max must exceed the 8-byte frame overhead.");
        }

        return (int)Math.Min(frameMax - Overhead, int.MaxValue);
    }

    // Fills in the header around a payload already written at destination[7..] and appends the frame-end octet.
    private static int Frame(Span<byte> destination, FrameType type, ushort channel, int payloadLength)
    {
        destination[FrameHeader.Length + payloadLength] = FrameEnd;
        destination[0] = (byte)type;
        BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(1), channel);
        BinaryPrimitives.WriteUInt32BigEndian(destination.Slice(3), (uint)payloadLength);
        return payloadLength + Overhead;
    }
}
