using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace CoolAmqp.Bench;

internal sealed record ClientSummary(string Name, string Status, string? Reason, string? Description);

internal sealed record Metrics(double? MessagesPerSecond, double? CpuMicrosPerMessage, double? AllocatedBytesPerMessage,
    double? P50Micros, double? P99Micros, double? BrokerCpuMicrosPerMessage = null, double? CoresBusy = null);

internal sealed record ClientCaseResult(string Client, int OkRuns, int FailedRuns, Metrics? Median);

/// <summary>The first client's medians divided by another client's, in one case of one invocation.</summary>
internal sealed record ClientRatio(string Client, string Against, Metrics Ratio);

internal sealed record CaseSummary(string Scenario, int BodySize, int Count, IReadOnlyList<ClientCaseResult> Clients,
    IReadOnlyList<ClientRatio> Ratios);

/// <summary>Everything one invocation measured; serialised as the results JSON.</summary>
internal sealed record BenchReport(
    string Date,
    string Commit,
    bool Dirty,
    MachineInfo Machine,
    string Broker,
    string BrokerVersion,
    bool Quick,
    int Repetitions,
    int Warmups,
    int MaxUnconfirmed,
    int Prefetch,
    string? Tls,
    IReadOnlyList<ClientSummary> Clients,
    IReadOnlyList<CaseSummary> Cases,
    IReadOnlyList<RunRecord> Runs)
{
    public const string ReadmeSection = "## End-to-end runner";
    public const string ReadmeBegin = "<!-- e2e-results:begin -->";
    public const string ReadmeEnd = "<!-- e2e-results:end -->";

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Medians over the passed measured runs of each client and case, and the first client's ratio to each other one.</summary>
    public static IReadOnlyList<CaseSummary> Summarise(IReadOnlyList<BenchCase> plan, IReadOnlyList<string> clients,
        IReadOnlyList<RunRecord> runs)
    {
        var cases = new List<CaseSummary>();
        foreach (var benchCase in plan)
        {
            var perClient = new List<ClientCaseResult>();
            foreach (var client in clients)
            {
                List<double> rate = [], cpu = [], alloc = [], p50 = [], p99 = [], broker = [], busy = [];
                int ok = 0, failed = 0;
                foreach (var run in runs)
                {
                    if (run.Warmup || run.Client != client || run.Scenario != benchCase.Scenario.Name() || run.BodySize != benchCase.BodySize) continue;
                    if (!run.Ok)
                    {
                        failed++;
                        continue;
                    }
                    ok++;
                    rate.Add(run.MessagesPerSecond);
                    cpu.Add(run.CpuMicrosPerMessage);
                    if (run.AllocatedBytesPerMessage is { } allocated) alloc.Add(allocated);
                    if (run.P50Micros is { } a) p50.Add(a);
                    if (run.P99Micros is { } b) p99.Add(b);
                    if (run.BrokerCpuMicrosPerMessage is { } c) broker.Add(c);
                    if (run.CoresBusy is { } d) busy.Add(d);
                }
                var median = ok == 0 ? null : new Metrics(Stats.Median(rate), Stats.Median(cpu), Stats.Median(alloc), Stats.Median(p50), Stats.Median(p99),
                    Stats.Median(broker), Stats.Median(busy));
                perClient.Add(new ClientCaseResult(client, ok, failed, median));
            }
            // The first client (CoolAmqp unless --clients says otherwise) against every other measured in this invocation.
            var ratios = new List<ClientRatio>();
            if (perClient.Count > 0 && perClient[0].Median is { } x)
            {
                for (var i = 1; i < perClient.Count; i++)
                {
                    if (perClient[i].Median is not { } y) continue;
                    ratios.Add(new ClientRatio(perClient[0].Client, perClient[i].Client, new Metrics(
                        Stats.Ratio(x.MessagesPerSecond, y.MessagesPerSecond), Stats.Ratio(x.CpuMicrosPerMessage, y.CpuMicrosPerMessage),
                        Stats.Ratio(x.AllocatedBytesPerMessage, y.AllocatedBytesPerMessage), Stats.Ratio(x.P50Micros, y.P50Micros),
                        Stats.Ratio(x.P99Micros, y.P99Micros), Stats.Ratio(x.BrokerCpuMicrosPerMessage, y.BrokerCpuMicrosPerMessage))));
                }
            }
            cases.Add(new CaseSummary(benchCase.Scenario.Name(), benchCase.BodySize, benchCase.Count, perClient, ratios));
        }
        return cases;
    }

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public string ToMarkdown()
    {
        var md = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        var names = Clients.Select(c => c.Name).ToList();
        var others = names.Skip(1).ToList();
        // Allocation columns only for clients whose allocations are counted (not the C driver's).
        var withAllocations = names.Where(n => Cases.Any(c => c.Clients.Any(r => r.Client == n && r.Median?.AllocatedBytesPerMessage is not null))).ToList();

        md.Append(inv, $"### Results {Date}, commit {Commit}{(Dirty ? " (uncommitted changes)" : "")}{(Tls is null ? "" : ", over TLS")}{(Quick ? ", --quick smoke run" : "")}\n\n");
        md.Append(inv, $"Machine: {Machine.CpuModel}, {Machine.Cores} cores (lscpu); {Machine.Os}; {Machine.Runtime}. ");
        md.Append(inv, $"Broker: {BrokerVersion} at {Broker}, on the same machine.\n\n");
        if (Tls is not null) md.Append(inv, $"**Over TLS**: {Tls}.\n\n");
        md.Append(inv, $"Each figure is the median of the measured runs that passed their checks ({Repetitions} per client and case, ");
        md.Append(inv, $"the clients alternated run by run after {Warmups} warm-up run{(Warmups == 1 ? "" : "s")} each{(Quick ? "" : " of the same size")}); client CPU is user + system time of the whole client process.");
        if (others.Count > 0)
        {
            md.Append(inv, $" \"vs X\" = {names[0]} / X, measured in this invocation: msg/s ratio · CPU-per-message ratio (round trips: p50 ratio · p99 ratio); ");
            md.Append("above 1 is better for msg/s, below 1 is better for CPU and latency.");
        }
        md.Append("\n\n");
        foreach (var c in Clients)
        {
            md.Append(inv, $"- **{c.Name}**: {c.Description ?? "no description"}{(c.Status == "ok" ? "" : $". **{c.Status}**: {c.Reason}")}\n");
        }
        md.Append('\n');

        md.Append("| scenario | body | messages |");
        foreach (var name in names) md.Append(inv, $" {name} msg/s |");
        foreach (var name in names) md.Append(inv, $" {name} CPU µs/msg |");
        foreach (var name in withAllocations) md.Append(inv, $" {name} alloc B/msg |");
        foreach (var name in others) md.Append(inv, $" vs {name} |");
        md.Append(" runs ok |\n|---|---:|---:|");
        for (var i = 0; i < names.Count * 2 + withAllocations.Count + others.Count; i++) md.Append("---:|");
        md.Append("---|\n");
        foreach (var row in Cases)
        {
            md.Append(inv, $"| {row.Scenario} | {Sizes.Format(row.BodySize)} | {row.Count:N0} |");
            AppendMetric(md, row, names, m => m.MessagesPerSecond, "N0");
            AppendMetric(md, row, names, m => m.CpuMicrosPerMessage, "0.00");
            AppendMetric(md, row, withAllocations, m => m.AllocatedBytesPerMessage, "N0");
            AppendRatios(md, row, others, r => r.MessagesPerSecond, r => r.CpuMicrosPerMessage);
            md.Append(' ');
            for (var i = 0; i < row.Clients.Count; i++)
            {
                var c = row.Clients[i];
                var runs = c.OkRuns + c.FailedRuns;
                md.Append(inv, $"{(i > 0 ? " · " : "")}{(runs == 0 ? "n/a" : $"{c.OkRuns}/{runs}")}");
            }
            md.Append(" |\n");
        }

        var roundtrips = Cases.Where(c => c.Scenario == Scenario.Roundtrip.Name()).ToList();
        if (roundtrips.Count > 0)
        {
            md.Append("\nRound-trip latency (publish on one channel, receive on another channel of the same connection):\n\n| body | round trips |");
            foreach (var name in names) md.Append(inv, $" {name} p50 µs |");
            foreach (var name in names) md.Append(inv, $" {name} p99 µs |");
            foreach (var name in others) md.Append(inv, $" vs {name} |");
            md.Append("\n|---:|---:|");
            for (var i = 0; i < names.Count * 2 + others.Count; i++) md.Append("---:|");
            md.Append('\n');
            foreach (var row in roundtrips)
            {
                md.Append(inv, $"| {Sizes.Format(row.BodySize)} | {row.Count:N0} |");
                AppendMetric(md, row, names, m => m.P50Micros, "N1");
                AppendMetric(md, row, names, m => m.P99Micros, "N1");
                AppendRatios(md, row, others, r => r.P50Micros, r => r.P99Micros);
                md.Append('\n');
            }
        }

        if (Cases.Any(c => c.Clients.Any(r => r.Median?.BrokerCpuMicrosPerMessage is not null)))
        {
            md.Append("\nBroker CPU (every RabbitMQ node on this machine, user + system, over the same interval) per message, and cores busy ");
            md.Append(inv, $"(client + broker CPU time over wall time; this machine has {Machine.Cores}):\n\n| scenario | body |");
            foreach (var name in names) md.Append(inv, $" {name} broker µs/msg |");
            foreach (var name in names) md.Append(inv, $" {name} cores busy |");
            md.Append("\n|---|---:|");
            for (var i = 0; i < names.Count * 2; i++) md.Append("---:|");
            md.Append('\n');
            foreach (var row in Cases)
            {
                md.Append(inv, $"| {row.Scenario} | {Sizes.Format(row.BodySize)} |");
                AppendMetric(md, row, names, m => m.BrokerCpuMicrosPerMessage, "0.00");
                AppendMetric(md, row, names, m => m.CoresBusy, "0.00");
                md.Append('\n');
            }
        }

        var failures = Runs.Where(r => !r.Ok && !r.Failure!.StartsWith("unavailable", StringComparison.Ordinal)).ToList();
        if (failures.Count > 0)
        {
            md.Append("\nFailed runs (not in the medians):\n\n");
            foreach (var run in failures)
            {
                md.Append(inv, $"- {run.Scenario} {Sizes.Format(run.BodySize)}, {run.Client}, {(run.Warmup ? "warm-up" : $"run {run.Repetition}")}: {run.Failure}\n");
            }
        }
        return md.ToString();
    }

    /// <summary>
    /// Replaces the results block of the "## End-to-end runner" section of bench/README.md (between the markers),
    /// adding the markers at the end of that section, or the section itself, when missing. Nothing else is touched.
    /// </summary>
    public static void UpdateReadme(string path, string markdown)
    {
        var block = $"{ReadmeBegin}\n{markdown.TrimEnd()}\n{ReadmeEnd}";
        var text = File.Exists(path) ? File.ReadAllText(path).Replace("\r\n", "\n", StringComparison.Ordinal) : "";
        var begin = text.IndexOf(ReadmeBegin, StringComparison.Ordinal);
        var end = text.IndexOf(ReadmeEnd, StringComparison.Ordinal);
        if (begin >= 0 && end > begin)
        {
            text = string.Concat(text.AsSpan(0, begin), block, text.AsSpan(end + ReadmeEnd.Length));
        }
        else
        {
            var section = text.IndexOf(ReadmeSection, StringComparison.Ordinal);
            if (section < 0)
            {
                text = text.TrimEnd() + (text.Length > 0 ? "\n\n" : "") + ReadmeSection + "\n\n" + block + "\n";
            }
            else
            {
                var next = text.IndexOf("\n## ", section + ReadmeSection.Length, StringComparison.Ordinal);
                var insertAt = next < 0 ? text.Length : next + 1;
                var before = text[..insertAt].TrimEnd();
                text = before + "\n\n" + block + "\n" + (next < 0 ? "" : "\n" + text[insertAt..]);
            }
        }
        File.WriteAllText(path, text);
    }

    private static void AppendMetric(StringBuilder md, CaseSummary row, List<string> clients, Func<Metrics, double?> select, string format)
    {
        foreach (var client in clients)
        {
            var c = row.Clients.FirstOrDefault(r => r.Client == client);
            var value = c?.Median is { } m ? select(m) : null;
            var text = value is { } v ? v.ToString(format, CultureInfo.InvariantCulture)
                : c is null || c.OkRuns + c.FailedRuns == 0 ? "n/a"
                : c.OkRuns == 0 ? "failed"
                : "-";
            md.Append(CultureInfo.InvariantCulture, $" {text} |");
        }
    }

    // One cell per other client: two ratios of the first client to it, "1.12× · 0.80×".
    private static void AppendRatios(StringBuilder md, CaseSummary row, List<string> others, Func<Metrics, double?> first,
        Func<Metrics, double?> second)
    {
        foreach (var other in others)
        {
            var ratio = row.Ratios.FirstOrDefault(r => r.Against == other)?.Ratio;
            var a = ratio is null ? null : first(ratio);
            var b = ratio is null ? null : second(ratio);
            md.Append(CultureInfo.InvariantCulture, $" {(a is { } x ? FormatRatio(x) : "-")} · {(b is { } y ? FormatRatio(y) : "-")} |");
        }
    }

    // Two decimals, or two significant digits for ratios below 0.1 (0.0003×, not 0.00×).
    private static string FormatRatio(double ratio) =>
        (ratio >= 0.1 ? ratio.ToString("0.00", CultureInfo.InvariantCulture) : ratio.ToString("G2", CultureInfo.InvariantCulture)) + "×";
}
