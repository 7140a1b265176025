using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Threading;
using System.Threading.Tasks;
using CoolAmqp.Bench.Drivers;

namespace CoolAmqp.Bench;

/// <summary>A client under test with a way to get a fresh driver after a failed run.</summary>
internal sealed class ClientSlot(string key, Func<IClientDriver> factory)
{
    public string Key { get; } = key;
    public Func<IClientDriver> Factory { get; } = factory;
    public IClientDriver? Driver { get; set; }
    public string Name { get; set; } = key;

    /// <summary>The driver's one-sentence description, for the report's legend.</summary>
    public string? Description { get; set; }

    /// <summary>Why this client cannot run (no connection, not in this build); null while it is usable.</summary>
    public string? Unavailable { get; set; }
}

/// <summary>
/// Runs every case of the plan: for each case the warm-up runs per client (alternated too), then the measured runs alternated
/// client by client (A B A B ...), each against its own fresh queue, each checked before it counts.
/// </summary>
internal sealed class Runner(BenchOptions options, BrokerAdmin admin, CountWatcher watcher, IReadOnlyList<ClientSlot> clients)
{
    private readonly string _runId = Guid.NewGuid().ToString("N")[..8];
    private readonly List<RunRecord> _records = [];

    public IReadOnlyList<RunRecord> Records => _records;

    public async Task ConnectAllAsync(CancellationToken cancellationToken)
    {
        foreach (var slot in clients) await ConnectAsync(slot, cancellationToken);
    }

    public async Task RunAsync(IReadOnlyList<BenchCase> plan, CancellationToken cancellationToken)
    {
        foreach (var benchCase in plan)
        {
            Console.WriteLine($"== {benchCase}");
            var warmup = options.WarmupOf(benchCase);
            for (var w = 0; w < options.Warmups; w++)
            {
                foreach (var slot in clients)
                {
                    if (slot.Unavailable is null) await RunOneAsync(slot, warmup, 0, warmup: true, cancellationToken);
                }
            }
            for (var rep = 1; rep <= options.Repetitions; rep++)
            {
                foreach (var slot in clients)
                {
                    if (slot.Unavailable is null) await RunOneAsync(slot, benchCase, rep, warmup: false, cancellationToken);
                }
            }
        }
    }

