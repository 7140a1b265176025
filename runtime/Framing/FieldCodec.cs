using System;
using System.Buffers.Binary;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace CoolAmqp.Framing;

/// <summary>
/// Encoding, equality and formatting of field-table values (AMQP 0-9-1 section 4.2.5.5 with RabbitMQ's type codes,
/// see <see cref="FieldValueType"/>). Encoding walks the value once for its size and once to write it, and
/// allocates nothing for the CLR types a <see cref="FieldTable"/> decodes to.
/// </summary>
internal static class FieldCodec
{
    /// <summary>How deeply tables and arrays may nest, so hostile input (or a table containing itself) cannot exhaust the stack.</summary>
    internal const int MaxDepth = 64;

    internal static void CheckDepth(int depth)
    {
        if (depth > MaxDepth)
        {
            throw new AmqpFrameFormatException($"Field table or array nesting is deeper than {MaxDepth} levels.");
        }
    }

    /// <summary>Scans an encoded table body against the limits, without allocating and before anything is decoded.
    /// Returns what was exceeded first; <paramref name="found"/> is the depth reached or the entry count at which the
    /// scan gave up.</summary>
    /// <exception cref="AmqpFrameFormatException">The table is malformed (before a limit was exceeded).</exception>
    internal static TableLimit CheckLimits(ReadOnlySpan<byte> body, int maxDepth, int maxEntries, out int found)
    {
        found = 0;
        return ScanTable(body, 0, maxDepth, maxEntries, ref found);
    }

    // Recursion is bounded: a nested value is entered only while its depth is within maxDepth (at most MaxDepth).
    private static TableLimit ScanTable(ReadOnlySpan<byte> body, int depth, int maxDepth, int maxEntries, ref int found)
    {
        var reader = new FieldTableReader(body);
        int entries = 0;
        while (reader.MoveNext())
        {
            if (++entries > maxEntries)
            {
                found = entries;
                return TableLimit.Entries;
            }

            TableLimit nested = ScanValue(reader.Value, depth, maxDepth, maxEntries, ref found);
            if (nested != TableLimit.None)
            {
                return nested;
            }
        }

        return TableLimit.None;
    }

    private static TableLimit ScanArray(ReadOnlySpan<byte> body, int depth, int maxDepth, int maxEntries, ref int found)
    {
        var reader = new FieldArrayReader(body);
        int elements = 0;
        while (reader.MoveNext())
        {
            if (++elements > maxEntries)
            {
                found = elements;
                return TableLimit.Entries;
            }

            TableLimit nested = ScanValue(reader.Current, depth, maxDepth, maxEntries, ref found);
            if (nested != TableLimit.None)
            {
                return nested;
            }
        }

        return TableLimit.None;
    }

    private static TableLimit ScanValue(FieldValue value, int depth, int maxDepth, int maxEntries, ref int found)
    {
        if (value.Type is not (FieldValueType.Table or FieldValueType.Array))
        {
            return TableLimit.None;
        }

        if (depth + 1 > maxDepth)
        {
            found = depth + 1;
            return TableLimit.Depth;
        }

        return value.Type == FieldValueType.Table
            ? ScanTable(value.RawBytes, depth + 1, maxDepth, maxEntries, ref found)
            : ScanArray(value.RawBytes, depth + 1, maxDepth, maxEntries, ref found);
    }

    private static void CheckEncodeDepth(string key, int depth)
    {
        if (depth > MaxDepth)
        {
            throw new ArgumentException(
                $"Field table key '{key}': tables and arrays nest deeper than {MaxDepth} levels (does a table contain itself?).",
                nameof(key));
        }
    }

    /// <summary>Encoded size of a key (length octet + UTF-8).</summary>
    internal static int KeySize(string key)
    {
        int bytes = key.Length <= 85 ? Wire.Utf8.GetByteCount(key) : CountKey(key);
        if (bytes > 255)
        {
            throw KeyTooLong(key, bytes);
        }

        return 1 + bytes;
    }

    private static int CountKey(string key)
    {
        if (key.Length > 255)
        {
            throw KeyTooLong(key, Wire.Utf8.GetByteCount(key));
        }

        return Wire.Utf8.GetByteCount(key);
    }

