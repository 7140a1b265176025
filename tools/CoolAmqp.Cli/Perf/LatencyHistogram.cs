using System;
using System.Threading;

namespace CoolAmqp.Cli.Perf;

/// <summary>
/// A log-linear histogram of latencies in microseconds that many threads record into without locks: values below 128
/// have a bucket each, larger ones 64 buckets per power of two, so a reported percentile is within 1/64 (1.6 %) of
/// the exact one. <see cref="Snapshot"/> copies the counts, and two snapshots' difference is one interval's
/// distribution (the live line), the last snapshot the whole run's (the summary).
/// </summary>
internal sealed class LatencyHistogram
{
    private const int Linear = 128; // values 0..127 are exact
    private const int SubBits = 6; // 64 sub-buckets per power of two from 128 up
    private const int SubBuckets = 1 << SubBits;
    private const int MaxExponent = 42; // 2^42 us is 50 days: anything above is clamped into the last bucket

    private readonly long[] _counts = new long[BucketCount];

    /// <summary>The number of buckets.</summary>
    internal const int BucketCount = Linear + (MaxExponent - 7 + 1) * SubBuckets;

    /// <summary>Adds one value, in microseconds (negative ones count as 0).</summary>
    public void Record(long micros) => Interlocked.Increment(ref _counts[BucketOf(micros)]);

    /// <summary>A copy of the counts so far.</summary>
    public Distribution Snapshot()
    {
        var copy = new long[BucketCount];
        for (var i = 0; i < copy.Length; i++)
        {
            copy[i] = Volatile.Read(ref _counts[i]);
        }
        return new Distribution(copy);
    }

    internal static int BucketOf(long micros)
    {
        if (micros < Linear) return micros < 0 ? 0 : (int)micros;
        var exponent = 63 - (int)long.LeadingZeroCount(micros); // >= 7
        if (exponent > MaxExponent) return BucketCount - 1;
        var sub = (int)((micros >> (exponent - SubBits)) & (SubBuckets - 1));
        return Linear + (exponent - 7) * SubBuckets + sub;
    }

    /// <summary>The smallest value that falls into <paramref name="bucket"/>.</summary>
    internal static long LowerBound(int bucket)
    {
        if (bucket < Linear) return bucket;
        var exponent = (bucket - Linear) / SubBuckets + 7;
        var sub = (bucket - Linear) % SubBuckets;
        return (long)(SubBuckets + sub) << (exponent - SubBits);
    }

    /// <summary>The value a bucket reports: its exact value below 128, else the middle of its range.</summary>
    internal static double Representative(int bucket)
    {
        if (bucket < Linear) return bucket;
        var low = LowerBound(bucket);
        var width = bucket + 1 < BucketCount ? LowerBound(bucket + 1) - low : 1;
        return low + (width - 1) / 2.0;
    }

    /// <summary>The counts of a histogram at one moment.</summary>
    internal sealed class Distribution
    {
        private readonly long[] _counts;

        internal Distribution(long[] counts)
        {
            _counts = counts;
            foreach (var c in counts) Count += c;
        }

        /// <summary>No values.</summary>
        public static Distribution Empty { get; } = new(new long[BucketCount]);

        /// <summary>The number of values.</summary>
        public long Count { get; }

        /// <summary>The values in this distribution that were not yet in <paramref name="earlier"/>.</summary>
        public Distribution Minus(Distribution earlier)
        {
            var diff = new long[BucketCount];
            for (var i = 0; i < diff.Length; i++) diff[i] = _counts[i] - earlier._counts[i];
            return new Distribution(diff);
        }

        /// <summary>The value at quantile <paramref name="q"/> (0..1): the smallest bucket whose cumulative count
        /// reaches ceil(q * Count); NaN when empty. q = 0 is the minimum, q = 1 the maximum.</summary>
        public double Percentile(double q)
        {
            if (Count == 0) return double.NaN;
            var rank = Math.Max(1, (long)Math.Ceiling(Math.Clamp(q, 0, 1) * Count));
            long seen = 0;
            for (var i = 0; i < _counts.Length; i++)
            {
                seen += _counts[i];
                if (seen >= rank) return Representative(i);
            }
            return Representative(_counts.Length - 1);
        }

        /// <summary>The mean of the bucket values; NaN when empty.</summary>
        public double Mean()
        {
            if (Count == 0) return double.NaN;
            double sum = 0;
            for (var i = 0; i < _counts.Length; i++)
            {
                if (_counts[i] != 0) sum += _counts[i] * Representative(i);
            }
            return sum / Count;
        }
    }
}
