// Soak: confirmed publishing and consuming across a three-node RabbitMQ cluster for a long time while a chaos loop
// closes connections, restarts nodes and raises memory alarms. Checks that nothing confirmed is lost, that no task
// hangs, and that memory and threads stay flat. Run by `dotnet cake --target=Soak` (README, "When things fail").
//   dotnet run --project tools/CoolAmqp.Soak -c Release -- [--minutes 10] [--republish true|false] [--seed N]
// Needs COOLAMQP_CLUSTER (the nodes' URIs, comma-separated) and COOLAMQP_CLUSTER_NODES (their Erlang names, for
// rabbitmqctl), as tools/broker.sh env-cluster prints them.
using System;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using CoolAmqp;
using CoolAmqp.Framing;

double minutes = 10;
bool republish = true;
int seed = Environment.TickCount;
for (int i = 0; i < args.Length; i++)
{
    string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
    switch (args[i])
    {
        case "--minutes": minutes = double.Parse(Value(), CultureInfo.InvariantCulture); break;
        case "--republish": republish = bool.Parse(Value()); break;
        case "--seed": seed = int.Parse(Value(), CultureInfo.InvariantCulture); break;
        default: throw new ArgumentException($"Unknown argument {args[i]}.");
    }
}

string uris = Environment.GetEnvironmentVariable("COOLAMQP_CLUSTER") ??
    throw new InvalidOperationException("COOLAMQP_CLUSTER is not set (tools/broker.sh cluster 3, then env-cluster).");
string[] nodeNames = (Environment.GetEnvironmentVariable("COOLAMQP_CLUSTER_NODES") ??
    throw new InvalidOperationException("COOLAMQP_CLUSTER_NODES is not set.")).Split(',');

const int Window = 1000;
const int Capacity = 20_000_000;
TimeSpan duration = TimeSpan.FromMinutes(minutes);
var clock = Stopwatch.StartNew();
void Say(string what) => Console.WriteLine(FormattableString.Invariant($"[{clock.Elapsed:hh\\:mm\\:ss}] {what}"));

var recovery = new RecoveryOptions
{
    InitialDelay = TimeSpan.FromMilliseconds(100),
    MaxDelay = TimeSpan.FromSeconds(2),
    ConnectionWaitTimeout = TimeSpan.FromSeconds(60),
    RepublishUnconfirmed = republish,
};
var publisherOptions = new ClusterOptions { Name = "soak-publisher", Recovery = recovery, BlockedPublishTimeout = TimeSpan.FromSeconds(60) };
var consumerOptions = new ClusterOptions { Name = "soak-consumer", Recovery = recovery };
var queue = new Queue($"soak-{Guid.NewGuid():N}", durable: true, arguments: new FieldTable { ["x-queue-type"] = "quorum" });

var outcome = new byte[Capacity]; // 0 pending, 1 confirmed, 2 failed
var consumed = new byte[Capacity];
var failures = new ConcurrentDictionary<string, int>();
var events = new ConcurrentDictionary<string, int>();
var chaosDone = new ConcurrentDictionary<string, int>();
long published = 0, confirmed = 0, failed = 0, deliveries = 0;
TimeSpan longestDowntime = TimeSpan.Zero;

await using var publisher = new Cluster(uris, publisherOptions);
await using var subscriber = new Cluster(uris, consumerOptions);
await publisher.StartAsync(timeout: TimeSpan.FromSeconds(60));
await subscriber.StartAsync(timeout: TimeSpan.FromSeconds(60));
await publisher.DeclareAsync(queue, persistent: true);
using var stop = new CancellationTokenSource();

async Task CountEventsAsync(Cluster cluster, string who)
{
    try
    {
        await foreach (ClusterEvent e in cluster.ReadEventsAsync(stop.Token))
        {
            events.AddOrUpdate($"{who} {e.GetType().Name}", 1, (_, n) => n + 1);
            if (e is Reconnected back && back.Downtime > longestDowntime)
            {
                longestDowntime = back.Downtime;
            }
        }
    }
    catch (OperationCanceledException)
    {
    }
}

Task publisherEvents = CountEventsAsync(publisher, "publisher");
Task subscriberEvents = CountEventsAsync(subscriber, "consumer");

var (consumer, ready) = subscriber.Consume(queue, new ConsumerOptions
{
    NoAck = false,
    PrefetchCount = 1000,
    DeclareQueue = false,
    OnMessage = message =>
    {
        int id = BinaryPrimitives.ReadInt32LittleEndian(message.Body.Span);
        if (consumed[id] < byte.MaxValue)
        {
            Interlocked.Increment(ref deliveries);
            consumed[id]++;
        }

        message.Ack();
    },
});
await ready.WaitAsync(TimeSpan.FromSeconds(60));

