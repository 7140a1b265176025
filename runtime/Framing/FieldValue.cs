using System;
using System.Buffers.Binary;
using System.Collections.Generic;

namespace CoolAmqp.Framing;

/// <summary>
/// A zero-copy view of one encoded field-table or field-array value: its type code and its bytes inside the
/// buffer it was read from. Reading the typed accessors allocates nothing; <see cref="ToObject()"/> materialises.
/// </summary>
public readonly ref struct FieldValue
{
    private readonly ReadOnlySpan<byte> _raw;

    private FieldValue(FieldValueType type, ReadOnlySpan<byte> raw)
    {
        Type = type;
        _raw = raw;
    }

    /// <summary>The value's type (<c>'L'</c> on the wire is reported as <see cref="FieldValueType.Int64"/>).</summary>
    public FieldValueType Type { get; }

    /// <summary>The value's bytes after the type code; for <c>S</c>, <c>x</c>, <c>A</c> and <c>F</c> without the 4-byte length.</summary>
    public ReadOnlySpan<byte> RawBytes => _raw;

    /// <summary>Whether the value is void (<c>'V'</c>).</summary>
    public bool IsVoid => Type == FieldValueType.Void;

    /// <summary>The value of a boolean.</summary>
    /// <exception cref="InvalidOperationException">The value is not a boolean.</exception>
    public bool AsBoolean() => Type == FieldValueType.Boolean ? _raw[0] != 0 : throw Mismatch("a boolean");

    /// <summary>The value of any integer type (<c>b B s u I i l</c>) widened to 64 bits.</summary>
    /// <exception cref="InvalidOperationException">The value is not an integer.</exception>
    public long AsInt64() => Type switch
    {
        FieldValueType.SByte => (sbyte)_raw[0],
        FieldValueType.Byte => _raw[0],
        FieldValueType.Int16 => BinaryPrimitives.ReadInt16BigEndian(_raw),
        FieldValueType.UInt16 => BinaryPrimitives.ReadUInt16BigEndian(_raw),
        FieldValueType.Int32 => BinaryPrimitives.ReadInt32BigEndian(_raw),
        FieldValueType.UInt32 => BinaryPrimitives.ReadUInt32BigEndian(_raw),
        FieldValueType.Int64 => BinaryPrimitives.ReadInt64BigEndian(_raw),
        _ => throw Mismatch("an integer"),
    };

    /// <summary>The value of a <c>'f'</c> or <c>'d'</c> floating-point number.</summary>
    /// <exception cref="InvalidOperationException">The value is not floating-point.</exception>
    public double AsDouble() => Type switch
    {
        FieldValueType.Single => BinaryPrimitives.ReadSingleBigEndian(_raw),
        FieldValueType.Double => BinaryPrimitives.ReadDoubleBigEndian(_raw),
        _ => throw Mismatch("a floating-point number"),
    };

    /// <summary>The value of a decimal.</summary>
    /// <exception cref="InvalidOperationException">The value is not a decimal.</exception>
    public AmqpDecimal AsDecimal() =>
        Type == FieldValueType.Decimal
            ? new AmqpDecimal(_raw[0], BinaryPrimitives.ReadInt32BigEndian(_raw.Slice(1)))
            : throw Mismatch("a decimal");

    /// <summary>The value of a timestamp.</summary>
    /// <exception cref="InvalidOperationException">The value is not a timestamp.</exception>
    public AmqpTimestamp AsTimestamp() =>
        Type == FieldValueType.Timestamp
            ? new AmqpTimestamp(BinaryPrimitives.ReadUInt64BigEndian(_raw))
            : throw Mismatch("a timestamp");

    /// <summary>The bytes of a long string (UTF-8) or byte array, without copying.</summary>
    /// <exception cref="InvalidOperationException">The value is neither a long string nor a byte array.</exception>
    public ReadOnlySpan<byte> AsBytes() =>
        Type is FieldValueType.LongString or FieldValueType.Bytes ? _raw : throw Mismatch("a string or byte array");

    /// <summary>A long string or byte array decoded as UTF-8 (allocates the string).</summary>
    /// <exception cref="InvalidOperationException">The value is neither a long string nor a byte array.</exception>
    public string AsString() => Wire.DecodeString(AsBytes());

    /// <summary>A reader over a nested table.</summary>
    /// <exception cref="InvalidOperationException">The value is not a table.</exception>
    public FieldTableReader AsTable() =>
        Type == FieldValueType.Table ? new FieldTableReader(_raw) : throw Mismatch("a table");

    /// <summary>A reader over an array's elements.</summary>
    /// <exception cref="InvalidOperationException">The value is not an array.</exception>
    public FieldArrayReader AsArray() =>
        Type == FieldValueType.Array ? new FieldArrayReader(_raw) : throw Mismatch("an array");

    /// <summary>
    /// Materialises the value as the CLR type listed on <see cref="FieldValueType"/> (strings, byte arrays, nested
    /// tables and arrays are allocated).
    /// </summary>
    /// <exception cref="AmqpFrameFormatException">A nested table or array is malformed or nested too deeply.</exception>
    public object? ToObject() => ToObject(0);

    internal object? ToObject(int depth) => Type switch
    {
        FieldValueType.Boolean => _raw[0] != 0,
        FieldValueType.SByte => (sbyte)_raw[0],
        FieldValueType.Byte => _raw[0],
        FieldValueType.Int16 => BinaryPrimitives.ReadInt16BigEndian(_raw),
        FieldValueType.UInt16 => BinaryPrimitives.ReadUInt16BigEndian(_raw),
        FieldValueType.Int32 => BinaryPrimitives.ReadInt32BigEndian(_raw),
        FieldValueType.UInt32 => BinaryPrimitives.ReadUInt32BigEndian(_raw),
        FieldValueType.Int64 => BinaryPrimitives.ReadInt64BigEndian(_raw),
        FieldValueType.Single => BinaryPrimitives.ReadSingleBigEndian(_raw),
        FieldValueType.Double => BinaryPrimitives.ReadDoubleBigEndian(_raw),
        FieldValueType.Decimal => AsDecimal(),
        FieldValueType.LongString => Wire.DecodeString(_raw),
        FieldValueType.Bytes => _raw.ToArray(),
        FieldValueType.Array => DecodeArray(_raw, depth + 1),
        FieldValueType.Timestamp => AsTimestamp(),
        FieldValueType.Table => FieldTable.Decode(_raw, depth + 1),
        _ => null,
    };

    private static object?[] DecodeArray(ReadOnlySpan<byte> body, int depth)
    {
        FieldCodec.CheckDepth(depth);
        if (body.IsEmpty)
        {
            return System.Array.Empty<object?>();
        }

        var items = new List<object?>();
        var reader = new FieldArrayReader(body);
        while (reader.MoveNext())
        {
            items.Add(reader.Current.ToObject(depth));
        }

        return items.ToArray();
    }

    /// <summary>Parses the value that starts with its type code at <paramref name="position"/> and advances past it.</summary>
    internal static FieldValue Parse(ReadOnlySpan<byte> source, scoped ref int position)
    {
        if (position >= source.Length)
        {
            throw new AmqpFrameFormatException("Truncated field value: the type code is missing.");
        }

        byte code = source[position++];
        FieldValueType type;
        int length;
        switch (code)
        {
            case (byte)'t': type = FieldValueType.Boolean; length = 1; break;
            case (byte)'b': type = FieldValueType.SByte; length = 1; break;
            case (byte)'B': type = FieldValueType.Byte; length = 1; break;
            case (byte)'s': type = FieldValueType.Int16; length = 2; break;
            case (byte)'u': type = FieldValueType.UInt16; length = 2; break;
            case (byte)'I': type = FieldValueType.Int32; length = 4; break;
            case (byte)'i': type = FieldValueType.UInt32; length = 4; break;
            case (byte)'l':
            case (byte)'L': type = FieldValueType.Int64; length = 8; break; // RabbitMQ reads 'L' as signed 64-bit too
            case (byte)'f': type = FieldValueType.Single; length = 4; break;
            case (byte)'d': type = FieldValueType.Double; length = 8; break;
            case (byte)'D': type = FieldValueType.Decimal; length = 5; break;
            case (byte)'T': type = FieldValueType.Timestamp; length = 8; break;
            case (byte)'V': type = FieldValueType.Void; length = 0; break;
            case (byte)'S': type = FieldValueType.LongString; length = -1; break;
            case (byte)'x': type = FieldValueType.Bytes; length = -1; break;
            case (byte)'A': type = FieldValueType.Array; length = -1; break;
            case (byte)'F': type = FieldValueType.Table; length = -1; break;
            default:
                throw new AmqpFrameFormatException(
                    $"Unknown field value type code 0x{code:X2} ('{(code is >= 0x20 and < 0x7F ? (char)code : '?')}') at offset {position - 1}.");
        }

        int left = source.Length - position;
        if (length < 0)
        {
            if (left < 4)
            {
                throw Truncated(type, 4, left);
            }

            uint declared = BinaryPrimitives.ReadUInt32BigEndian(source.Slice(position));
            position += 4;
            left -= 4;
            if (declared > (uint)left)
            {
                throw Truncated(type, declared, left);
            }

            length = (int)declared;
        }
        else if (length > left)
        {
            throw Truncated(type, (uint)length, left);
        }

        var value = new FieldValue(type, source.Slice(position, length));
        position += length;
        return value;
    }

    private static AmqpFrameFormatException Truncated(FieldValueType type, uint needed, int left) =>
        new($"Truncated field value of type '{(char)type}': needed {needed} bytes, {left} left.");

    private InvalidOperationException Mismatch(string wanted) =>
        new($"The field value is of type {Type} ('{(char)Type}'), not {wanted}.");
}

