using System;
using System.Buffers.Binary;

namespace CoolAmqp.Framing;

/// <summary>
/// The payload of a content header frame (spec 4.2.6.1): class-id short, weight short (always 0, ignored),
/// body-size longlong, then the property flags and values of the class. Only class basic carries content.
/// </summary>
internal static class ContentHeader
{
    /// <summary>Bytes before the property flags.</summary>
    public const int PrefixLength = 12;

    /// <summary>Parses a content header payload; the reader is a view over it.</summary>
    /// <exception cref="AmqpFrameFormatException">The payload is truncated, names a class other than basic, or its properties are malformed.</exception>
    public static Reader Read(ReadOnlySpan<byte> payload) => new(payload);

    /// <summary>A zero-copy view over a content header payload, checked when created.</summary>
    public readonly ref struct Reader
    {
        internal Reader(ReadOnlySpan<byte> payload)
        {
            if (payload.Length < PrefixLength)
            {
                throw new AmqpFrameFormatException(
                    $"Truncated content header: {payload.Length} bytes, needed at least {PrefixLength} before the properties.");
            }

            ClassId = BinaryPrimitives.ReadUInt16BigEndian(payload);
            if (ClassId != BasicProperties.ClassIndex)
            {
                throw new AmqpFrameFormatException(
                    $"Content header for class {ClassId}; only basic ({BasicProperties.ClassIndex}) carries content.");
            }

            BodySize = BinaryPrimitives.ReadUInt64BigEndian(payload.Slice(4));
            Properties = BasicProperties.Read(payload.Slice(PrefixLength));
        }

        /// <summary>The content class; always basic (60).</summary>
        public ushort ClassId { get; }

        /// <summary>The total size of the body frames that follow.</summary>
        public ulong BodySize { get; }

        /// <summary>The message properties.</summary>
        public BasicProperties.Reader Properties { get; }
    }
}
