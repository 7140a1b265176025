using System;
using System.Globalization;

namespace CoolAmqp.Framing;

/// <summary>
/// An AMQP timestamp field value (type code <c>'T'</c>): unsigned 64-bit whole seconds since the Unix epoch (UTC).
/// </summary>
/// <remarks>
/// Field tables decode <c>'T'</c> to this type so that any 64-bit value survives a round trip; a
/// <see cref="DateTimeOffset"/> put into a <see cref="FieldTable"/> is written as <c>'T'</c> too, truncated to
/// whole seconds (it decodes back as an <see cref="AmqpTimestamp"/>).
/// </remarks>
public readonly struct AmqpTimestamp : IEquatable<AmqpTimestamp>, IComparable<AmqpTimestamp>
{
    /// <summary>Creates a timestamp from seconds since the Unix epoch.</summary>
    public AmqpTimestamp(ulong unixSeconds) => UnixSeconds = unixSeconds;

    /// <summary>Seconds since 1970-01-01T00:00:00Z.</summary>
    public ulong UnixSeconds { get; }

    /// <summary>Converts from a <see cref="DateTimeOffset"/>, dropping fractions of a second.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The time is before the Unix epoch.</exception>
    public static AmqpTimestamp FromDateTimeOffset(DateTimeOffset value)
    {
        long seconds = value.ToUnixTimeSeconds();
        if (seconds < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, "An AMQP timestamp cannot be before 1970-01-01.");
        }

        return new AmqpTimestamp((ulong)seconds);
    }

    /// <summary>Converts to a <see cref="DateTimeOffset"/> in UTC.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is past year 9999.</exception>
    public DateTimeOffset ToDateTimeOffset() =>
        UnixSeconds <= 253402300799UL
            ? DateTimeOffset.FromUnixTimeSeconds((long)UnixSeconds)
            : throw new ArgumentOutOfRangeException(nameof(UnixSeconds), UnixSeconds, "The timestamp is past year 9999.");

    /// <inheritdoc />
    public bool Equals(AmqpTimestamp other) => UnixSeconds == other.UnixSeconds;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is AmqpTimestamp other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => UnixSeconds.GetHashCode();

    /// <inheritdoc />
    public int CompareTo(AmqpTimestamp other) => UnixSeconds.CompareTo(other.UnixSeconds);

    /// <summary>Compares the seconds.</summary>
    public static bool operator ==(AmqpTimestamp left, AmqpTimestamp right) => left.Equals(right);

    /// <summary>Compares the seconds.</summary>
    public static bool operator !=(AmqpTimestamp left, AmqpTimestamp right) => !left.Equals(right);

    /// <summary>Compares the seconds.</summary>
    public static bool operator <(AmqpTimestamp left, AmqpTimestamp right) => left.UnixSeconds < right.UnixSeconds;

    /// <summary>Compares the seconds.</summary>
    public static bool operator >(AmqpTimestamp left, AmqpTimestamp right) => left.UnixSeconds > right.UnixSeconds;

    /// <summary>Compares the seconds.</summary>
    public static bool operator <=(AmqpTimestamp left, AmqpTimestamp right) => left.UnixSeconds <= right.UnixSeconds;

    /// <summary>Compares the seconds.</summary>
    public static bool operator >=(AmqpTimestamp left, AmqpTimestamp right) => left.UnixSeconds >= right.UnixSeconds;

    /// <summary>ISO 8601 UTC when representable, e.g. <c>2024-01-02T03:04:05Z</c>, else the raw seconds.</summary>
    public override string ToString() =>
        UnixSeconds <= 253402300799UL
            ? ToDateTimeOffset().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)
            : UnixSeconds.ToString(CultureInfo.InvariantCulture);
}
