using System;
using System.Buffers.Binary;
using System.Collections;
using System.Collections.Generic;
using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace CoolAmqp.Framing;

/// <summary>
/// An AMQP field table (spec section 4.2.5.5): string keys mapped to typed values, kept in insertion order.
/// Used for queue and exchange arguments, message headers and connection properties.
/// </summary>
/// <remarks>
/// <para>CLR types written (type code in brackets, see <see cref="FieldValueType"/>): <see cref="bool"/> [t],
/// <see cref="sbyte"/> [b], <see cref="byte"/> [B], <see cref="short"/> [s], <see cref="ushort"/> [u],
/// <see cref="int"/> [I] (what RabbitMQ expects for <c>x-message-ttl</c>, <c>x-max-length</c>, ...),
/// <see cref="uint"/> [i], <see cref="long"/> [l], <see cref="float"/> [f], <see cref="double"/> [d],
/// <see cref="AmqpDecimal"/> and <see cref="decimal"/> [D], <see cref="AmqpTimestamp"/> and
/// <see cref="DateTimeOffset"/> [T], <see cref="string"/> [S, UTF-8], <c>byte[]</c>, <see cref="ReadOnlyMemory{T}"/>
/// and <see cref="Memory{T}"/> of bytes [x], <see cref="FieldTable"/> and any dictionary with string keys [F],
/// any other <see cref="IList"/> [A], and <see langword="null"/> [V]. Other types throw <see cref="ArgumentException"/>
/// naming the key.</para>
/// <para>Decoding gives the exact CLR type of each code: S → <see cref="string"/>, x → <c>byte[]</c>,
/// A → <c>object?[]</c>, F → <see cref="FieldTable"/>, D → <see cref="AmqpDecimal"/>, T → <see cref="AmqpTimestamp"/>,
/// V → <see langword="null"/>. A key repeated on the wire keeps its first position and its last value.
/// To read a table without allocating, use <see cref="FieldTableReader"/> over the encoded bytes.</para>
/// <para>Equality is by content and ignores entry order: values compare deeply (byte arrays by bytes, nested tables
/// as maps, arrays element by element), and an <c>int</c> 5 is not equal to a <c>long</c> 5.</para>
/// </remarks>
[SuppressMessage("Naming", "CA1710:Identifiers should have correct suffix", Justification = "FieldTable is the AMQP name.")]
public sealed class FieldTable : IReadOnlyDictionary<string, object?>, IEquatable<FieldTable>
{
    // Small tables are scanned; an index is built past this many entries.
    private const int IndexThreshold = 8;

    private readonly List<KeyValuePair<string, object?>> _entries;
    private Dictionary<string, int>? _index;

    /// <summary>Creates an empty table.</summary>
    public FieldTable() => _entries = new List<KeyValuePair<string, object?>>();

    /// <summary>Creates an empty table with room for <paramref name="capacity"/> entries.</summary>
    public FieldTable(int capacity) => _entries = new List<KeyValuePair<string, object?>>(capacity);

    /// <summary>Creates a table holding copies of the given entries, in order (a repeated key keeps its last value).</summary>
    /// <exception cref="ArgumentException">A key is over 255 UTF-8 bytes or a value's type cannot be encoded.</exception>
    public FieldTable(IEnumerable<KeyValuePair<string, object?>> entries)
        : this()
    {
        ArgumentNullException.ThrowIfNull(entries);
        foreach (KeyValuePair<string, object?> entry in entries)
        {
            this[entry.Key] = entry.Value;
        }
    }

    /// <summary>The number of entries.</summary>
    public int Count => _entries.Count;

    /// <summary>The keys in order.</summary>
    public IEnumerable<string> Keys
    {
        get
        {
            foreach (KeyValuePair<string, object?> entry in _entries)
            {
                yield return entry.Key;
            }
        }
    }

    /// <summary>The values in order.</summary>
    public IEnumerable<object?> Values
    {
        get
        {
            foreach (KeyValuePair<string, object?> entry in _entries)
            {
                yield return entry.Value;
            }
        }
    }

