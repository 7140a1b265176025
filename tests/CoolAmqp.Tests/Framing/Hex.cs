using System;

namespace CoolAmqp.Tests.Framing;

/// <summary>Hex helpers for golden-byte tests: spaces, newlines and '|' separators are ignored.</summary>
internal static class Hex
{
    public static byte[] Parse(string hex) =>
        Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal)
            .Replace("|", "", StringComparison.Ordinal)
            .Replace("\n", "", StringComparison.Ordinal)
            .Replace("\r", "", StringComparison.Ordinal));

    public static string Format(ReadOnlySpan<byte> bytes) => Convert.ToHexString(bytes);
}
