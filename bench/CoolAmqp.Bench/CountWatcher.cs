using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Reflection;
using System.Threading;
using System.Threading.Tasks;

namespace CoolAmqp.Bench;

/// <summary>
/// Finds the end of a <c>publish</c> run: polls a passive declare's message count until the queue holds N. The
/// polling runs in a child process (this program with <c>--count-watcher</c>), so its CPU time and allocations
/// stay out of the client's figures, which are read for the whole process. The child reports the
/// <see cref="Stopwatch"/> timestamp at which it saw the count (the monotonic clock is shared between processes).
/// </summary>
internal sealed class CountWatcher : IAsyncDisposable
{
    public const string Argument = "--count-watcher";

    private readonly Process _process;
    private int _nextId;

    private CountWatcher(Process process) => _process = process;

    /// <summary>Starts the child and waits until it is connected, so no run pays for its start-up.</summary>
    public static async Task<CountWatcher> StartAsync(Uri broker, BenchTls? tls, CancellationToken cancellationToken)
    {
        // Under `dotnet CoolAmqp.Bench.dll` the process is dotnet and the program is the entry assembly.
        var processPath = Environment.ProcessPath ?? throw new InvalidOperationException("No process path.");
        var info = new ProcessStartInfo(processPath)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        if (Path.GetFileNameWithoutExtension(processPath) == "dotnet")
        {
            info.ArgumentList.Add(Assembly.GetEntryAssembly()!.Location);
        }
        info.ArgumentList.Add(Argument);
        info.Environment["COOLAMQP_BROKER"] = broker.OriginalString;
        // Over TLS the child verifies the server against the same CA; without, it must not inherit one.
        if (tls is null) info.Environment.Remove(BenchTls.CaVariable);
        else info.Environment[BenchTls.CaVariable] = tls.CaFile;
        var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start the count watcher.");
        var watcher = new CountWatcher(process);
        try
        {
            var first = await process.StandardOutput.ReadLineAsync(cancellationToken);
            if (first != "ready") throw new InvalidOperationException($"The count watcher did not start: {first ?? "it exited"}");
            return watcher;
        }
        catch
        {
            await watcher.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Waits until <paramref name="queue"/> holds at least <paramref name="count"/> messages; returns the count seen,
    /// the number of polls and the timestamp at which the count was seen.
    /// </summary>
    public async Task<(uint Seen, int Polls, long SeenAt)> WaitForCountAsync(string queue, int count, long since,
        CancellationToken cancellationToken)
    {
        var id = ++_nextId;
        await _process.StandardInput.WriteLineAsync(
            string.Create(CultureInfo.InvariantCulture, $"wait {id} {queue} {count} {since}").AsMemory(), cancellationToken);
        await _process.StandardInput.FlushAsync(cancellationToken);
        while (true)
        {
            var line = await _process.StandardOutput.ReadLineAsync(cancellationToken)
                ?? throw new InvalidOperationException("The count watcher exited.");
            var parts = line.Split(' ', 5);
            // Answers to earlier requests (of runs that timed out) are skipped.
            if (parts.Length < 2 || parts[1] != id.ToString(CultureInfo.InvariantCulture)) continue;
            if (parts[0] == "ok" && parts.Length == 5)
            {
                return (uint.Parse(parts[2], CultureInfo.InvariantCulture), int.Parse(parts[3], CultureInfo.InvariantCulture),
                    long.Parse(parts[4], CultureInfo.InvariantCulture));
            }
            throw new InvalidOperationException($"The count watcher failed: {line}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            _process.StandardInput.Close();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill();
        }
        finally
        {
            _process.Dispose();
        }
    }

    /// <summary>
    /// The child side: says <c>ready</c> once connected, then reads <c>wait ID QUEUE COUNT SINCE</c> lines, answers <c>ok ID SEEN POLLS SEENAT</c> or
    /// <c>error ID MESSAGE</c>. The pause between polls is 1/500 of the time since SINCE, at least 1 ms: the end
    /// is found to within about 0.2 % without keeping a core busy.
    /// </summary>
    public static async Task<int> RunChildAsync(Uri broker, BenchTls? tls)
    {
        await using var admin = new BrokerAdmin(tls);
        try
        {
            await admin.ConnectAsync(broker, CancellationToken.None);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Console.Out.WriteLine($"error 0 {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}");
            return 1;
        }
        Console.Out.WriteLine("ready");
        Console.Out.Flush();
        var minimum = TimeSpan.FromMilliseconds(1);
        while (await Console.In.ReadLineAsync() is { } line)
        {
            var parts = line.Split(' ');
            if (parts.Length != 5 || parts[0] != "wait") continue;
            var id = parts[1];
            try
            {
                var count = int.Parse(parts[3], CultureInfo.InvariantCulture);
                var since = long.Parse(parts[4], CultureInfo.InvariantCulture);
                var polls = 0;
                while (true)
                {
                    var seen = await admin.CountAsync(parts[2], CancellationToken.None);
                    var at = Stopwatch.GetTimestamp();
                    polls++;
                    if (seen >= count)
                    {
                        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ok {id} {seen} {polls} {at}"));
                        break;
                    }
                    var pause = Stopwatch.GetElapsedTime(since) / 500;
                    await Task.Delay(pause < minimum ? minimum : pause);
                }
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                Console.Out.WriteLine($"error {id} {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}");
            }
            Console.Out.Flush();
        }
        return 0;
    }
}
