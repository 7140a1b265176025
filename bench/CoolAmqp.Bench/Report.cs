using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace CoolAmqp.Bench;

internal sealed record ClientSummary(string Name, string Status, string? Reason);

internal sealed record Metrics(double? MessagesPerSecond, double? CpuMicrosPerMessage, double? AllocatedBytesPerMessage,
    double? P50Micros, double? P99Micros);

internal sealed record ClientCaseResult(string Client, int OkRuns, int FailedRuns, Metrics? Median);

internal sealed record CaseSummary(string Scenario, int BodySize, int Count, IReadOnlyList<ClientCaseResult> Clients, Metrics? Ratio);

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

    /// <summary>Medians over the passed measured runs of each client and case, and their ratio (first client / second).</summary>
    public static IReadOnlyList<CaseSummary> Summarise(IReadOnlyList<BenchCase> plan, IReadOnlyList<string> clients,
        IReadOnlyList<RunRecord> runs)
    {
        var cases = new List<CaseSummary>();
        foreach (var benchCase in plan)
        {
            var perClient = new List<ClientCaseResult>();
            foreach (var client in clients)
            {
                List<double> rate = [], cpu = [], alloc = [], p50 = [], p99 = [];
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
                    alloc.Add(run.AllocatedBytesPerMessage);
                    if (run.P50Micros is { } a) p50.Add(a);
                    if (run.P99Micros is { } b) p99.Add(b);
                }
                var median = ok == 0 ? null : new Metrics(Stats.Median(rate), Stats.Median(cpu), Stats.Median(alloc), Stats.Median(p50), Stats.Median(p99));
                perClient.Add(new ClientCaseResult(client, ok, failed, median));
            }
            Metrics? ratio = null;
            if (perClient.Count == 2 && perClient[0].Median is { } x && perClient[1].Median is { } y)
            {
                ratio = new Metrics(Stats.Ratio(x.MessagesPerSecond, y.MessagesPerSecond), Stats.Ratio(x.CpuMicrosPerMessage, y.CpuMicrosPerMessage),
                    Stats.Ratio(x.AllocatedBytesPerMessage, y.AllocatedBytesPerMessage), Stats.Ratio(x.P50Micros, y.P50Micros),
                    Stats.Ratio(x.P99Micros, y.P99Micros));
            }
            cases.Add(new CaseSummary(benchCase.Scenario.Name(), benchCase.BodySize, benchCase.Count, perClient, ratio));
        }
        return cases;
    }

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public string ToMarkdown()
    {
        var md = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        var names = Clients.Select(c => c.Name).ToList();
        var twoClients = names.Count == 2;
        var ratioName = twoClients ? $"{names[0]} / {names[1]}" : "";

        md.Append(inv, $"### Results {Date}, commit {Commit}{(Dirty ? " (uncommitted changes)" : "")}{(Quick ? ", --quick smoke run" : "")}\n\n");
        md.Append(inv, $"Machine: {Machine.CpuModel}, {Machine.Cores} cores (lscpu); {Machine.Os}; {Machine.Runtime}. ");
        md.Append(inv, $"Broker: {BrokerVersion} at {Broker}, on the same machine.\n\n");
        md.Append(inv, $"Each figure is the median of the measured runs that passed their checks ({Repetitions} per client and case, ");
        md.Append(inv, $"the clients alternated run by run after {Warmups} warm-up run{(Warmups == 1 ? "" : "s")} each{(Quick ? "" : " of the same size")}); client CPU is user + system time of the whole process.");
        if (twoClients) md.Append(inv, $" ratio = {ratioName}: above 1 is better for msg/s, below 1 is better for CPU, allocation and latency.");
        md.Append("\n\n");
        foreach (var c in Clients)
        {
            if (c.Status != "ok") md.Append(inv, $"**{c.Name}: {c.Status}** - {c.Reason}\n\n");
        }

        md.Append("| scenario | body | messages |");
        AppendMetricHeader(md, names, "msg/s", twoClients);
        AppendMetricHeader(md, names, "CPU µs/msg", twoClients);
        AppendMetricHeader(md, names, "alloc B/msg", twoClients);
        md.Append(" runs ok |\n|---|---:|---:|");
        var columns = (names.Count + (twoClients ? 1 : 0)) * 3;
        for (var i = 0; i < columns; i++) md.Append("---:|");
        md.Append("---|\n");
        foreach (var row in Cases)
        {
            md.Append(inv, $"| {row.Scenario} | {Sizes.Format(row.BodySize)} | {row.Count:N0} |");
            AppendMetric(md, row, m => m.MessagesPerSecond, "N0", twoClients, r => r.MessagesPerSecond);
            AppendMetric(md, row, m => m.CpuMicrosPerMessage, "0.00", twoClients, r => r.CpuMicrosPerMessage);
            AppendMetric(md, row, m => m.AllocatedBytesPerMessage, "N0", twoClients, r => r.AllocatedBytesPerMessage);
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
            AppendMetricHeader(md, names, "p50 µs", twoClients);
            AppendMetricHeader(md, names, "p99 µs", twoClients);
            md.Append("\n|---:|---:|");
            for (var i = 0; i < (names.Count + (twoClients ? 1 : 0)) * 2; i++) md.Append("---:|");
            md.Append('\n');
            foreach (var row in roundtrips)
            {
                md.Append(inv, $"| {Sizes.Format(row.BodySize)} | {row.Count:N0} |");
                AppendMetric(md, row, m => m.P50Micros, "N1", twoClients, r => r.P50Micros);
                AppendMetric(md, row, m => m.P99Micros, "N1", twoClients, r => r.P99Micros);
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

    private static void AppendMetricHeader(StringBuilder md, List<string> names, string metric, bool ratio)
    {
        foreach (var name in names) md.Append(CultureInfo.InvariantCulture, $" {name} {metric} |");
        if (ratio) md.Append(" ratio |");
    }

    private static void AppendMetric(StringBuilder md, CaseSummary row, Func<Metrics, double?> select, string format, bool ratio,
        Func<Metrics, double?> selectRatio)
    {
        foreach (var c in row.Clients)
        {
            var value = c.Median is { } m ? select(m) : null;
            var text = value is { } v ? v.ToString(format, CultureInfo.InvariantCulture)
                : c.OkRuns + c.FailedRuns == 0 ? "n/a"
                : c.OkRuns == 0 ? "failed"
                : "-";
            md.Append(CultureInfo.InvariantCulture, $" {text} |");
        }
        if (ratio)
        {
            var r = row.Ratio is { } rm ? selectRatio(rm) : null;
            md.Append(CultureInfo.InvariantCulture, $" {(r is { } x ? FormatRatio(x) : "-")} |");
        }
    }

    // Two decimals, or two significant digits for ratios below 0.1 (0.0003×, not 0.00×).
    private static string FormatRatio(double ratio) =>
        (ratio >= 0.1 ? ratio.ToString("0.00", CultureInfo.InvariantCulture) : ratio.ToString("G2", CultureInfo.InvariantCulture)) + "×";
}