    /// <summary>Gets a value, or adds or replaces one (a replaced entry keeps its position).</summary>
    /// <exception cref="KeyNotFoundException">Getting a key that is not in the table.</exception>
    /// <exception cref="ArgumentException">Setting a key over 255 UTF-8 bytes or a value whose type cannot be encoded.</exception>
    public object? this[string key]
    {
        get => IndexOf(key) is int i and >= 0
            ? _entries[i].Value
            : throw new KeyNotFoundException($"The field table has no key '{key}'.");
        set
        {
            int i = IndexOf(key);
            FieldCodec.CheckSupported(key, value);
            if (i >= 0)
            {
                _entries[i] = new KeyValuePair<string, object?>(key, value);
            }
            else
            {
                Append(key, value);
            }
        }
    }

    /// <summary>Adds an entry at the end (so collection initializers work).</summary>
    /// <exception cref="ArgumentException">The key is already present or over 255 UTF-8 bytes, or the value's type cannot be encoded.</exception>
    public void Add(string key, object? value)
    {
        if (IndexOf(key) >= 0)
        {
            throw new ArgumentException($"The field table already has the key '{key}'.", nameof(key));
        }

        FieldCodec.CheckSupported(key, value);
        Append(key, value);
    }

    private void Append(string key, object? value)
    {
        _ = FieldCodec.KeySize(key);
        _index?.Add(key, _entries.Count);
        _entries.Add(new KeyValuePair<string, object?>(key, value));
    }

    /// <summary>Whether the table has the key.</summary>
    public bool ContainsKey(string key) => IndexOf(key) >= 0;

    /// <summary>Gets the value of a key if present.</summary>
    public bool TryGetValue(string key, out object? value)
    {
        int i = IndexOf(key);
        value = i >= 0 ? _entries[i].Value : null;
        return i >= 0;
    }

    /// <summary>Removes a key; false if it was not present. Later entries keep their order.</summary>
    public bool Remove(string key)
    {
        int i = IndexOf(key);
        if (i < 0)
        {
            return false;
        }

        _entries.RemoveAt(i);
        _index = null;
        return true;
    }

    /// <summary>Removes every entry.</summary>
    public void Clear()
    {
        _entries.Clear();
        _index = null;
    }