/// <summary>
/// Walks the entries of an encoded field table without allocating: <c>while (reader.MoveNext()) { reader.Key ...
/// reader.Value ... }</c>. Malformed input throws <see cref="AmqpFrameFormatException"/> from <see cref="MoveNext"/>.
/// </summary>
public ref struct FieldTableReader
{
    private readonly ReadOnlySpan<byte> _body;
    private int _position;

    /// <summary>Starts before the first entry of a table body (the bytes after its 4-byte length).</summary>
    public FieldTableReader(ReadOnlySpan<byte> body)
    {
        _body = body;
        _position = 0;
        Key = default;
        Value = default;
    }

    /// <summary>The current entry's key as UTF-8 bytes.</summary>
    public ReadOnlySpan<byte> Key { get; private set; }

    /// <summary>The current entry's value.</summary>
    public FieldValue Value { get; private set; }

    /// <summary>Bytes of the body consumed so far (the offset just past the current entry).</summary>
    public readonly int BytesConsumed => _position;

    /// <summary>Moves to the next entry; false at the end of the table.</summary>
    /// <exception cref="AmqpFrameFormatException">The entry is truncated or has an unknown type code.</exception>
    public bool MoveNext()
    {
        if (_position >= _body.Length)
        {
            return false;
        }

        int keyLength = _body[_position++];
        if (keyLength > _body.Length - _position)
        {
            throw new AmqpFrameFormatException(
                $"Truncated field table key: needed {keyLength} bytes, {_body.Length - _position} left.");
        }

        Key = _body.Slice(_position, keyLength);
        _position += keyLength;
        Value = FieldValue.Parse(_body, ref _position);
        return true;
    }

    /// <summary>Scans the rest of the table for a key (compared as UTF-8 bytes) and stops on it.</summary>
    /// <exception cref="AmqpFrameFormatException">The table is malformed before the key is found.</exception>
    public bool TryFind(ReadOnlySpan<byte> utf8Key, out FieldValue value)
    {
        while (MoveNext())
        {
            if (Key.SequenceEqual(utf8Key))
            {
                value = Value;
                return true;
            }
        }

        value = default;
        return false;
    }

    /// <summary>Finds a key in an encoded table body without allocating.</summary>
    /// <exception cref="AmqpFrameFormatException">The table is malformed before the key is found.</exception>
    public static bool TryFind(ReadOnlySpan<byte> body, ReadOnlySpan<byte> utf8Key, out FieldValue value) =>
        new FieldTableReader(body).TryFind(utf8Key, out value);
}

/// <summary>Walks the elements of an encoded field array without allocating.</summary>
public ref struct FieldArrayReader
{
    private readonly ReadOnlySpan<byte> _body;
    private int _position;

    /// <summary>Starts before the first element of an array body (the bytes after its 4-byte length).</summary>
    public FieldArrayReader(ReadOnlySpan<byte> body)
    {
        _body = body;
        _position = 0;
        Current = default;
    }

    /// <summary>The current element.</summary>
    public FieldValue Current { get; private set; }

    /// <summary>Moves to the next element; false at the end of the array.</summary>
    /// <exception cref="AmqpFrameFormatException">The element is truncated or has an unknown type code.</exception>
    public bool MoveNext()
    {
        if (_position >= _body.Length)
        {
            return false;
        }

        Current = FieldValue.Parse(_body, ref _position);
        return true;
    }
}
