using System;
using System.Buffers.Binary;

namespace CoolAmqp.Framing;

/// <summary>An AMQP field table (placeholder: the full codec replaces this file).</summary>
public sealed class FieldTable
{
    private readonly byte[] _encoded = Array.Empty<byte>();

    /// <summary>Encoded size including the 4-byte length prefix.</summary>
    public int GetSize() => 4 + _encoded.Length;

    /// <summary>Writes the table including its length prefix.</summary>
    public int WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)_encoded.Length);
        return 4;
    }

    /// <summary>Decodes a table body (without its length prefix).</summary>
    public static FieldTable Decode(ReadOnlySpan<byte> body) =>
        body.IsEmpty ? new FieldTable() : throw new AmqpFrameFormatException("field table codec not written yet");
}
