using System;
using System.Globalization;

namespace CoolAmqp.Framing;

/// <summary>
/// An AMQP decimal field value (type code <c>'D'</c>): <c>UnscaledValue / 10^Scale</c>, sent as a scale octet
/// followed by a signed 32-bit big-endian integer.
/// </summary>
/// <remarks>
/// A table value of this type is decoded exactly, so even a scale above 28 (which <see cref="decimal"/> cannot hold)
/// survives a round trip. Equality is by representation: 1.0 (10, scale 1) and 1 (1, scale 0) are different values.
/// A <see cref="decimal"/> put into a <see cref="FieldTable"/> is converted with <see cref="FromDecimal"/>.
/// </remarks>
public readonly struct AmqpDecimal : IEquatable<AmqpDecimal>
{
    /// <summary>Creates a decimal from its wire parts.</summary>
    /// <param name="scale">The number of decimal places.</param>
    /// <param name="unscaledValue">The value multiplied by 10^scale.</param>
    public AmqpDecimal(byte scale, int unscaledValue)
    {
        Scale = scale;
        UnscaledValue = unscaledValue;
    }

    /// <summary>The number of decimal places.</summary>
    public byte Scale { get; }

    /// <summary>The value multiplied by 10^<see cref="Scale"/>.</summary>
    public int UnscaledValue { get; }

    /// <summary>Converts to <see cref="decimal"/>.</summary>
    /// <exception cref="OverflowException"><see cref="Scale"/> is over 28, which <see cref="decimal"/> cannot represent.</exception>
    public decimal ToDecimal()
    {
        if (Scale > 28)
        {
            throw new OverflowException($"AMQP decimal scale {Scale} is over 28, the most System.Decimal holds.");
        }

        long value = UnscaledValue;
        bool negative = value < 0;
        return new decimal((int)(uint)Math.Abs(value), 0, 0, negative, Scale);
    }

    /// <summary>Converts a <see cref="decimal"/> whose unscaled value fits in 32 bits (after dropping trailing zeros).</summary>
    /// <exception cref="OverflowException">The value needs more than 32 bits of mantissa at any scale it can be written with.</exception>
    public static AmqpDecimal FromDecimal(decimal value)
    {
        Span<int> bits = stackalloc int[4];
        decimal.GetBits(value, bits);
        UInt128 mantissa = ((UInt128)(uint)bits[2] << 64) | ((ulong)(uint)bits[1] << 32) | (uint)bits[0];
        int scale = (bits[3] >> 16) & 0xFF;
        bool negative = bits[3] < 0;

        // 1.50m has mantissa 150 at scale 2; shed trailing zeros until the mantissa fits.
        while (mantissa > int.MaxValue + (negative ? 1u : 0u) && scale > 0 && mantissa % 10 == 0)
        {
            mantissa /= 10;
            scale--;
        }

        if (mantissa > int.MaxValue + (negative ? 1u : 0u))
        {
            throw new OverflowException($"{value.ToString(CultureInfo.InvariantCulture)} does not fit an AMQP decimal (a 32-bit unscaled value).");
        }

        long signed = negative ? -(long)(ulong)mantissa : (long)(ulong)mantissa;
        return new AmqpDecimal((byte)scale, (int)signed);
    }

    /// <inheritdoc />
    public bool Equals(AmqpDecimal other) => Scale == other.Scale && UnscaledValue == other.UnscaledValue;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is AmqpDecimal other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Scale, UnscaledValue);

    /// <summary>Compares by representation (scale and unscaled value).</summary>
    public static bool operator ==(AmqpDecimal left, AmqpDecimal right) => left.Equals(right);

    /// <summary>Compares by representation (scale and unscaled value).</summary>
    public static bool operator !=(AmqpDecimal left, AmqpDecimal right) => !left.Equals(right);

    /// <summary>The value in invariant culture, e.g. <c>12.50</c>.</summary>
    public override string ToString() =>
        Scale <= 28
            ? ToDecimal().ToString(CultureInfo.InvariantCulture)
            : string.Create(CultureInfo.InvariantCulture, $"{UnscaledValue}E-{Scale}");
}
