using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Threading;

namespace CoolAmqp.Bench;

/// <summary>
/// The CPU time (user + system) of the RabbitMQ nodes on this machine (every <c>beam.smp</c> process, from /proc),
/// sampled every 20 ms through one run, so the broker's share of any interval inside the run can be read afterwards —
/// also an interval another process timed (librabbitmq-c's driver reports Stopwatch-compatible timestamps). On two
/// cores shared by client and broker this says whether a client was short of CPU because the broker had it.
/// </summary>
/// <remarks>Sampling rather than reading at the measurement's start and stop: the external driver's interval is only
/// known after the fact. /proc counts in clock ticks of 10 ms, so a one-second run is known to about 2 %.</remarks>
internal sealed class BrokerCpuSampler : IDisposable
{
    private const int IntervalMilliseconds = 20;
    private const double TicksPerSecond = 100; // USER_HZ: 100 on Linux (getconf CLK_TCK)

    private readonly string[] _statFiles;
    private readonly List<(long Timestamp, long Ticks)> _samples = [];
    private readonly Thread _thread;
    private readonly ManualResetEventSlim _stop = new();

    private BrokerCpuSampler(string[] statFiles)
    {
        _statFiles = statFiles;
        Sample();
        _thread = new Thread(Loop) { IsBackground = true, Name = "broker-cpu" };
        _thread.Start();
    }

    /// <summary>Starts sampling every local RabbitMQ node; null when none runs here (a remote broker) or /proc is not
    /// readable.</summary>
    public static BrokerCpuSampler? TryStart()
    {
        var files = FindBrokers();
        return files.Length == 0 ? null : new BrokerCpuSampler(files);
    }

    /// <summary>Broker CPU time between two <see cref="Stopwatch"/> timestamps inside the sampled span (call after
    /// <see cref="Dispose"/>); null when either lies outside it or a node went away meanwhile.</summary>
    public TimeSpan? Between(long start, long end)
    {
        if (_thread.IsAlive) throw new InvalidOperationException("Still sampling.");
        return At(start) is { } a && At(end) is { } b && b >= a ? TimeSpan.FromSeconds((b - a) / TicksPerSecond) : null;
    }

    public void Dispose()
    {
        if (!_thread.IsAlive) return;
        _stop.Set();
        _thread.Join();
        Sample();
        _stop.Dispose();
    }

    private void Loop()
    {
        while (!_stop.Wait(IntervalMilliseconds)) Sample();
    }

    private void Sample()
    {
        var ticks = ReadTicks();
        var now = Stopwatch.GetTimestamp();
        // A node that stopped leaves a gap in the series: nothing is known across it.
        _samples.Add((now, ticks ?? -1));
    }

    // Linear between the samples around the timestamp.
    private double? At(long timestamp)
    {
        for (var i = 1; i < _samples.Count; i++)
        {
            var (t1, c1) = _samples[i];
            if (t1 < timestamp) continue;
            var (t0, c0) = _samples[i - 1];
            if (t0 > timestamp || c0 < 0 || c1 < 0) return null;
            return t1 == t0 ? c1 : c0 + (c1 - c0) * (double)(timestamp - t0) / (t1 - t0);
        }
        return null;
    }

    private long? ReadTicks()
    {
        long total = 0;
        foreach (var file in _statFiles)
        {
            if (ReadStat(file) is not { } text || TicksOf(text) is not { } ticks) return null;
            total += ticks;
        }
        return total;
    }

    private static string[] FindBrokers()
    {
        var found = new List<string>();
        try
        {
            foreach (var dir in Directory.EnumerateDirectories("/proc"))
            {
                var name = Path.GetFileName(dir);
                if (name.Length == 0 || !char.IsAsciiDigit(name[0])) continue;
                var stat = Path.Combine(dir, "stat");
                if (ReadStat(stat) is { } text && text.Contains("(beam.smp)", StringComparison.Ordinal) && TicksOf(text) is not null) found.Add(stat);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // No readable /proc: nothing is sampled.
        }
        return [.. found];
    }

    // Null when the process ended meanwhile or is not readable.
    private static string? ReadStat(string statFile)
    {
        try
        {
            return File.ReadAllText(statFile);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    // utime and stime are fields 14 and 15 of /proc/<pid>/stat; the command name (field 2) may hold spaces, so count
    // from the last ')'.
    private static long? TicksOf(string stat)
    {
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return fields.Length > 12
            && long.TryParse(fields[11], NumberStyles.None, CultureInfo.InvariantCulture, out var user)
            && long.TryParse(fields[12], NumberStyles.None, CultureInfo.InvariantCulture, out var system)
            ? user + system
            : null;
    }
}