// The chaos loop: every 5 to 15 s, one of: every connection of a node closed by the broker, a node stopped for a few
// seconds and started again, a memory alarm on a node for a few seconds (publishing blocks cluster-wide).
var random = new Random(seed);
Task chaos = Task.Run(async () =>
{
    while (!stop.IsCancellationRequested)
    {
        try
        {
            await Task.Delay(random.Next(5000, 15000), stop.Token);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        string node = nodeNames[random.Next(nodeNames.Length)];
        int what = random.Next(3);
        string action = what switch { 0 => "close_all_connections", 1 => "restart", _ => "memory_alarm" };
        chaosDone.AddOrUpdate(action, 1, (_, n) => n + 1);
        Say($"chaos: {action} on {node}");
        switch (what)
        {
            case 0:
                await CtlAsync(node, "close_all_connections", "soak chaos");
                break;
            case 1:
                await CtlAsync(node, "stop_app");
                await Task.Delay(random.Next(2000, 8000));
                await CtlAsync(node, "start_app");
                await CtlAsync(node, "await_startup");
                break;
            default:
                await CtlAsync(node, "set_vm_memory_high_watermark", "0");
                await Task.Delay(random.Next(1000, 5000));
                await CtlAsync(node, "set_vm_memory_high_watermark", "0.4");
                break;
        }
    }
});

// The churn loop: over and over, a quorum queue declared (persistent), consumed, published to, the message received,
// the consumer cancelled and the queue deleted, all on the same two clusters while the chaos goes on. Each step may
// fail (typed) while a node is away; none may hang.
int churnOk = 0, churnHung = 0;
var churnFailures = new ConcurrentDictionary<string, int>();
var churnRandom = new Random(seed + 1);
Task churn = Task.Run(async () =>
{
    for (int n = 0; !stop.IsCancellationRequested; n++)
    {
        var temporary = new Queue($"{queue.Name}-churn-{n}", durable: true, arguments: new FieldTable { ["x-queue-type"] = "quorum" });
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        try
        {
            await subscriber.DeclareAsync(temporary, persistent: true, cancellationToken: bound.Token);
            var got = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var (churned, churnReady) = subscriber.Consume(temporary, new ConsumerOptions
            {
                DeclareQueue = false,
                OnMessage = _ => got.TrySetResult(),
            });
            await churnReady.WaitAsync(bound.Token);
            await publisher.PublishAsync(new Message("churn"u8.ToArray()), routingKey: temporary.Name, confirm: true,
                cancellationToken: bound.Token);
            await got.Task.WaitAsync(bound.Token);
            await churned.CancelAsync(bound.Token);
            await subscriber.DeleteQueueAsync(temporary, cancellationToken: bound.Token);
            Interlocked.Increment(ref churnOk);
        }
        catch (OperationCanceledException) when (bound.IsCancellationRequested)
        {
            Interlocked.Increment(ref churnHung);
            Say($"churn {n}: a step took over 120 s");
        }
#pragma warning disable CA1031 // Every failure is counted by its kind.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            churnFailures.AddOrUpdate(ex.GetType().Name, 1, (_, c) => c + 1);
            try
            {
                await subscriber.DeleteQueueAsync(temporary);
            }
#pragma warning disable CA1031 // Best effort: the queue may be gone, or the node still away.
            catch (Exception)
#pragma warning restore CA1031
            {
            }
        }

        try
        {
            await Task.Delay(churnRandom.Next(500, 2000), stop.Token);
        }
        catch (OperationCanceledException)
        {
            return;
        }
    }
});

var memory = new List<string>();
void Sample(string when)
{
    GC.Collect();
    long heap = GC.GetTotalMemory(forceFullCollection: true);
    using Process self = Process.GetCurrentProcess();
    memory.Add(FormattableString.Invariant($"{when}: heap {heap / 1048576.0:0.0} MiB, working set {self.WorkingSet64 / 1048576.0:0} MiB, {self.Threads.Count} threads"));
}

using var inFlight = new SemaphoreSlim(Window);
var lastReport = TimeSpan.Zero;
int next = 0;
Sample("after 0 s");
while (clock.Elapsed < duration && next < Capacity)
{
    await inFlight.WaitAsync();
    int id = next++;
    _ = PublishOneAsync(id);
    if (clock.Elapsed - lastReport > TimeSpan.FromSeconds(30))
    {
        lastReport = clock.Elapsed;
        Say(FormattableString.Invariant(
            $"published {Interlocked.Read(ref published)}, confirmed {Interlocked.Read(ref confirmed)}, failed {Interlocked.Read(ref failed)}, delivered {Interlocked.Read(ref deliveries)}; connected to {publisher.ConnectedNode?.Port.ToString(CultureInfo.InvariantCulture) ?? "none"}"));
        if (memory.Count == 1 && clock.Elapsed > TimeSpan.FromMinutes(1))
        {
            Sample("after 1 min");
        }
    }
}

