using System;
using System.Collections.Generic;
using System.Diagnostics;

namespace CoolAmqp.Bench;

internal static class Stats
{
    /// <summary>The median of the values (the mean of the middle two for an even count); null when empty.</summary>
    public static double? Median(IReadOnlyList<double> values)
    {
        if (values.Count == 0) return null;
        var sorted = new double[values.Count];
        for (var i = 0; i < sorted.Length; i++) sorted[i] = values[i];
        Array.Sort(sorted);
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    /// <summary>Nearest-rank percentile of an ascending array; <paramref name="q"/> in (0, 1].</summary>
    public static long Percentile(long[] sorted, double q)
    {
        if (sorted.Length == 0) throw new ArgumentException("No samples.", nameof(sorted));
        var rank = (int)Math.Ceiling(q * sorted.Length);
        return sorted[Math.Clamp(rank, 1, sorted.Length) - 1];
    }

    public static double TicksToMicros(long ticks) => ticks * 1_000_000.0 / Stopwatch.Frequency;

    /// <summary>a / b, or null when either is missing or b is zero.</summary>
    public static double? Ratio(double? a, double? b) => a is { } x && b is { } y && y != 0 ? x / y : null;
}
