using System;
using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using System.Threading;
using System.Threading.Tasks;
using CoolAmqp.Cli.Commands;
using Spectre.Console;

namespace CoolAmqp.Cli.Perf;

/// <summary><c>coolamqp perf</c>: a throughput test in the spirit of RabbitMQ's PerfTest.</summary>
internal static class PerfCommand
{
    private static readonly double[] Quantiles = [0.5, 0.75, 0.95, 0.99, 0.999];

    public static Command Build(CliContext context)
    {
        var producers = new Option<int>("--producers", "-x") { Description = "Producers, each on its own connection.", DefaultValueFactory = _ => 1 };
        var consumers = new Option<int>("--consumers", "-y") { Description = "Consumers, each on its own connection.", DefaultValueFactory = _ => 1 };
        var size = new Option<int>("--size", "-s") { Description = "Message body size in bytes (16 and up carry a timestamp for latency).", DefaultValueFactory = _ => 16 };
        var rate = new Option<double>("--rate", "-r") { Description = "Messages per second per producer; 0 is unlimited.", DefaultValueFactory = _ => 0 };
        var confirm = new Option<int>("--confirm", "-c") { Description = "Publisher confirms with at most this many unconfirmed messages per producer; 0 is no confirms.", DefaultValueFactory = _ => 0 };
        var prefetch = new Option<int>("--prefetch", "-q") { Description = "Consumer prefetch (with --ack manual).", DefaultValueFactory = _ => 1000 };
        var ack = new Option<string>("--ack", "-a") { Description = "auto (no-ack: the broker forgets a message as it sends it) or manual (ack each).", DefaultValueFactory = _ => "auto" };
        var duration = new Option<double?>("--duration", "-z") { Description = "Run for this many seconds." };
        var count = new Option<long?>("--count", "-C") { Description = "Messages per producer (with --producers 0: messages to consume in all); the consumers wait for all of them." };
        var queue = new Option<string?>("--queue", "-Q") { Description = "Use this queue (declared if missing, kept afterwards); default: a temporary queue, deleted afterwards." };
        var interval = new Option<double>("--interval", "-i") { Description = "Seconds between live lines.", DefaultValueFactory = _ => 1 };
        var quiet = new Option<bool>("--quiet") { Description = "No live lines, only the summary." };
        ack.AcceptOnlyFromAmong("auto", "manual");
        NonNegative(producers, "--producers");
        NonNegative(consumers, "--consumers");
        NonNegative(size, "--size");
        NonNegative(confirm, "--confirm");
        rate.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<double>() is < 0 or double.NaN) r.AddError("--rate must be 0 or more.");
        });
        prefetch.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is < 1 or > ushort.MaxValue) r.AddError("--prefetch must be 1 to 65535.");
        });
        duration.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<double?>() is <= 0) r.AddError("--duration must be positive.");
        });
        count.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<long?>() is < 1) r.AddError("--count must be at least 1.");
        });
        interval.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<double>() is < 0.05 or double.NaN) r.AddError("--interval must be at least 0.05.");
        });

        var command = new Command("perf", "Measure throughput and latency: producers publish to a queue, consumers take from it.")
        {
            producers, consumers, size, rate, confirm, prefetch, ack, duration, count, queue, interval, quiet,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var settings = new PerfSettings
            {
                Producers = parse.GetValue(producers),
                Consumers = parse.GetValue(consumers),
                Size = parse.GetValue(size),
                Rate = parse.GetValue(rate),
                ConfirmWindow = parse.GetValue(confirm),
                Prefetch = (ushort)parse.GetValue(prefetch),
                ManualAck = parse.GetValue(ack) == "manual",
                Duration = parse.GetValue(duration) is { } d ? TimeSpan.FromSeconds(d) : null,
                Count = parse.GetValue(count),
                Queue = parse.GetValue(queue),
                Interval = TimeSpan.FromSeconds(parse.GetValue(interval)),
                Quiet = parse.GetValue(quiet),
            };
            var json = parse.GetValue(context.Options.Json);
            var uri = parse.GetValue(context.Options.Uri)!;
            if (settings.Producers == 0 && settings.Consumers == 0)
            {
                await context.Err.WriteLineAsync("coolamqp: perf needs at least one producer or consumer");
                return Program.UsageError;
            }
            try
            {
                var result = await RunAsync(context, settings, uri, json, cancellationToken);
                if (json) await context.Out.WriteLineAsync(ToJson(result).ToJsonString());
                else WriteSummary(context.Console, result);
                var missing = result.Expected > 0 && result.Received < result.Expected && !result.Interrupted && settings.Duration is null;
                if (missing)
                {
                    await context.Err.WriteLineAsync($"coolamqp: the consumers received {result.Received} of {result.Expected} messages");
                    return Program.BrokerError;
                }
                return Program.Ok;
            }
            catch (Exception e) when (CommandRunner.Describe(e, cancellationToken) is var (code, text))
            {
                await context.Err.WriteLineAsync("coolamqp: " + text);
                return code;
            }
        });
        return command;
    }

    private static void NonNegative(Option<int> option, string name) => option.Validators.Add(r =>
    {
        if (r.GetValueOrDefault<int>() < 0) r.AddError($"{name} must be 0 or more.");
    });

    private static async Task<PerfResult> RunAsync(CliContext context, PerfSettings settings, string uri, bool json,
        CancellationToken cancellationToken)
    {
        var runner = new PerfRunner(settings, uri);
        if (settings.Quiet) return await runner.RunAsync(_ => { }, cancellationToken);
        if (context.Interactive && !json)
        {
            PerfResult? result = null;
            await context.Console.Live(new Text("starting...")).StartAsync(async live =>
            {
                result = await runner.RunAsync(tick =>
                {
                    live.UpdateTarget(new Text(FormatTick(settings, tick)));
                    live.Refresh();
                }, cancellationToken);
            });
            return result!;
        }
        // Not a terminal: one line per interval (on stderr under --json, so stdout stays one JSON document).
        var lines = json ? context.Err : context.Out;
        return await runner.RunAsync(tick =>
        {
            lines.WriteLine(FormatTick(settings, tick));
            lines.Flush();
        }, cancellationToken);
    }

    internal static string FormatTick(PerfSettings s, PerfTick tick)
    {
        var line = Invariant($"time {tick.Elapsed.TotalSeconds,6:0.0} s");
        if (s.Producers > 0) line += Invariant($" | sent {tick.SendRate,10:N0} msg/s");
        if (s.ConfirmWindow > 0) line += Invariant($" | confirmed {tick.ConfirmRate,10:N0} msg/s");
        if (s.Consumers > 0) line += Invariant($" | received {tick.ReceiveRate,10:N0} msg/s");
        if (tick.Latency is { Count: > 0 } l)
        {
            line += $" | latency min/median/p95/p99 {Us(l.Percentile(0))}/{Us(l.Percentile(0.5))}/{Us(l.Percentile(0.95))}/{Us(l.Percentile(0.99))}";
        }
        return line;
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    /// <summary>Microseconds for people: µs below 1 ms, else ms.</summary>
    internal static string Us(double micros) =>
        double.IsNaN(micros) ? "-"
        : micros < 1000 ? Invariant($"{micros:0} µs")
        : micros < 1_000_000 ? Invariant($"{micros / 1000:0.##} ms")
        : Invariant($"{micros / 1_000_000:0.##} s");

    private static void WriteSummary(IAnsiConsole console, PerfResult r)
    {
        var s = r.Settings;
        console.WriteLine(Invariant(
                $"perf: {s.Producers} producer(s), {s.Consumers} consumer(s), {s.Size} B, {(s.ConfirmWindow > 0 ? $"confirms (window {s.ConfirmWindow})" : "no confirms")}, ack {(s.ManualAck ? "manual" : "auto")}, {r.Elapsed.TotalSeconds:0.0} s{(r.Interrupted ? ", interrupted" : "")}"));
        var table = new Table().AddColumns("", "messages", "seconds", "msg/s");
        if (s.Producers > 0)
        {
            table.AddRow("sent" + (r.SendWaitedForQueue ? " (until queued)" : ""), N(r.Sent), Invariant($"{r.SendSeconds:0.000}"), N(r.SendRate));
        }
        if (s.ConfirmWindow > 0)
        {
            table.AddRow(r.Nacked > 0 ? Invariant($"confirmed ({r.Nacked:N0} nacked)") : "confirmed", N(r.Confirmed), "", "");
        }
        if (s.Consumers > 0)
        {
            table.AddRow("received", N(r.Received), Invariant($"{r.ReceiveSeconds:0.000}"), N(r.ReceiveRate));
        }
        console.Write(table);
        if (r.Latency is not null || r.ConfirmLatency is not null)
        {
            var latency = new Table().AddColumns("latency", "count", "min", "median", "p75", "p95", "p99", "p99.9", "max", "mean");
            void Row(string name, LatencyHistogram.Distribution d)
            {
                latency.AddRow(name, N(d.Count), Us(d.Percentile(0)), Us(d.Percentile(0.5)), Us(d.Percentile(0.75)),
                    Us(d.Percentile(0.95)), Us(d.Percentile(0.99)), Us(d.Percentile(0.999)), Us(d.Percentile(1)), Us(d.Mean()));
            }
            if (r.Latency is { } l) Row("publish to delivery", l);
            if (r.ConfirmLatency is { } c) Row("publish to confirm", c);
            console.Write(latency);
        }
        else if (s.Producers > 0 && s.Consumers > 0)
        {
            console.WriteLine(Invariant($"(no latency: bodies under {PerfSettings.StampSize} bytes carry no timestamp)"));
        }
    }

    private static string N(double value) => value.ToString("N0", CultureInfo.InvariantCulture);

    internal static JsonObject ToJson(PerfResult r)
    {
        var s = r.Settings;
        var json = new JsonObject
        {
            ["queue"] = r.Queue,
            ["producers"] = s.Producers,
            ["consumers"] = s.Consumers,
            ["size"] = s.Size,
            ["rate_limit"] = s.Rate,
            ["confirm_window"] = s.ConfirmWindow,
            ["ack"] = s.ManualAck ? "manual" : "auto",
            ["prefetch"] = s.Prefetch,
            ["count"] = s.Count,
            ["duration_limit_seconds"] = s.Duration?.TotalSeconds,
            ["elapsed_seconds"] = Round(r.Elapsed.TotalSeconds),
            ["interrupted"] = r.Interrupted,
            ["sent"] = new JsonObject
            {
                ["messages"] = r.Sent,
                ["seconds"] = Round(r.SendSeconds),
                ["rate"] = Round(r.SendRate),
                ["until_queued"] = r.SendWaitedForQueue,
            },
            ["confirmed"] = s.ConfirmWindow > 0 ? new JsonObject { ["messages"] = r.Confirmed, ["nacked"] = r.Nacked } : null,
            ["received"] = new JsonObject
            {
                ["messages"] = r.Received,
                ["seconds"] = Round(r.ReceiveSeconds),
                ["rate"] = Round(r.ReceiveRate),
            },
            ["latency_us"] = LatencyJson(r.Latency),
            ["confirm_latency_us"] = LatencyJson(r.ConfirmLatency),
        };
        return json;
    }

    private static JsonObject? LatencyJson(LatencyHistogram.Distribution? d)
    {
        if (d is null) return null;
        var json = new JsonObject { ["count"] = d.Count };
        if (d.Count == 0) return json;
        json["min"] = Round(d.Percentile(0));
        json["mean"] = Round(d.Mean());
        foreach (var q in Quantiles)
        {
            json["p" + (q * 100).ToString("0.#", CultureInfo.InvariantCulture).Replace(".", "", StringComparison.Ordinal)] = Round(d.Percentile(q));
        }
        json["max"] = Round(d.Percentile(1));
        return json;
    }

    private static double Round(double value) => Math.Round(value, 3);
}
