using System;
using System.Text;

namespace CoolAmqp.Channels;

/// <summary>
/// Remembers the last short UTF-8 field seen (an exchange, routing key or consumer tag), so a stream of deliveries
/// with the same value shares one immutable array (and one string) instead of allocating per message.
/// </summary>
internal struct Utf8StringCache
{
    private byte[]? _bytes;
    private string? _value;

    /// <summary>An immutable array holding <paramref name="utf8"/>, reused while the bytes stay the same.</summary>
    public byte[] GetBytes(ReadOnlySpan<byte> utf8)
    {
        if (_bytes is not null && utf8.SequenceEqual(_bytes))
        {
            return _bytes;
        }

        _value = null;
        return _bytes = utf8.IsEmpty ? [] : utf8.ToArray();
    }

    /// <summary>The string for <paramref name="utf8"/>, reused while the bytes stay the same.</summary>
    public string GetString(ReadOnlySpan<byte> utf8)
    {
        if (_value is not null && utf8.SequenceEqual(_bytes))
        {
            return _value;
        }

        _bytes = utf8.IsEmpty ? [] : utf8.ToArray();
        return _value = utf8.IsEmpty ? string.Empty : Encoding.UTF8.GetString(utf8);
    }
}