    private async Task ConnectAsync(ClientSlot slot, CancellationToken cancellationToken)
    {
        var driver = slot.Factory();
        slot.Name = driver.Name;
        slot.Description = driver.Description;
        try
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            cts.CancelAfter(TimeSpan.FromSeconds(30));
            await driver.ConnectAsync(options.Broker, cts.Token);
            slot.Driver = driver;
            // A connected driver may say more (CoolAmqp: the TLS version it negotiated).
            slot.Description = driver.Description;
        }
        catch (Exception e) when (e is not OutOfMemoryException && !cancellationToken.IsCancellationRequested)
        {
            slot.Unavailable = e is DriverUnavailableException ? e.Message : $"could not connect: {e.GetType().Name}: {e.Message}";
            Console.WriteLine($"   {slot.Name}: UNAVAILABLE - {slot.Unavailable}");
            await DisposeQuietlyAsync(driver);
        }
    }

    private async Task RunOneAsync(ClientSlot slot, BenchCase benchCase, int rep, bool warmup, CancellationToken cancellationToken)
    {
        var driver = slot.Driver!;
        var queue = string.Create(CultureInfo.InvariantCulture,
            $"coolamqp-bench-{_runId}-{benchCase.Scenario.Name()}-{benchCase.BodySize}-{slot.Key}-{(warmup ? "w" : rep.ToString(CultureInfo.InvariantCulture))}");
        var label = warmup ? "warm-up" : $"run {rep}/{options.Repetitions}";
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(options.Timeout);
        var token = cts.Token;
        var measurement = new Measurement();
        double? p50 = null, p99 = null;
        int? polls = null;
        string? failure;
        var driverBroken = false;
        admin.Track(queue);
        var brokerCpu = BrokerCpuSampler.TryStart();
        try
        {
            failure = await ExecuteAsync(driver, benchCase, queue, measurement, (a, b) => (p50, p99) = (a, b), p => polls = p, token);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            failure = $"timed out after {options.Timeout.TotalSeconds:0} s";
            driverBroken = true;
        }
        catch (DriverUnavailableException e)
        {
            failure = $"unavailable: {e.Message}";
            slot.Unavailable = e.Message;
        }
        catch (Exception e) when (e is not OutOfMemoryException && !cancellationToken.IsCancellationRequested)
        {
            failure = $"{e.GetType().Name}: {e.Message}";
            driverBroken = true;
        }
        finally
        {
            brokerCpu?.Dispose();
            try
            {
                using var cleanup = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                await admin.DeleteAsync(queue, cleanup.Token);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                Console.Error.WriteLine($"warning: could not delete {queue}: {e.Message}");
            }
        }

        RunRecord record;
        if (failure is null)
        {
            var n = benchCase.Count;
            var broker = brokerCpu?.Between(measurement.StartTimestamp, measurement.EndTimestamp);
            var seconds = measurement.Elapsed.TotalSeconds;
            record = new RunRecord(slot.Name, benchCase.Scenario.Name(), benchCase.BodySize, n, rep, warmup, Ok: true, Failure: null,
                Seconds: seconds,
                MessagesPerSecond: n / seconds,
                CpuMicrosPerMessage: measurement.Cpu.TotalMicroseconds / n,
                AllocatedBytesPerMessage: measurement.AllocatedBytes is { } allocated ? (double)allocated / n : null,
                measurement.Gen0Collections, measurement.Gen2Collections, p50, p99, polls,
                BrokerCpuMicrosPerMessage: broker is { } b ? b.TotalMicroseconds / n : null);
            var allocation = record.AllocatedBytesPerMessage is { } perMessage
                ? string.Create(CultureInfo.InvariantCulture, $"{perMessage,10:N1} B/msg")
                : "   (not counted)";
            var latency = p50 is null ? "" : string.Create(CultureInfo.InvariantCulture, $", p50 {p50:0.0} us, p99 {p99:0.0} us");
            var load = record.BrokerCpuMicrosPerMessage is { } perBroker
                ? string.Create(CultureInfo.InvariantCulture, $", broker {perBroker:0.00} us CPU/msg, {record.CoresBusy:0.00} cores busy")
                : "";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"   {slot.Name,-16} {label,-9} {record.MessagesPerSecond,12:N0} msg/s  {record.CpuMicrosPerMessage,8:0.00} us CPU/msg  {allocation}{latency}{load}"));
        }
        else
        {
            record = new RunRecord(slot.Name, benchCase.Scenario.Name(), benchCase.BodySize, benchCase.Count, rep, warmup, Ok: false,
                failure, 0, 0, 0, 0, 0, 0, null, null, null);
            Console.WriteLine($"   {slot.Name,-16} {label,-9} FAILED: {failure}");
        }
        _records.Add(record);

        if (driverBroken && !cancellationToken.IsCancellationRequested)
        {
            // Whatever state the failed run left behind must not leak into the next one.
            await DisposeQuietlyAsync(driver);
            slot.Driver = null;
            await ConnectAsync(slot, cancellationToken);
        }
    }

    /// <summary>Runs one scenario and checks its result; returns null when the run passed, else why it failed.</summary>
    private async Task<string?> ExecuteAsync(IClientDriver driver, BenchCase benchCase, string queue, Measurement measurement,
        Action<double, double> latencies, Action<int> pollCount, CancellationToken token)
    {
        var n = benchCase.Count;
        var size = benchCase.BodySize;
        var body = Payload.Create(size);
        await driver.DeclareQueueAsync(queue, token);
        switch (benchCase.Scenario)
        {
            case Scenario.Publish:
            {
                Settle();
                var since = Stopwatch.GetTimestamp();
                await driver.PublishAsync(queue, body, n, measurement, token);
                var (seen, polls, seenAt) = await watcher.WaitForCountAsync(queue, n, since, token);
                measurement.StopAt(seenAt);
                await driver.PublishSeenAsync(measurement, token);
                pollCount(polls);
                return Check(measurement) ?? CheckCount(seen, n) ?? await CheckSampleAsync(queue, size, token);
            }
            case Scenario.PublishConfirm:
            {
                Settle();
                await driver.PublishConfirmAsync(queue, body, n, options.MaxUnconfirmed, measurement, token);
                if (Check(measurement) is { } bad) return bad;
                // Every message is confirmed, so the queue holds all of them now.
                return CheckCount(await admin.CountAsync(queue, token), n) ?? await CheckSampleAsync(queue, size, token);
            }
            case Scenario.Consume:
            case Scenario.ConsumeAck:
            {
                await admin.PrefillAsync(queue, body, n, token);
                Settle();
                var manualAck = benchCase.Scenario == Scenario.ConsumeAck;
                var result = await driver.ConsumeAsync(queue, n, manualAck, options.Prefetch, size, measurement, token);
                if (Check(measurement) is { } bad) return bad;
                if (result.Received != n) return $"received {result.Received} messages, expected {n}";
                if (result.WrongBodySize != 0) return $"{result.WrongBodySize} messages had a body size other than {size}";
                // With manual acks, an unacked message goes back to the queue when the consumer's channel closes.
                var left = await admin.CountAsync(queue, token);
                return left == 0 ? null : $"{left} messages left in the queue after consuming (acks lost?)";
            }
            case Scenario.Roundtrip:
            {
                var ticks = new long[n];
                Settle();
                var result = await driver.RoundtripAsync(queue, size, ticks, measurement, token);
                if (Check(measurement) is { } bad) return bad;
                if (result.Completed != n) return $"completed {result.Completed} round trips, expected {n}";
                if (result.Mismatched != 0) return $"{result.Mismatched} replies had the wrong sequence number or size";
                var left = await admin.CountAsync(queue, token);
                if (left != 0) return $"{left} messages left in the queue after the round trips";
                Array.Sort(ticks);
                latencies(Stats.TicksToMicros(Stats.Percentile(ticks, 0.50)), Stats.TicksToMicros(Stats.Percentile(ticks, 0.99)));
                return null;
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(benchCase), benchCase.Scenario, null);
        }
    }

    private static string? Check(Measurement measurement) =>
        !measurement.IsStarted ? "the driver never started the measurement"
        : !measurement.IsStopped ? "the driver never stopped the measurement"
        : !measurement.IsCpuKnown ? "the client never reported its CPU time"
        : null;

    private static string? CheckCount(uint seen, int expected) =>
        seen == expected ? null : string.Create(CultureInfo.InvariantCulture, $"the queue holds {seen} messages, expected {expected}");

    private async Task<string?> CheckSampleAsync(string queue, int size, CancellationToken token)
    {
        var sampled = await admin.SampleBodySizeAsync(queue, token);
        return sampled == size ? null : string.Create(CultureInfo.InvariantCulture, $"a sampled message has {sampled} body bytes, expected {size}");
    }

    // Each run starts from a collected heap so one run's garbage is not collected on the next one's time.
    private static void Settle()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    private static async Task DisposeQuietlyAsync(IClientDriver driver)
    {
        try
        {
            var dispose = driver.DisposeAsync().AsTask();
            await dispose.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Debug.WriteLine($"disposing {driver.Name}: {e.Message}");
        }
    }
}