    private int IndexOf(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (_entries.Count > IndexThreshold)
        {
            if (_index is null)
            {
                _index = new Dictionary<string, int>(_entries.Count, StringComparer.Ordinal);
                for (int i = 0; i < _entries.Count; i++)
                {
                    _index[_entries[i].Key] = i;
                }
            }

            return _index.TryGetValue(key, out int found) ? found : -1;
        }

        for (int i = 0; i < _entries.Count; i++)
        {
            if (string.Equals(_entries[i].Key, key, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }

    // ---- codec ----

    /// <summary>The encoded size of the table, including its 4-byte length prefix.</summary>
    /// <exception cref="ArgumentException">A nested value cannot be encoded (unsupported type, long key, too deep).</exception>
    public int GetSize() => GetSize(0);

    internal int GetSize(int depth)
    {
        if (depth > FieldCodec.MaxDepth)
        {
            throw new ArgumentException($"Field tables nest deeper than {FieldCodec.MaxDepth} levels (does a table contain itself?).");
        }

        int size = 4;
        for (int i = 0; i < _entries.Count; i++)
        {
            KeyValuePair<string, object?> entry = _entries[i];
            size = checked(size + FieldCodec.KeySize(entry.Key) + FieldCodec.ValueSize(entry.Key, entry.Value, depth));
        }

        return size;
    }

    /// <summary>Writes the table with its 4-byte length prefix and returns the bytes written (<see cref="GetSize()"/>).</summary>
    /// <exception cref="ArgumentException">A nested value cannot be encoded, or <paramref name="destination"/> is too small.</exception>
    public int WriteTo(Span<byte> destination) => WriteTo(destination, 0);

    internal int WriteTo(Span<byte> destination, int depth)
    {
        if (depth > FieldCodec.MaxDepth)
        {
            throw new ArgumentException($"Field tables nest deeper than {FieldCodec.MaxDepth} levels (does a table contain itself?).");
        }

        // The body is written first and its length filled in afterwards, so nested tables are walked once.
        int position = 4;
        for (int i = 0; i < _entries.Count; i++)
        {
            KeyValuePair<string, object?> entry = _entries[i];
            position += FieldCodec.WriteKey(destination.Slice(position), entry.Key);
            position += FieldCodec.WriteValue(destination.Slice(position), entry.Key, entry.Value, depth);
        }

        BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)(position - 4));
        return position;
    }

    /// <summary>Decodes a table body (the bytes after the 4-byte length prefix).</summary>
    /// <exception cref="AmqpFrameFormatException">The input is truncated, has an unknown type code, a key that is not
    /// UTF-8, or nests deeper than 64 levels.</exception>
    public static FieldTable Decode(ReadOnlySpan<byte> body) => Decode(body, 0);

    internal static FieldTable Decode(ReadOnlySpan<byte> body, int depth)
    {
        FieldCodec.CheckDepth(depth);
        var table = new FieldTable();
        var reader = new FieldTableReader(body);
        while (reader.MoveNext())
        {
            // A key that is not UTF-8 would come out with U+FFFD in it: a different key, possibly too long to encode
            // again (found by fuzzing). FieldTableReader still gives its raw bytes.
            if (!System.Text.Unicode.Utf8.IsValid(reader.Key))
            {
                throw new AmqpFrameFormatException(
                    $"Field table key of {reader.Key.Length} bytes is not valid UTF-8 (read it as bytes with FieldTableReader).");
            }

            string key = Wire.DecodeString(reader.Key);
            object? value = reader.Value.ToObject(depth);
            int i = table.IndexOf(key);
            if (i >= 0)
            {
                table._entries[i] = new KeyValuePair<string, object?>(key, value);
            }
            else
            {
                table._index?.Add(key, table._entries.Count);
                table._entries.Add(new KeyValuePair<string, object?>(key, value));
            }
        }

        return table;
    }

    // ---- enumeration ----

    /// <summary>Enumerates the entries in order without allocating.</summary>
    public Enumerator GetEnumerator() => new(_entries);

    IEnumerator<KeyValuePair<string, object?>> IEnumerable<KeyValuePair<string, object?>>.GetEnumerator() => GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Enumerator over the entries in order.</summary>
    public struct Enumerator : IEnumerator<KeyValuePair<string, object?>>
    {
        private List<KeyValuePair<string, object?>>.Enumerator _inner;

        internal Enumerator(List<KeyValuePair<string, object?>> entries) => _inner = entries.GetEnumerator();

        /// <inheritdoc />
        public readonly KeyValuePair<string, object?> Current => _inner.Current;

        readonly object IEnumerator.Current => Current;

        /// <inheritdoc />
        public bool MoveNext() => _inner.MoveNext();

        /// <inheritdoc />
        public readonly void Dispose()
        {
        }

        void IEnumerator.Reset() => throw new NotSupportedException();
    }

    // ---- equality and formatting ----

    /// <summary>Whether both tables have the same keys with deeply equal values (entry order is ignored).</summary>
    public bool Equals(FieldTable? other)
    {
        if (ReferenceEquals(this, other))
        {
            return true;
        }

        if (other is null || other.Count != Count)
        {
            return false;
        }

        for (int i = 0; i < _entries.Count; i++)
        {
            KeyValuePair<string, object?> entry = _entries[i];
            if (!other.TryGetValue(entry.Key, out object? otherValue) || !FieldCodec.ValueEquals(entry.Value, otherValue))
            {
                return false;
            }
        }

        return true;
    }

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as FieldTable);

    /// <summary>A hash of the content, independent of entry order (the table is mutable: do not change a table used as a key).</summary>
    public override int GetHashCode()
    {
        int hash = Count;
        for (int i = 0; i < _entries.Count; i++)
        {
            KeyValuePair<string, object?> entry = _entries[i];
            hash += HashCode.Combine(StringComparer.Ordinal.GetHashCode(entry.Key), FieldCodec.ValueHash(entry.Value));
        }

        return hash;
    }

    /// <summary>A readable form such as <c>{x-message-ttl: 1000, x-queue-type: "quorum", tags: ["a", "b"]}</c>.</summary>
    public override string ToString()
    {
        var builder = new StringBuilder();
        Format(builder, 0);
        return builder.ToString();
    }

    internal void Format(StringBuilder builder, int depth)
    {
        builder.Append('{');
        for (int i = 0; i < _entries.Count; i++)
        {
            if (i > 0)
            {
                builder.Append(", ");
            }

            builder.Append(_entries[i].Key).Append(": ");
            FieldCodec.Format(builder, _entries[i].Value, depth);
        }

        builder.Append('}');
    }
}