async Task PublishOneAsync(int id)
{
    byte[] body = new byte[256];
    BinaryPrimitives.WriteInt32LittleEndian(body, id);
    var message = new Message(body, new MessageProperties
    {
        DeliveryMode = DeliveryModes.Persistent,
        MessageId = id.ToString(CultureInfo.InvariantCulture),
    });
    Interlocked.Increment(ref published);
    try
    {
        await publisher.PublishAsync(message, routingKey: queue.Name, confirm: true);
        Volatile.Write(ref outcome[id], 1);
        Interlocked.Increment(ref confirmed);
    }
#pragma warning disable CA1031 // Every failure is counted by its kind.
    catch (Exception ex)
#pragma warning restore CA1031
    {
        Volatile.Write(ref outcome[id], 2);
        Interlocked.Increment(ref failed);
        failures.AddOrUpdate(ex.GetType().Name, 1, (_, n) => n + 1);
    }
    finally
    {
        inFlight.Release();
    }
}

int total = next;
TimeSpan publishing = clock.Elapsed;
stop.Cancel();
await chaos;
await churn;
foreach (string node in nodeNames)
{
    // A restart the loop was in the middle of is finished; start_app of a running node does nothing.
    await CtlAsync(node, "start_app");
    await CtlAsync(node, "set_vm_memory_high_watermark", "0.4");
}

bool hung = false;
var drained = Stopwatch.StartNew();
while (Interlocked.Read(ref confirmed) + Interlocked.Read(ref failed) < total)
{
    if (drained.Elapsed > TimeSpan.FromMinutes(2))
    {
        hung = true;
        break;
    }

    await Task.Delay(200);
}

int Missing() => Enumerable.Range(0, total).Count(i => Volatile.Read(ref outcome[i]) == 1 && Volatile.Read(ref consumed[i]) == 0);
var caughtUp = Stopwatch.StartNew();
while (Missing() > 0 && caughtUp.Elapsed < TimeSpan.FromMinutes(2))
{
    await Task.Delay(500);
}

Sample("at the end");
int lost = Missing();
int pending = Enumerable.Range(0, total).Count(i => Volatile.Read(ref outcome[i]) == 0);
int duplicated = Enumerable.Range(0, total).Count(i => consumed[i] > 1);
int failedButConsumed = Enumerable.Range(0, total).Count(i => outcome[i] == 2 && consumed[i] > 0);
await consumer.CancelAsync();
await publisher.DeleteQueueAsync(queue);

Say(FormattableString.Invariant($"soak: {publishing.TotalMinutes:0.0} min of publishing (seed {seed}, republish {republish})"));
Say(FormattableString.Invariant($"  published {total}, confirmed {confirmed}, failed {failed} ({string.Join(", ", failures.Select(f => $"{f.Key} {f.Value}"))}), never completed {pending}"));
Say(FormattableString.Invariant($"  lost (confirmed, never consumed) {lost}, consumed twice or more {duplicated}, failed but consumed {failedButConsumed}"));
Say($"  churn cycles (declare, consume, publish, receive, cancel, delete): {churnOk} ok, {churnHung} hung, failed {string.Join(", ", churnFailures.Select(f => $"{f.Key} {f.Value}"))}");
Say($"  chaos: {string.Join(", ", chaosDone.OrderBy(c => c.Key).Select(c => $"{c.Key} {c.Value}"))}");
Say($"  events: {string.Join(", ", events.OrderBy(e => e.Key).Select(e => $"{e.Key} {e.Value}"))}");
Say(FormattableString.Invariant($"  longest downtime {longestDowntime.TotalSeconds:0.0} s"));
foreach (string sample in memory)
{
    Say($"  {sample}");
}

stop.Cancel();
await publisherEvents;
await subscriberEvents;
bool failedSoak = lost > 0 || hung || pending > 0 || churnHung > 0 || (republish && failed > 0);
Say(failedSoak ? "SOAK FAILED" : "soak passed");
return failedSoak ? 1 : 0;

static async Task CtlAsync(string node, params string[] args)
{
    var start = new ProcessStartInfo("rabbitmqctl") { RedirectStandardOutput = true, RedirectStandardError = true };
    start.ArgumentList.Add("-q");
    start.ArgumentList.Add("-n");
    start.ArgumentList.Add(node);
    foreach (string arg in args)
    {
        start.ArgumentList.Add(arg);
    }

    using Process process = Process.Start(start) ?? throw new InvalidOperationException("rabbitmqctl did not start.");
    Task<string> error = process.StandardError.ReadToEndAsync();
    await process.StandardOutput.ReadToEndAsync();
    await process.WaitForExitAsync();
    if (process.ExitCode != 0)
    {
        Console.WriteLine($"rabbitmqctl -n {node} {string.Join(' ', args)}: exit {process.ExitCode}: {(await error).Trim()}");
    }
}
