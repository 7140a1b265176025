using System;
using System.Diagnostics;
using System.Threading;

namespace CoolAmqp.Bench;

/// <summary>
/// The measured interval of one run: wall clock, process CPU time (user + system) and bytes allocated by the whole
/// process. A driver calls <see cref="Start"/> right before its first protocol operation and, where the scenario's
/// end is visible only to it (last confirm, Nth delivery), <see cref="Stop"/> at that moment.
/// </summary>
internal sealed class Measurement
{
    private long _startTimestamp;
    private TimeSpan _startCpu;
    private long _startAllocated;
    private int _startGen0;
    private int _startGen2;
    private int _state; // 0 = new, 1 = started, 2 = stopped

    public bool IsStarted => Volatile.Read(ref _state) >= 1;
    public bool IsStopped => Volatile.Read(ref _state) == 2;
    public TimeSpan Elapsed { get; private set; }
    public TimeSpan Cpu { get; private set; }
    public long AllocatedBytes { get; private set; }
    public int Gen0Collections { get; private set; }
    public int Gen2Collections { get; private set; }

    public void Start()
    {
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0) throw new InvalidOperationException("The measurement was already started.");
        _startGen0 = GC.CollectionCount(0);
        _startGen2 = GC.CollectionCount(2);
        _startAllocated = GC.GetTotalAllocatedBytes(precise: true);
        _startCpu = ProcessCpu();
        _startTimestamp = Stopwatch.GetTimestamp();
    }

    /// <summary>Ends the interval; only the first call counts (a consumer may race a timeout).</summary>
    public void Stop() => StopAt(Stopwatch.GetTimestamp());

    /// <summary>
    /// Ends the interval at <paramref name="end"/>, a <see cref="Stopwatch"/> timestamp seen elsewhere (the count
    /// watcher's); CPU and allocations are read now.
    /// </summary>
    public void StopAt(long end)
    {
        var cpu = ProcessCpu();
        var allocated = GC.GetTotalAllocatedBytes(precise: true);
        if (Interlocked.CompareExchange(ref _state, 2, 1) != 1) return;
        Elapsed = Stopwatch.GetElapsedTime(_startTimestamp, end);
        Cpu = cpu - _startCpu;
        AllocatedBytes = allocated - _startAllocated;
        Gen0Collections = GC.CollectionCount(0) - _startGen0;
        Gen2Collections = GC.CollectionCount(2) - _startGen2;
    }

    private static TimeSpan ProcessCpu()
    {
        // A fresh Process object reads the current counters (user + system time of every thread).
        using var process = Process.GetCurrentProcess();
        return process.TotalProcessorTime;
    }
}
