using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

namespace CoolAmqp.Bench.Drivers;

/// <summary>
/// librabbitmq-c (Debian's librabbitmq 0.11) through bench/c/coolamqp-bench-c: one process per run, one thread, the
/// library's synchronous API. The child measures its own interval (CLOCK_MONOTONIC, which is <see cref="Stopwatch"/>'s clock on
/// Linux, and its CPU time over the interval), so neither its start-up and connection nor this process count; its
/// allocations are not counted. The output protocol is described at the top of the C file.
/// </summary>
internal sealed class LibRabbitMqCDriver(string? binary, string? unavailable) : IClientDriver
{
    private Uri? _broker;
    private Process? _publisher; // a publish run's child, waiting to be told that the runner has seen every message

    public string Name => "librabbitmq-c";

    public string Description => "librabbitmq-c 0.11 (Debian's librabbitmq) from C (bench/c), one thread, synchronous API, one "
        + "process per run; publish-confirm keeps its window by reading basic.ack frames (amqp_simple_wait_frame); "
        + "CPU is the child's user + system time over its measured interval; allocations not counted";

    /// <summary>Runs bench/c/build.sh (it installs librabbitmq-dev when its header is missing); returns the binary.</summary>
    public static async Task<string> BuildAsync(CancellationToken cancellationToken)
    {
        var root = MachineInfo.FindRepoRoot() ?? throw new DriverUnavailableException("no CoolAmqp.sln above the working directory, so no bench/c/build.sh");
        var script = Path.Combine(root, "bench", "c", "build.sh");
        if (!File.Exists(script)) throw new DriverUnavailableException($"{script} not found");
        var info = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(script);
        Process process;
        try
        {
            process = Process.Start(info) ?? throw new DriverUnavailableException("could not start bash");
        }
        catch (Win32Exception e)
        {
            throw new DriverUnavailableException($"could not start bash: {e.Message}", e);
        }
        using (process)
        {
            // apt-get may have to download; a build that takes longer than this is not going to work.
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromMinutes(5));
            var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
            var errors = process.StandardError.ReadToEndAsync(timeout.Token);
            try
            {
                await process.WaitForExitAsync(timeout.Token);
                await Task.WhenAll(output, errors);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                Kill(process);
                throw new DriverUnavailableException("bench/c/build.sh took more than 5 minutes");
            }
            var binary = (await output).Trim();
            if (process.ExitCode != 0 || !File.Exists(binary))
            {
                var tail = (await errors).Trim();
                if (tail.Length > 400) tail = tail[^400..];
                throw new DriverUnavailableException($"bench/c/build.sh failed (exit {process.ExitCode}): {tail.ReplaceLineEndings(" ")}");
            }
            return binary;
        }
    }

    public async Task ConnectAsync(Uri broker, CancellationToken cancellationToken)
    {
        if (binary is null) throw new DriverUnavailableException(unavailable ?? "not built");
        if (broker.Scheme != "amqp") throw new DriverUnavailableException($"the C driver speaks amqp only, not {broker.Scheme}");
        _broker = broker;
        // A connection the same way every run makes one, and the clock the measurements rely on.
        var before = Stopwatch.GetTimestamp();
        var lines = await RunAsync("check", "-", 0, 1, 1, 0, cancellationToken);
        var after = Stopwatch.GetTimestamp();
        var ok = lines.Count == 1 && lines[0].StartsWith("ok ", StringComparison.Ordinal) ? ToTicks(long.Parse(lines[0][3..], CultureInfo.InvariantCulture)) : -1;
        if (ok < before || ok > after)
        {
            throw new DriverUnavailableException("the C driver's CLOCK_MONOTONIC is not this process's Stopwatch clock, so its times cannot be compared");
        }
    }

    public async Task DeclareQueueAsync(string queue, CancellationToken cancellationToken)
    {
        await RunAsync("declare", queue, 0, 1, 1, 0, cancellationToken);
    }

    public async Task PublishAsync(string queue, ReadOnlyMemory<byte> body, int count, Measurement measurement,
        CancellationToken cancellationToken)
    {
        KillPublisher();
        var process = Start("publish", queue, body.Length, count, 1, 0);
        _publisher = process;
        using var registration = cancellationToken.Register(static p => Kill((Process)p!), process);
        var line = await process.StandardOutput.ReadLineAsync(cancellationToken) ?? await ExitedAsync(process);
        if (!line.StartsWith("published ", StringComparison.Ordinal)) throw Failed(line);
        measurement.StartExternal(ToTicks(long.Parse(line["published ".Length..], CultureInfo.InvariantCulture)));
    }

    public async Task PublishSeenAsync(Measurement measurement, CancellationToken cancellationToken)
    {
        var process = _publisher ?? throw new InvalidOperationException("No publish run is waiting.");
        _publisher = null;
        using (process)
        {
            using var registration = cancellationToken.Register(static p => Kill((Process)p!), process);
            // The child reads its CPU time when this line arrives.
            await process.StandardInput.WriteLineAsync("seen".AsMemory(), cancellationToken);
            process.StandardInput.Close();
            var lines = await ReadToExitAsync(process, cancellationToken);
            var result = Result.Parse(lines);
            measurement.SetExternalCpu(result.Cpu);
        }
    }

    public async Task PublishConfirmAsync(string queue, ReadOnlyMemory<byte> body, int count, int maxUnconfirmed,
        Measurement measurement, CancellationToken cancellationToken)
    {
        var result = Result.Parse(await RunAsync("publish-confirm", queue, body.Length, count, maxUnconfirmed, 0, cancellationToken));
        if (result.Nacks > 0) throw new InvalidOperationException($"{result.Nacks} of {count} publishes were nacked.");
        if (result.Messages != count) throw new InvalidOperationException($"{result.Messages} of {count} publishes confirmed.");
        measurement.Record(result.Start, result.End, result.Cpu);
    }

    public async Task<ConsumeResult> ConsumeAsync(string queue, int count, bool manualAck, ushort prefetch, int expectedBodySize,
        Measurement measurement, CancellationToken cancellationToken)
    {
        var result = Result.Parse(await RunAsync(manualAck ? "consume-ack" : "consume", queue, expectedBodySize, count, 1, prefetch,
            cancellationToken));
        measurement.Record(result.Start, result.End, result.Cpu);
        return new ConsumeResult((int)result.Messages, (int)result.Bad);
    }

    public async Task<RoundtripResult> RoundtripAsync(string queue, int bodySize, long[] latencies, Measurement measurement,
        CancellationToken cancellationToken)
    {
        var lines = await RunAsync("roundtrip", queue, bodySize, latencies.Length, 1, 0, cancellationToken);
        var result = Result.Parse(lines);
        var samples = lines.Find(l => l.StartsWith("latencies ", StringComparison.Ordinal))?.Split(' ')
            ?? throw new InvalidOperationException("The C driver printed no latencies.");
        if (samples.Length - 1 != latencies.Length)
        {
            throw new InvalidOperationException($"The C driver printed {samples.Length - 1} latencies, expected {latencies.Length}.");
        }
        for (var i = 0; i < latencies.Length; i++) latencies[i] = ToTicks(long.Parse(samples[i + 1], CultureInfo.InvariantCulture));
        measurement.Record(result.Start, result.End, result.Cpu);
        return new RoundtripResult((int)result.Messages, (int)result.Bad);
    }

    public ValueTask DisposeAsync()
    {
        KillPublisher();
        return ValueTask.CompletedTask;
    }

    /// <summary>Runs the child to its end; its stdout lines, or an exception with what it said when it failed.</summary>
    private async Task<List<string>> RunAsync(string scenario, string queue, int bodySize, int count, int maxUnconfirmed, int prefetch,
        CancellationToken cancellationToken)
    {
        using var process = Start(scenario, queue, bodySize, count, maxUnconfirmed, prefetch);
        using var registration = cancellationToken.Register(static p => Kill((Process)p!), process);
        process.StandardInput.Close();
        return await ReadToExitAsync(process, cancellationToken);
    }

    private Process Start(string scenario, string queue, int bodySize, int count, int maxUnconfirmed, int prefetch)
    {
        var info = new ProcessStartInfo(binary ?? throw new InvalidOperationException("Not built."))
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(scenario);
        info.ArgumentList.Add(queue);
        info.ArgumentList.Add(bodySize.ToString(CultureInfo.InvariantCulture));
        info.ArgumentList.Add(count.ToString(CultureInfo.InvariantCulture));
        info.ArgumentList.Add(maxUnconfirmed.ToString(CultureInfo.InvariantCulture));
        info.ArgumentList.Add(prefetch.ToString(CultureInfo.InvariantCulture));
        // The URI (with its password) goes in the environment, not the argument list every user can read.
        info.Environment["COOLAMQP_BROKER"] = (_broker ?? throw new InvalidOperationException("Not connected.")).OriginalString;
        return Process.Start(info) ?? throw new InvalidOperationException($"Could not start {binary}.");
    }

    private static async Task<List<string>> ReadToExitAsync(Process process, CancellationToken cancellationToken)
    {
        var lines = new List<string>();
        while (await process.StandardOutput.ReadLineAsync(cancellationToken) is { } line)
        {
            if (line.StartsWith("error ", StringComparison.Ordinal)) throw Failed(line);
            lines.Add(line);
        }
        await process.WaitForExitAsync(cancellationToken);
        cancellationToken.ThrowIfCancellationRequested(); // killed on cancellation: its exit code says nothing
        if (process.ExitCode != 0) throw new InvalidOperationException($"The C driver exited with code {process.ExitCode}.");
        return lines;
    }

    private static async Task<string> ExitedAsync(Process process)
    {
        await process.WaitForExitAsync();
        throw new InvalidOperationException($"The C driver exited with code {process.ExitCode} before its first line.");
    }

    private static InvalidOperationException Failed(string line) =>
        new(line.StartsWith("error ", StringComparison.Ordinal) ? $"librabbitmq-c: {line["error ".Length..]}" : $"The C driver said: {line}");

    private void KillPublisher()
    {
        if (_publisher is null) return;
        Kill(_publisher);
        _publisher.Dispose();
        _publisher = null;
    }

    private static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited) process.Kill();
        }
        catch (InvalidOperationException)
        {
            // It exited meanwhile.
        }
        catch (Win32Exception)
        {
            // Likewise, or it is not ours to kill any more.
        }
    }

    // Nanoseconds of CLOCK_MONOTONIC to Stopwatch ticks (on Linux the frequency is 1 GHz, so this is the identity).
    private static long ToTicks(long nanoseconds) => Stopwatch.Frequency == 1_000_000_000
        ? nanoseconds
        : (long)(nanoseconds * (Stopwatch.Frequency / 1e9));

    /// <summary>The child's "result" line.</summary>
    private readonly record struct Result(long Start, long End, TimeSpan Cpu, long Messages, long Bad, long Nacks)
    {
        public static Result Parse(List<string> lines)
        {
            var line = lines.Find(l => l.StartsWith("result ", StringComparison.Ordinal))
                ?? throw new InvalidOperationException("The C driver printed no result.");
            long start = 0, end = 0, cpu = -1, messages = -1, bad = 0, nacks = 0;
            foreach (var field in line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                var eq = field.IndexOf('=', StringComparison.Ordinal);
                if (eq <= 0) continue;
                var value = long.Parse(field[(eq + 1)..], CultureInfo.InvariantCulture);
                switch (field[..eq])
                {
                    case "start": start = value; break;
                    case "end": end = value; break;
                    case "cpu": cpu = value; break;
                    case "msgs": messages = value; break;
                    case "bad": bad = value; break;
                    case "nacks": nacks = value; break;
                }
            }
            if (cpu < 0 || messages < 0) throw new InvalidOperationException($"The C driver's result is incomplete: {line}");
            return new Result(ToTicks(start), ToTicks(end), TimeSpan.FromTicks(cpu / 100), messages, bad, nacks);
        }
    }
}
