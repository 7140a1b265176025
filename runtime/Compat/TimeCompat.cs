using System;
using System.Diagnostics;

namespace CoolAmqp.Compat;

/// <summary>The clock members newer than netstandard2.0, as static extension members.</summary>
internal static class TimeCompat
{
    extension(Environment)
    {
        /// <summary>Milliseconds of a monotonic clock (the runtime only ever subtracts two readings).</summary>
        public static long TickCount64 => (long)(Stopwatch.GetTimestamp() * (1000.0 / Stopwatch.Frequency));
    }

    extension(Stopwatch)
    {
        public static TimeSpan GetElapsedTime(long startingTimestamp) =>
            Stopwatch.GetElapsedTime(startingTimestamp, Stopwatch.GetTimestamp());

        public static TimeSpan GetElapsedTime(long startingTimestamp, long endingTimestamp) =>
            new((long)((endingTimestamp - startingTimestamp) * ((double)TimeSpan.TicksPerSecond / Stopwatch.Frequency)));
    }

    extension(DateTimeOffset)
    {
        public static DateTimeOffset UnixEpoch => new(1970, 1, 1, 0, 0, 0, TimeSpan.Zero);
    }

    extension(TimeSpan)
    {
        public static TimeSpan operator /(TimeSpan timeSpan, double divisor) =>
            TimeSpan.FromTicks((long)Math.Round(timeSpan.Ticks / divisor));

        public static TimeSpan operator *(TimeSpan timeSpan, double factor) =>
            TimeSpan.FromTicks((long)Math.Round(timeSpan.Ticks * factor));
    }
}
