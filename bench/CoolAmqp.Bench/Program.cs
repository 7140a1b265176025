using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;
using CoolAmqp.Bench;
using CoolAmqp.Bench.Drivers;

// The end-to-end runner: CoolAmqp, RabbitMQ.Client (two confirm modes) and librabbitmq-c against one broker,
// alternated, checked, reported.
if (args.Length == 1 && args[0] == CountWatcher.Argument)
{
    var watched = new Uri(Environment.GetEnvironmentVariable("COOLAMQP_BROKER") ?? BenchOptions.DefaultBroker);
    var watchedCa = Environment.GetEnvironmentVariable(BenchTls.CaVariable);
    return await CountWatcher.RunChildAsync(watched,
        watchedCa is null ? null : BenchTls.Create(watched, watchedCa, Environment.GetEnvironmentVariable));
}

BenchOptions options;
try
{
    options = BenchOptions.Parse(args, Environment.GetEnvironmentVariable("COOLAMQP_BROKER"));
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    Console.Error.WriteLine(BenchOptions.Usage);
    return 2;
}
if (options.Help)
{
    Console.WriteLine(BenchOptions.Usage);
    return 0;
}
using TelemetryListeners? telemetry = options.Otel ? TelemetryListeners.Start() : null;
BenchTls? tls = null;
if (options.Tls)
{
    try
    {
        tls = BenchTls.Create(options.Broker, options.TlsCaFile, Environment.GetEnvironmentVariable);
    }
    catch (ArgumentException e)
    {
        Console.Error.WriteLine(e.Message);
        return 2;
    }
}

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};

var plan = options.Plan();
var brokerShown = Regex.Replace(options.Broker.ToString(), ":[^:@/]*@", ":***@");
var machine = MachineInfo.Detect();
// Read before the run: the binaries measured are the tree as it is now, not after edits made while it runs.
var repoRoot = MachineInfo.FindRepoRoot();
var (commit, dirty) = repoRoot is null ? ("unknown", false) : MachineInfo.Commit(repoRoot);
Console.WriteLine($"CoolAmqp.Bench: {plan.Count} cases x {options.Repetitions} runs per client against {brokerShown}");
Console.WriteLine($"machine: {machine.CpuModel}, {machine.Cores} cores; {machine.Runtime}");
if (tls is not null) Console.WriteLine($"TLS: {tls.Describe()}");

// The C driver is built before any connection (the runner gives a connection 30 s; apt-get may need longer).
string? cBinary = null, cUnavailable = null;
if (options.Clients.Contains(BenchOptions.ClientC) && tls is not null)
{
    cUnavailable = "not run over TLS (the C driver opens plain TCP sockets only)";
}
else if (options.Clients.Contains(BenchOptions.ClientC))
{
    try
    {
        cBinary = await LibRabbitMqCDriver.BuildAsync(stop.Token);
        Console.WriteLine($"librabbitmq-c driver: {cBinary}");
    }
    catch (DriverUnavailableException e)
    {
        cUnavailable = e.Message;
    }
}
var slots = new List<ClientSlot>();
foreach (var client in options.Clients)
{
    slots.Add(new ClientSlot(client, client switch
    {
        BenchOptions.ClientCoolAmqp => () => new CoolAmqpDriver(tls),
        BenchOptions.ClientRabbitMq => () => new RabbitMqClientDriver(untrackedConfirms: false, tls),
        BenchOptions.ClientRabbitMqFast => () => new RabbitMqClientDriver(untrackedConfirms: true, tls),
        BenchOptions.ClientC => () => new LibRabbitMqCDriver(cBinary, cUnavailable),
        _ => throw new InvalidOperationException($"No driver for client '{client}'."),
    }));
}

await using var admin = new BrokerAdmin(tls);
Runner runner;
CountWatcher? watcher = null;
try
{
    using var connect = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
    connect.CancelAfter(TimeSpan.FromSeconds(30));
    await admin.ConnectAsync(options.Broker, connect.Token);
    Console.WriteLine($"broker: {admin.BrokerVersion}");
    watcher = await CountWatcher.StartAsync(options.Broker, tls, connect.Token);
    runner = new Runner(options, admin, watcher, slots);
    await runner.ConnectAllAsync(stop.Token);
    await runner.RunAsync(plan, stop.Token);
}
catch (OperationCanceledException) when (stop.IsCancellationRequested)
{
    Console.Error.WriteLine("interrupted; deleting the queues of this run");
    await admin.DeleteAllAsync();
    return 130;
}
catch (Exception e) when (e is not OutOfMemoryException)
{
    Console.Error.WriteLine($"the runner failed: {e}");
    await admin.DeleteAllAsync();
    return 1;
}
finally
{
    foreach (var slot in slots)
    {
        if (slot.Driver is { } driver) await driver.DisposeAsync();
    }
    if (watcher is not null) await watcher.DisposeAsync();
}
await admin.DeleteAllAsync();

var clientSummaries = new List<ClientSummary>();
var clientNames = new List<string>();
foreach (var slot in slots)
{
    clientNames.Add(slot.Name);
    clientSummaries.Add(new ClientSummary(slot.Name, slot.Unavailable is null ? "ok" : "unavailable", slot.Unavailable, slot.Description));
}
var date = DateTime.UtcNow.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
var report = new BenchReport(date, commit, dirty, machine, brokerShown, admin.BrokerVersion, options.Quick, options.Repetitions, options.Warmups,
    options.MaxUnconfirmed, options.Prefetch, tls?.Describe(), clientSummaries, BenchReport.Summarise(plan, clientNames, runner.Records), runner.Records);
var markdown = report.ToMarkdown();
Console.WriteLine();
Console.WriteLine(markdown);

if (options.Save)
{
    var outDir = options.OutputDirectory ?? (repoRoot is null ? "results" : Path.Combine(repoRoot, "bench", "results"));
    Directory.CreateDirectory(outDir);
    var stem = Path.Combine(outDir, $"{date}-{commit}{(tls is null ? "" : "-tls")}{(options.Quick ? "-quick" : "")}");
    await File.WriteAllTextAsync(stem + ".json", report.ToJson());
    await File.WriteAllTextAsync(stem + ".md", markdown);
    Console.WriteLine($"wrote {stem}.json and {stem}.md");
}
if (options.UpdateReadme)
{
    if (repoRoot is null)
    {
        Console.Error.WriteLine("--update-readme: no CoolAmqp.sln above the working directory; README not updated");
    }
    else
    {
        var readme = Path.Combine(repoRoot, "bench", "README.md");
        BenchReport.UpdateReadme(readme, markdown);
        Console.WriteLine($"updated {readme}");
    }
}

var failed = 0;
foreach (var run in runner.Records)
{
    if (!run.Ok && !run.Failure!.StartsWith("unavailable", StringComparison.Ordinal)) failed++;
}
if (failed > 0)
{
    Console.Error.WriteLine($"{failed} runs failed their checks");
    return 1;
}
if (options.RequireAll && slots.Exists(s => s.Unavailable is not null))
{
    Console.Error.WriteLine("a client was unavailable (--require-all)");
    return 1;
}
return 0;
