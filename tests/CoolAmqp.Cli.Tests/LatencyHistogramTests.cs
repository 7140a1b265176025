using System;
using CoolAmqp.Cli.Perf;
using NUnit.Framework;

namespace CoolAmqp.Cli.Tests;

[TestFixture]
public sealed class LatencyHistogramTests
{
    [Test]
    public void Small_values_are_exact()
    {
        var h = new LatencyHistogram();
        for (var v = 0; v < 100; v++) h.Record(v);
        var d = h.Snapshot();
        Assert.Multiple(() =>
        {
            Assert.That(d.Count, Is.EqualTo(100));
            Assert.That(d.Percentile(0), Is.Zero);
            Assert.That(d.Percentile(0.5), Is.EqualTo(49), "the 50th of 0..99");
            Assert.That(d.Percentile(0.99), Is.EqualTo(98));
            Assert.That(d.Percentile(1), Is.EqualTo(99));
            Assert.That(d.Mean(), Is.EqualTo(49.5));
        });
    }

    [TestCase(0.5)]
    [TestCase(0.9)]
    [TestCase(0.99)]
    [TestCase(0.999)]
    public void Percentiles_are_within_the_bucket_precision(double q)
    {
        var h = new LatencyHistogram();
        const int n = 1_000_000;
        for (var v = 1; v <= n; v++) h.Record(v);
        var exact = Math.Ceiling(q * n);
        Assert.That(h.Snapshot().Percentile(q), Is.EqualTo(exact).Within(exact / 64));
    }

    [Test]
    public void Every_value_falls_into_the_bucket_that_contains_it()
    {
        var random = new Random(7);
        for (var i = 0; i < 100_000; i++)
        {
            var v = (long)Math.Pow(2, random.NextDouble() * 40);
            var bucket = LatencyHistogram.BucketOf(v);
            Assert.That(LatencyHistogram.LowerBound(bucket), Is.LessThanOrEqualTo(v), $"value {v}");
            if (bucket + 1 < LatencyHistogram.BucketCount)
            {
                Assert.That(LatencyHistogram.LowerBound(bucket + 1), Is.GreaterThan(v), $"value {v}");
            }
        }
    }

    [Test]
    public void An_interval_is_the_difference_of_two_snapshots()
    {
        var h = new LatencyHistogram();
        for (var i = 0; i < 1000; i++) h.Record(10);
        var first = h.Snapshot();
        for (var i = 0; i < 10; i++) h.Record(5000);
        var interval = h.Snapshot().Minus(first);
        Assert.That(interval.Count, Is.EqualTo(10));
        Assert.That(interval.Percentile(0), Is.EqualTo(5000).Within(5000 / 64.0));
        Assert.That(LatencyHistogram.Distribution.Empty.Percentile(0.5), Is.NaN);
    }
}