    private static ArgumentException KeyTooLong(string key, int bytes) =>
        new($"Field table key '{key[..Math.Min(key.Length, 40)]}...' is {bytes} UTF-8 bytes long; a key holds at most 255.", nameof(key));

    internal static int WriteKey(Span<byte> destination, string key)
    {
        int written = Wire.Utf8.GetBytes(key, destination.Slice(1));
        if (written > 255)
        {
            throw KeyTooLong(key, written);
        }

        destination[0] = (byte)written;
        return 1 + written;
    }

    /// <summary>Throws unless the CLR type of <paramref name="value"/> can be encoded (nested contents are checked when encoded).</summary>
    internal static void CheckSupported(string key, object? value)
    {
        switch (value)
        {
            case null:
            case string:
            case bool:
            case sbyte:
            case byte:
            case short:
            case ushort:
            case int:
            case uint:
            case long:
            case float:
            case double:
            case decimal:
            case AmqpDecimal:
            case AmqpTimestamp:
            case DateTimeOffset:
            case byte[]:
            case ReadOnlyMemory<byte>:
            case Memory<byte>:
            case FieldTable:
            case IDictionary<string, object?>:
            case IReadOnlyDictionary<string, object?>:
            case IDictionary:
            case IList:
                return;
            default:
                throw Unsupported(key, value);
        }
    }

    private static ArgumentException Unsupported(string key, object value) =>
        new($"Field table key '{key}': values of type {value.GetType()} cannot be encoded. Use bool, sbyte, byte, short, ushort, int, uint, long, " +
            "float, double, decimal, AmqpDecimal, AmqpTimestamp, DateTimeOffset, string, byte[], ReadOnlyMemory<byte>, FieldTable, " +
            "IDictionary<string, object?>, IList or null.", nameof(value));

    /// <summary>Encoded size of a value including its type octet.</summary>
    internal static int ValueSize(string key, object? value, int depth)
    {
        switch (value)
        {
            case null:
                return 1;
            case string s:
                return checked(5 + Wire.Utf8.GetByteCount(s));
            case bool:
            case sbyte:
            case byte:
                return 2;
            case short:
            case ushort:
                return 3;
            case int:
            case uint:
            case float:
                return 5;
            case long:
            case double:
            case AmqpTimestamp:
                return 9;
            case DateTimeOffset d:
                _ = ToTimestamp(key, d);
                return 9;
            case AmqpDecimal:
                return 6;
            case decimal m:
                _ = ToAmqpDecimal(key, m);
                return 6;
            case byte[] b:
                return checked(5 + b.Length);
            case ReadOnlyMemory<byte> rom:
                return checked(5 + rom.Length);
            case Memory<byte> mem:
                return checked(5 + mem.Length);
            case FieldTable t:
                return checked(1 + t.GetSize(depth + 1));
            case IDictionary<string, object?> or IReadOnlyDictionary<string, object?> or IDictionary:
                return checked(5 + MapBodySize(key, value, depth + 1));
            case IList list:
                CheckEncodeDepth(key, depth + 1);
                int size = 5;
                for (int i = 0; i < list.Count; i++)
                {
                    size = checked(size + ValueSize(key, list[i], depth + 1));
                }

                return size;
            default:
                throw Unsupported(key, value);
        }
    }

