using System;
using System.Diagnostics;
using System.Threading;

namespace CoolAmqp.Bench;

/// <summary>
/// The measured interval of one run: wall clock, process CPU time (user + system) and bytes allocated by the whole
/// process. A driver calls <see cref="Start"/> right before its first protocol operation and, where the scenario's
/// end is visible only to it (last confirm, Nth delivery), <see cref="Stop"/> at that moment. A client in another
/// process measures its own interval and hands it over (<see cref="StartExternal"/>, <see cref="Record"/>,
/// <see cref="SetExternalCpu"/>): its CPU time is that process's, and its allocations are not known.
/// </summary>
internal sealed class Measurement
{
    private long _startTimestamp;
    private TimeSpan _startCpu;
    private long _startAllocated;
    private int _startGen0;
    private int _startGen2;
    private int _state; // 0 = new, 1 = started, 2 = stopped
    private bool _external;
    private bool _cpuKnown;

    public bool IsStarted => Volatile.Read(ref _state) >= 1;
    public bool IsStopped => Volatile.Read(ref _state) == 2;
    public TimeSpan Elapsed { get; private set; }
    public TimeSpan Cpu { get; private set; }

    /// <summary>The interval's ends as <see cref="Stopwatch"/> timestamps (the end once stopped).</summary>
    public long StartTimestamp => _startTimestamp;
    public long EndTimestamp { get; private set; }

    /// <summary>False until an external client has reported its CPU time; always true for this process.</summary>
    public bool IsCpuKnown => !_external || _cpuKnown;

    /// <summary>Bytes allocated by this process; null for a client in another process.</summary>
    public long? AllocatedBytes { get; private set; }
    public int? Gen0Collections { get; private set; }
    public int? Gen2Collections { get; private set; }

    public void Start()
    {
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0) throw new InvalidOperationException("The measurement was already started.");
        _startGen0 = GC.CollectionCount(0);
        _startGen2 = GC.CollectionCount(2);
        _startAllocated = GC.GetTotalAllocatedBytes(precise: true);
        _startCpu = ProcessCpu();
        _startTimestamp = Stopwatch.GetTimestamp();
    }

    /// <summary>
    /// Starts the interval of a client in another process at <paramref name="start"/>, a <see cref="Stopwatch"/>
    /// timestamp it took (on Linux both are CLOCK_MONOTONIC); nothing of this process is read.
    /// </summary>
    public void StartExternal(long start)
    {
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0) throw new InvalidOperationException("The measurement was already started.");
        _external = true;
        _startTimestamp = start;
    }

    /// <summary>The whole interval of a client in another process, as it measured it.</summary>
    public void Record(long start, long end, TimeSpan cpu)
    {
        StartExternal(start);
        StopAt(end);
        SetExternalCpu(cpu);
    }

    /// <summary>The CPU time (user + system) of a client in another process over its interval.</summary>
    public void SetExternalCpu(TimeSpan cpu)
    {
        if (!_external) throw new InvalidOperationException("Not an external measurement.");
        Cpu = cpu;
        _cpuKnown = true;
    }

    /// <summary>Ends the interval; only the first call counts (a consumer may race a timeout).</summary>
    public void Stop() => StopAt(Stopwatch.GetTimestamp());

    /// <summary>
    /// Ends the interval at <paramref name="end"/>, a <see cref="Stopwatch"/> timestamp seen elsewhere (the count
    /// watcher's); CPU and allocations are read now.
    /// </summary>
    public void StopAt(long end)
    {
        if (_external)
        {
            if (Interlocked.CompareExchange(ref _state, 2, 1) == 1)
            {
                EndTimestamp = end;
                Elapsed = Stopwatch.GetElapsedTime(_startTimestamp, end);
            }
            return;
        }
        var cpu = ProcessCpu();
        var allocated = GC.GetTotalAllocatedBytes(precise: true);
        if (Interlocked.CompareExchange(ref _state, 2, 1) != 1) return;
        EndTimestamp = end;
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
