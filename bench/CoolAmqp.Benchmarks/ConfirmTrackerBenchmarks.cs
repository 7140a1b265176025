using System;
using System.Threading.Tasks;
using BenchmarkDotNet.Attributes;
using CoolAmqp.Channels;

namespace CoolAmqp.Benchmarks;

/// <summary>
/// Publisher-confirm bookkeeping for a window of 1,000 outstanding publishes: rent each publish's pooled
/// completion and register it in the tracker's ring (in publish order), resolve them as the broker does
/// (basic.ack with multiple set, here every 100 tags), then read every result as the awaiting publisher would.
/// <see cref="Mandatory"/>: the publishes are mandatory (none is returned), the steady state of mandatory publishing.
/// </summary>
[MemoryDiagnoser]
public class ConfirmTrackerBenchmarks
{
    private const int Outstanding = 1000;
    private const int AckEvery = 100;
    private static readonly Message Published = new("bench"u8.ToArray());

    private readonly ConfirmTracker _tracker = new();
    private readonly ValueTask[] _pending = new ValueTask[Outstanding];
    private ulong _sequence;

    /// <summary>Whether the publishes are mandatory.</summary>
    [Params(false, true)]
    public bool Mandatory { get; set; }

    [Benchmark(OperationsPerInvoke = Outstanding)]
    public void TrackAndConfirm1000()
    {
        for (int i = 0; i < Outstanding; i++)
        {
            PendingConfirm pending = PendingConfirm.Rent(Published, "", "bench", Mandatory);
            _tracker.Add(pending);
#pragma warning disable CA2012 // A window of pending publishes, each consumed exactly once below.
            _pending[i] = pending.AsValueTask(default);
#pragma warning restore CA2012
        }

        for (int i = AckEvery; i <= Outstanding; i += AckEvery)
        {
            _tracker.Ack(_sequence + (ulong)i, multiple: true);
        }

        _sequence += Outstanding;
        for (int i = 0; i < Outstanding; i++)
        {
            _pending[i].GetAwaiter().GetResult();
        }
    }
}