    /// <summary>Writes a value with its type octet and returns the bytes written.</summary>
    internal static int WriteValue(Span<byte> destination, string key, object? value, int depth)
    {
        switch (value)
        {
            case null:
                destination[0] = (byte)FieldValueType.Void;
                return 1;
            case string s:
                destination[0] = (byte)FieldValueType.LongString;
                int written = Wire.Utf8.GetBytes(s, destination.Slice(5));
                BinaryPrimitives.WriteUInt32BigEndian(destination.Slice(1), (uint)written);
                return 5 + written;
            case bool b:
                destination[0] = (byte)FieldValueType.Boolean;
                destination[1] = b ? (byte)1 : (byte)0;
                return 2;
            case sbyte sb:
                destination[0] = (byte)FieldValueType.SByte;
                destination[1] = (byte)sb;
                return 2;
            case byte ub:
                destination[0] = (byte)FieldValueType.Byte;
                destination[1] = ub;
                return 2;
            case short i16:
                destination[0] = (byte)FieldValueType.Int16;
                BinaryPrimitives.WriteInt16BigEndian(destination.Slice(1), i16);
                return 3;
            case ushort u16:
                destination[0] = (byte)FieldValueType.UInt16;
                BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(1), u16);
                return 3;
            case int i32:
                destination[0] = (byte)FieldValueType.Int32;
                BinaryPrimitives.WriteInt32BigEndian(destination.Slice(1), i32);
                return 5;
            case uint u32:
                destination[0] = (byte)FieldValueType.UInt32;
                BinaryPrimitives.WriteUInt32BigEndian(destination.Slice(1), u32);
                return 5;
            case long i64:
                destination[0] = (byte)FieldValueType.Int64;
                BinaryPrimitives.WriteInt64BigEndian(destination.Slice(1), i64);
                return 9;
            case float f:
                destination[0] = (byte)FieldValueType.Single;
                BinaryPrimitives.WriteSingleBigEndian(destination.Slice(1), f);
                return 5;
            case double d:
                destination[0] = (byte)FieldValueType.Double;
                BinaryPrimitives.WriteDoubleBigEndian(destination.Slice(1), d);
                return 9;
            case AmqpDecimal dec:
                return WriteDecimal(destination, dec);
            case decimal m:
                return WriteDecimal(destination, ToAmqpDecimal(key, m));
            case AmqpTimestamp ts:
                return WriteTimestamp(destination, ts);
            case DateTimeOffset dto:
                return WriteTimestamp(destination, ToTimestamp(key, dto));
            case byte[] bytes:
                return WriteBytes(destination, bytes);
            case ReadOnlyMemory<byte> rom:
                return WriteBytes(destination, rom.Span);
            case Memory<byte> mem:
                return WriteBytes(destination, mem.Span);
            case FieldTable table:
                destination[0] = (byte)FieldValueType.Table;
                return 1 + table.WriteTo(destination.Slice(1), depth + 1);
            case IDictionary<string, object?> or IReadOnlyDictionary<string, object?> or IDictionary:
                destination[0] = (byte)FieldValueType.Table;
                int body = WriteMapBody(destination.Slice(5), key, value, depth + 1);
                BinaryPrimitives.WriteUInt32BigEndian(destination.Slice(1), (uint)body);
                return 5 + body;
            case IList list:
                CheckEncodeDepth(key, depth + 1);
                destination[0] = (byte)FieldValueType.Array;
                int position = 5;
                for (int i = 0; i < list.Count; i++)
                {
                    position += WriteValue(destination.Slice(position), key, list[i], depth + 1);
                }

                BinaryPrimitives.WriteUInt32BigEndian(destination.Slice(1), (uint)(position - 5));
                return position;
            default:
                throw Unsupported(key, value);
        }
    }

    private static int WriteDecimal(Span<byte> destination, AmqpDecimal value)
    {
        destination[0] = (byte)FieldValueType.Decimal;
        destination[1] = value.Scale;
        BinaryPrimitives.WriteInt32BigEndian(destination.Slice(2), value.UnscaledValue);
        return 6;
    }

    private static int WriteTimestamp(Span<byte> destination, AmqpTimestamp value)
    {
        destination[0] = (byte)FieldValueType.Timestamp;
        BinaryPrimitives.WriteUInt64BigEndian(destination.Slice(1), value.UnixSeconds);
        return 9;
    }

    private static int WriteBytes(Span<byte> destination, ReadOnlySpan<byte> bytes)
    {
        destination[0] = (byte)FieldValueType.Bytes;
        BinaryPrimitives.WriteUInt32BigEndian(destination.Slice(1), (uint)bytes.Length);
        bytes.CopyTo(destination.Slice(5));
        return 5 + bytes.Length;
    }

    private static AmqpDecimal ToAmqpDecimal(string key, decimal value)
    {
        try
        {
            return AmqpDecimal.FromDecimal(value);
        }
        catch (OverflowException e)
        {
            throw new ArgumentException($"Field table key '{key}': {e.Message}", nameof(value), e);
        }
    }

    private static AmqpTimestamp ToTimestamp(string key, DateTimeOffset value)
    {
        try
        {
            return AmqpTimestamp.FromDateTimeOffset(value);
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new ArgumentException($"Field table key '{key}': {e.Message}", nameof(value), e);
        }
    }

    // ---- dictionaries that are not FieldTable (user-supplied; enumerating them may allocate) ----

    private static int MapBodySize(string key, object map, int depth)
    {
        CheckEncodeDepth(key, depth);
        int size = 0;
        switch (map)
        {
            case IDictionary<string, object?> generic:
                foreach (KeyValuePair<string, object?> entry in generic)
                {
                    size = checked(size + KeySize(entry.Key) + ValueSize(entry.Key, entry.Value, depth));
                }

                break;
            case IReadOnlyDictionary<string, object?> readOnly:
                foreach (KeyValuePair<string, object?> entry in readOnly)
                {
                    size = checked(size + KeySize(entry.Key) + ValueSize(entry.Key, entry.Value, depth));
                }

                break;
            default:
                foreach (DictionaryEntry entry in (IDictionary)map)
                {
                    string entryKey = MapKey(key, entry.Key);
                    size = checked(size + KeySize(entryKey) + ValueSize(entryKey, entry.Value, depth));
                }

                break;
        }

        return size;
    }

    private static int WriteMapBody(Span<byte> destination, string key, object map, int depth)
    {
        CheckEncodeDepth(key, depth);
        int position = 0;
        switch (map)
        {
            case IDictionary<string, object?> generic:
                foreach (KeyValuePair<string, object?> entry in generic)
                {
                    position += WriteKey(destination.Slice(position), entry.Key);
                    position += WriteValue(destination.Slice(position), entry.Key, entry.Value, depth);
                }

                break;
            case IReadOnlyDictionary<string, object?> readOnly:
                foreach (KeyValuePair<string, object?> entry in readOnly)
                {
                    position += WriteKey(destination.Slice(position), entry.Key);
                    position += WriteValue(destination.Slice(position), entry.Key, entry.Value, depth);
                }

                break;
            default:
                foreach (DictionaryEntry entry in (IDictionary)map)
                {
                    string entryKey = MapKey(key, entry.Key);
                    position += WriteKey(destination.Slice(position), entryKey);
                    position += WriteValue(destination.Slice(position), entryKey, entry.Value, depth);
                }

                break;
        }

        return position;
    }

    private static string MapKey(string parentKey, object key) =>
        key as string ?? throw new ArgumentException(
            $"Field table key '{parentKey}': a nested dictionary has a key of type {key.GetType()}; keys must be strings.", nameof(key));

    /// <summary>Copies any dictionary a table may hold into a <see cref="FieldTable"/> (for equality and hashing).</summary>
    private static FieldTable? AsTable(object? value)
    {
        switch (value)
        {
            case FieldTable table:
                return table;
            case IDictionary<string, object?> generic:
                var fromGeneric = new FieldTable();
                foreach (KeyValuePair<string, object?> entry in generic)
                {
                    fromGeneric[entry.Key] = entry.Value;
                }

                return fromGeneric;
            case IReadOnlyDictionary<string, object?> readOnly:
                var fromReadOnly = new FieldTable();
                foreach (KeyValuePair<string, object?> entry in readOnly)
                {
                    fromReadOnly[entry.Key] = entry.Value;
                }

                return fromReadOnly;
            case IDictionary map:
                var fromMap = new FieldTable();
                foreach (DictionaryEntry entry in map)
                {
                    if (entry.Key is not string key)
                    {
                        return null;
                    }

                    fromMap[key] = entry.Value;
                }

                return fromMap;
            default:
                return null;
        }
    }

    private static bool TryGetBytes(object? value, out ReadOnlySpan<byte> bytes)
    {
        switch (value)
        {
            case byte[] array:
                bytes = array;
                return true;
            case ReadOnlyMemory<byte> rom:
                bytes = rom.Span;
                return true;
            case Memory<byte> mem:
                bytes = mem.Span;
                return true;
            default:
                bytes = default;
                return false;
        }
    }

    // ---- equality: byte arrays by content, tables as maps, arrays element by element ----

    internal static bool ValueEquals(object? left, object? right)
    {
        if (ReferenceEquals(left, right))
        {
            return true;
        }

        if (left is null || right is null)
        {
            return false;
        }

        if (TryGetBytes(left, out ReadOnlySpan<byte> leftBytes))
        {
            return TryGetBytes(right, out ReadOnlySpan<byte> rightBytes) && leftBytes.SequenceEqual(rightBytes);
        }

        if (left is FieldTable or IDictionary or IDictionary<string, object?> or IReadOnlyDictionary<string, object?>)
        {
            FieldTable? leftTable = AsTable(left);
            FieldTable? rightTable = AsTable(right);
            return leftTable is not null && rightTable is not null && leftTable.Equals(rightTable);
        }

        if (left is IList leftList)
        {
            if (right is not IList rightList || right is byte[] || leftList.Count != rightList.Count)
            {
                return false;
            }

            for (int i = 0; i < leftList.Count; i++)
            {
                if (!ValueEquals(leftList[i], rightList[i]))
                {
                    return false;
                }
            }

            return true;
        }

        return left.Equals(right);
    }

    internal static int ValueHash(object? value)
    {
        if (value is null)
        {
            return 0;
        }

        if (TryGetBytes(value, out ReadOnlySpan<byte> bytes))
        {
            var hash = new HashCode();
            hash.AddBytes(bytes);
            return hash.ToHashCode();
        }

        if (value is FieldTable or IDictionary or IDictionary<string, object?> or IReadOnlyDictionary<string, object?>)
        {
            return AsTable(value)?.GetHashCode() ?? value.GetHashCode();
        }

        if (value is IList list)
        {
            var hash = new HashCode();
            for (int i = 0; i < list.Count; i++)
            {
                hash.Add(ValueHash(list[i]));
            }

            return hash.ToHashCode();
        }

        return value.GetHashCode();
    }

    // ---- formatting ----

    internal static void Format(StringBuilder builder, object? value, int depth)
    {
        if (depth > MaxDepth)
        {
            builder.Append("...");
            return;
        }

        switch (value)
        {
            case null:
                builder.Append("null");
                return;
            case string s:
                builder.Append('"').Append(s).Append('"');
                return;
            case bool b:
                builder.Append(b ? "true" : "false");
                return;
            case FieldTable table:
                table.Format(builder, depth + 1);
                return;
            case IDictionary or IDictionary<string, object?> or IReadOnlyDictionary<string, object?>:
                FieldTable? copy = AsTable(value);
                if (copy is null)
                {
                    builder.Append(value);
                }
                else
                {
                    copy.Format(builder, depth + 1);
                }

                return;
        }

        if (TryGetBytes(value, out ReadOnlySpan<byte> bytes))
        {
            const int shown = 32;
            builder.Append("0x").Append(Convert.ToHexString(bytes.Slice(0, Math.Min(bytes.Length, shown))));
            if (bytes.Length > shown)
            {
                builder.Append(CultureInfo.InvariantCulture, $"... ({bytes.Length} bytes)");
            }

            return;
        }

        if (value is IList list)
        {
            builder.Append('[');
            for (int i = 0; i < list.Count; i++)
            {
                if (i > 0)
                {
                    builder.Append(", ");
                }

                Format(builder, list[i], depth + 1);
            }

            builder.Append(']');
            return;
        }

        builder.Append(value is IFormattable formattable ? formattable.ToString(null, CultureInfo.InvariantCulture) : value.ToString());
    }
}

/// <summary>Which limit a scan of an inbound field table found exceeded.</summary>
internal enum TableLimit
{
    /// <summary>Within every limit.</summary>
    None,

    /// <summary>Tables and arrays nest too deeply.</summary>
    Depth,

    /// <summary>A table or array has too many entries.</summary>
    Entries,
}
