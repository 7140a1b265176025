using System;
using System.Buffers.Binary;
using System.Text;

namespace CoolAmqp.Framing;

/// <summary>
/// Primitive AMQP codecs (spec section 4.2.5): big-endian integers, short and long strings, field tables.
/// Generated method structs call these; the names passed in are only used in error messages and are
/// string literals, so the success path allocates nothing.
/// </summary>
internal static class Wire
{
    internal static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    // ---- writing: each returns the number of bytes written ----

    internal static int WriteOctet(Span<byte> destination, byte value)
    {
        destination[0] = value;
        return 1;
    }

    internal static int WriteShort(Span<byte> destination, ushort value)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination, value);
        return 2;
    }

    internal static int WriteLong(Span<byte> destination, uint value)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, value);
        return 4;
    }

    internal static int WriteLongLong(Span<byte> destination, ulong value)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, value);
        return 8;
    }

    /// <summary>Encoded size of a shortstr (length octet + UTF-8 bytes); refuses strings over 255 bytes.</summary>
    internal static int ShortStrSize(string? value, string owner, string field)
    {
        if (string.IsNullOrEmpty(value))
        {
            return 1;
        }

        // A char is at most 3 UTF-8 bytes, so short strings skip the exact count.
        int bytes = value!.Length <= 85 ? Utf8.GetByteCount(value) : CountChecked(value, owner, field);
        if (bytes > 255)
        {
            throw TooLong(owner, field, bytes);
        }

        return 1 + bytes;
    }

    private static int CountChecked(string value, string owner, string field)
    {
        if (value.Length > 255)
        {
            throw TooLong(owner, field, Utf8.GetByteCount(value));
        }

        return Utf8.GetByteCount(value);
    }

    private static ArgumentException TooLong(string owner, string field, int bytes) =>
        new($"{owner}: field '{field}' is {bytes} UTF-8 bytes long; a shortstr holds at most 255.", field);

    internal static int WriteShortStr(Span<byte> destination, string? value, string owner, string field)
    {
        if (string.IsNullOrEmpty(value))
        {
            destination[0] = 0;
            return 1;
        }

        if (value!.Length > 255 && Utf8.GetByteCount(value) > 255)
        {
            throw TooLong(owner, field, Utf8.GetByteCount(value));
        }

        int written;
        try
        {
            written = Utf8.GetBytes(value, destination.Slice(1));
        }
        catch (ArgumentException) when (destination.Length < 256)
        {
            throw new ArgumentException($"{owner}: destination too small for field '{field}'.", nameof(destination));
        }

        if (written > 255)
        {
            throw TooLong(owner, field, written);
        }

        destination[0] = (byte)written;
        return 1 + written;
    }

    /// <summary>Writes a shortstr already encoded as UTF-8 (e.g. a cached routing key).</summary>
    internal static int WriteShortStr(Span<byte> destination, ReadOnlySpan<byte> utf8, string owner, string field)
    {
        if (utf8.Length > 255)
        {
            throw TooLong(owner, field, utf8.Length);
        }

        destination[0] = (byte)utf8.Length;
        utf8.CopyTo(destination.Slice(1));
        return 1 + utf8.Length;
    }

    internal static int LongStrSize(ReadOnlyMemory<byte> value) => 4 + value.Length;

    internal static int WriteLongStr(Span<byte> destination, ReadOnlySpan<byte> value)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)value.Length);
        value.CopyTo(destination.Slice(4));
        return 4 + value.Length;
    }

    /// <summary>Encoded size of a field table including its 4-byte length; null is the empty table.</summary>
    internal static int TableSize(FieldTable? table) => table is null ? 4 : table.GetSize();

    internal static int WriteTable(Span<byte> destination, FieldTable? table)
    {
        if (table is null)
        {
            BinaryPrimitives.WriteUInt32BigEndian(destination, 0);
            return 4;
        }

        return table.WriteTo(destination);
    }

    // ---- reading: each advances position and throws AmqpFrameFormatException on short input ----

    internal static byte ReadOctet(ReadOnlySpan<byte> source, scoped ref int position, string what)
    {
        if ((uint)position >= (uint)source.Length)
        {
            throw Truncated(what, 1, source.Length - position);
        }

        return source[position++];
    }

    internal static ushort ReadShort(ReadOnlySpan<byte> source, scoped ref int position, string what)
    {
        Need(source, position, 2, what);
        ushort value = BinaryPrimitives.ReadUInt16BigEndian(source.Slice(position));
        position += 2;
        return value;
    }

    internal static uint ReadLong(ReadOnlySpan<byte> source, scoped ref int position, string what)
    {
        Need(source, position, 4, what);
        uint value = BinaryPrimitives.ReadUInt32BigEndian(source.Slice(position));
        position += 4;
        return value;
    }

    internal static ulong ReadLongLong(ReadOnlySpan<byte> source, scoped ref int position, string what)
    {
        Need(source, position, 8, what);
        ulong value = BinaryPrimitives.ReadUInt64BigEndian(source.Slice(position));
        position += 8;
        return value;
    }

    /// <summary>Reads a shortstr and returns its bytes (a view into <paramref name="source"/>).</summary>
    internal static ReadOnlySpan<byte> ReadShortStr(ReadOnlySpan<byte> source, scoped ref int position, string what)
    {
        int length = ReadOctet(source, ref position, what);
        Need(source, position, length, what);
        ReadOnlySpan<byte> value = source.Slice(position, length);
        position += length;
        return value;
    }

    /// <summary>Reads a longstr and returns its bytes (a view into <paramref name="source"/>).</summary>
    internal static ReadOnlySpan<byte> ReadLongStr(ReadOnlySpan<byte> source, scoped ref int position, string what)
    {
        uint length = ReadLong(source, ref position, what);
        if (length > (uint)(source.Length - position))
        {
            throw Truncated(what, length, source.Length - position);
        }

        ReadOnlySpan<byte> value = source.Slice(position, (int)length);
        position += (int)length;
        return value;
    }

    /// <summary>Reads a field table and returns its body without the length prefix; the entries are checked when decoded.</summary>
    internal static ReadOnlySpan<byte> ReadTable(ReadOnlySpan<byte> source, scoped ref int position, string what) =>
        ReadLongStr(source, ref position, what);

    internal static string DecodeString(ReadOnlySpan<byte> utf8) => utf8.IsEmpty ? string.Empty : Utf8.GetString(utf8);

    private static void Need(ReadOnlySpan<byte> source, int position, int count, string what)
    {
        if (count > source.Length - position)
        {
            throw Truncated(what, (uint)count, source.Length - position);
        }
    }

    private static AmqpFrameFormatException Truncated(string what, uint needed, int available) =>
        new($"Truncated input reading {what}: needed {needed} bytes, {Math.Max(available, 0)} left.");
}
