using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Security.Cryptography;
using System.Threading;
using System.Threading.Tasks;
using CoolAmqp.Cli.Commands;

namespace CoolAmqp.Cli.Perf;

/// <summary>
/// One perf run: producers and consumers, each on a connection of its own (as PerfTest gives each its own), on one
/// queue through the default exchange. Producers stamp each body with the run's id and the send time, so a consumer
/// measures publish-to-delivery latency for this run's messages (bodies of 16 bytes and more).
/// </summary>
internal sealed class PerfRunner
{
    private readonly PerfSettings _settings;
    private readonly string _uri;
    private readonly long _runId = BitConverter.ToInt64(RandomNumberGenerator.GetBytes(8));
    private readonly LatencyHistogram _latency = new();
    private readonly LatencyHistogram _confirmLatency = new();
    private readonly ProducerState[] _producers;
    private readonly ConsumerState[] _consumers;
    private readonly TaskCompletionSource _allReceived = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _received;
    private long _expected = -1; // messages the consumers wait for; -1 while unknown

    public PerfRunner(PerfSettings settings, string uri)
    {
        _settings = settings;
        _uri = uri;
        _producers = Enumerable.Range(0, settings.Producers).Select(_ => new ProducerState()).ToArray();
        _consumers = Enumerable.Range(0, settings.Consumers).Select(_ => new ConsumerState()).ToArray();
    }

    /// <summary>Runs; <paramref name="onTick"/> gets the live figures every interval. <paramref name="cancellationToken"/>
    /// (Ctrl+C) ends the run early but still returns its result.</summary>
    public async Task<PerfResult> RunAsync(Action<PerfTick> onTick, CancellationToken cancellationToken)
    {
        var s = _settings;
        var clusters = new List<Cluster>();
        Cluster? admin = null;
        string? ownedQueue = null;
        try
        {
            admin = await CommandRunner.ConnectAsync(_uri, "coolamqp perf", cancellationToken);
            var queueName = s.Queue ?? $"coolamqp-perf-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}";
            var initial = await DeclareQueueAsync(admin, queueName, cancellationToken);
            if (s.Queue is null) ownedQueue = queueName;

            var connects = new List<Task<Cluster>>();
            for (var i = 0; i < s.Producers; i++) connects.Add(CommandRunner.ConnectAsync(_uri, $"coolamqp perf producer {i + 1}", cancellationToken));
            for (var i = 0; i < s.Consumers; i++) connects.Add(CommandRunner.ConnectAsync(_uri, $"coolamqp perf consumer {i + 1}", cancellationToken));
            try
            {
                await Task.WhenAll(connects);
            }
            finally
            {
                foreach (var c in connects)
                {
                    if (c.IsCompletedSuccessfully) clusters.Add(c.Result);
                }
            }

            if (s.Producers == 0 && s.Count is { } toConsume) _expected = toConsume;
            else if (s.Count is { } perProducer && s.Consumers > 0) _expected = perProducer * s.Producers;

            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var queue = new Queue(queueName);
            var startedAt = Stopwatch.GetTimestamp();

            // Consumers first, so the producers' first messages find them.
            var consumers = new List<Consumer>();
            var consumerStart = Stopwatch.GetTimestamp();
            for (var i = 0; i < s.Consumers; i++)
            {
                var (consumer, _) = clusters[s.Producers + i].Consume(queue, ConsumerOptionsFor(_consumers[i]));
                consumers.Add(consumer);
            }
            await Task.WhenAll(consumers.Select(c => c.Ready)).WaitAsync(cancellationToken);
            if (_expected == 0) _allReceived.TrySetResult();

            if (s.Duration is { } duration) stop.CancelAfter(duration);
            var producerStart = Stopwatch.GetTimestamp();
            var producerTasks = new Task[s.Producers];
            for (var i = 0; i < s.Producers; i++)
            {
                var cluster = clusters[i];
                var state = _producers[i];
                producerTasks[i] = Task.Run(() => ProduceAsync(cluster, queueName, state, stop.Token), CancellationToken.None);
            }

            // The live line until producers and consumers are done.
            var reporter = ReportAsync(onTick, startedAt, stop.Token);
            var producing = Task.WhenAll(producerTasks);
            var sendEnd = (long?)null;
            var waitedForQueue = false;
            try
            {
                await producing;
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
            }
            var producersFailed = producerTasks.FirstOrDefault(t => t.IsFaulted)?.Exception?.InnerException;
            if (producersFailed is not null) throw producersFailed;
            sendEnd = Stopwatch.GetTimestamp();

            // Publish-only without confirms: the messages count as sent when the broker has queued them, as the
            // end-to-end bench measures it (a publish returns once it is in the socket's buffer).
            var sent = _producers.Sum(p => Volatile.Read(ref p.Sent));
            if (s.Producers > 0 && s.Consumers == 0 && s.ConfirmWindow == 0 && !stop.IsCancellationRequested)
            {
                var target = initial + sent;
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                wait.CancelAfter(TimeSpan.FromSeconds(30));
                try
                {
                    while ((await admin.DeclareAsync(queue, passive: true, cancellationToken: wait.Token)).MessageCount < target)
                    {
                        await Task.Delay(2, wait.Token);
                    }
                    sendEnd = Stopwatch.GetTimestamp();
                    waitedForQueue = true;
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    // Someone else consumes from the queue: keep the client-side time.
                }
            }

            if (s.Consumers > 0)
            {
                if (_expected >= 0)
                {
                    await WaitForConsumersAsync(stop.Token);
                }
                else if (s.Producers > 0 && s.Duration is null)
                {
                    // Producers stopped by Ctrl+C: nothing more to wait for.
                }
                else
                {
                    // Duration only (or consume-only without a count): until the time is up or Ctrl+C.
                    try
                    {
                        await Task.Delay(Timeout.Infinite, stop.Token);
                    }
                    catch (OperationCanceledException)
                    {
                    }
                }
            }
            var endedAt = Stopwatch.GetTimestamp();
            foreach (var consumer in consumers) await consumer.CancelAsync(CancellationToken.None);
            stop.Cancel();
            await reporter;

            long lastReceive = 0;
            foreach (var c in _consumers) lastReceive = Math.Max(lastReceive, Volatile.Read(ref c.LastAt));
            var receiveStart = s.Producers > 0 ? producerStart : consumerStart;
            var received = Volatile.Read(ref _received);
            return new PerfResult
            {
                Settings = s,
                Queue = queueName,
                Elapsed = Stopwatch.GetElapsedTime(startedAt, endedAt),
                Sent = _producers.Sum(p => Volatile.Read(ref p.Sent)),
                SendSeconds = s.Producers == 0 ? 0 : Stopwatch.GetElapsedTime(producerStart, sendEnd.Value).TotalSeconds,
                SendWaitedForQueue = waitedForQueue,
                Confirmed = _producers.Sum(p => Volatile.Read(ref p.Confirmed)),
                Nacked = _producers.Sum(p => Volatile.Read(ref p.Nacked)),
                Received = received,
                ReceiveSeconds = received == 0 ? 0 : Stopwatch.GetElapsedTime(receiveStart, lastReceive).TotalSeconds,
                Expected = _expected,
                Interrupted = cancellationToken.IsCancellationRequested,
                Latency = s.MeasuresLatency ? _latency.Snapshot() : null,
                ConfirmLatency = s.ConfirmWindow > 0 ? _confirmLatency.Snapshot() : null,
            };
        }
        finally
        {
            foreach (var c in clusters)
            {
                await ShutdownQuietlyAsync(c);
            }
            if (admin is not null)
            {
                if (ownedQueue is not null)
                {
                    try
                    {
                        using var cleanup = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                        await admin.DeleteQueueAsync(ownedQueue, cancellationToken: cleanup.Token);
                    }
                    catch (Exception e) when (e is CoolAmqpException or OperationCanceledException)
                    {
                        // Best effort: a temporary queue left behind is not worth failing the run for.
                    }
                }
                await ShutdownQuietlyAsync(admin);
            }
        }
    }

    private static async Task ShutdownQuietlyAsync(Cluster cluster)
    {
        try
        {
            await cluster.ShutdownAsync(wait: true, CancellationToken.None);
        }
        catch (CoolAmqpException)
        {
        }
        await cluster.DisposeAsync();
    }

    /// <summary>The queue's message count before the run; declares it when missing.</summary>
    private static async Task<long> DeclareQueueAsync(Cluster admin, string name, CancellationToken cancellationToken)
    {
        try
        {
            return (await admin.DeclareAsync(new Queue(name), passive: true, cancellationToken: cancellationToken)).MessageCount;
        }
        catch (AmqpException e) when (e.ReplyCode == 404)
        {
            return (await admin.DeclareAsync(new Queue(name), cancellationToken: cancellationToken)).MessageCount;
        }
    }

    /// <summary>Until every expected message has arrived, the run is stopped, or (producers done) nothing has
    /// arrived for 10 s.</summary>
    private async Task WaitForConsumersAsync(CancellationToken stop)
    {
        var last = Volatile.Read(ref _received);
        var lastProgress = Stopwatch.GetTimestamp();
        while (!_allReceived.Task.IsCompleted && !stop.IsCancellationRequested)
        {
            try
            {
                await _allReceived.Task.WaitAsync(TimeSpan.FromMilliseconds(200), stop);
            }
            catch (TimeoutException)
            {
            }
            catch (OperationCanceledException)
            {
                return;
            }
            var now = Volatile.Read(ref _received);
            if (now != last)
            {
                last = now;
                lastProgress = Stopwatch.GetTimestamp();
            }
            else if (Stopwatch.GetElapsedTime(lastProgress) > TimeSpan.FromSeconds(10))
            {
                return;
            }
        }
    }

    private ConsumerOptions ConsumerOptionsFor(ConsumerState state)
    {
        var manualAck = _settings.ManualAck;
        var stamped = _settings.Size >= PerfSettings.StampSize;
        var runId = _runId;
        var latency = _latency;
        return new ConsumerOptions
        {
            NoAck = !manualAck,
            PrefetchCount = manualAck ? _settings.Prefetch : null,
            DeclareQueue = false,
            OnDelivery = delivery =>
            {
                var now = Stopwatch.GetTimestamp();
                var body = delivery.Body;
                if (stamped && body.Length >= PerfSettings.StampSize && BinaryPrimitives.ReadInt64LittleEndian(body) == runId)
                {
                    var sentAt = BinaryPrimitives.ReadInt64LittleEndian(body[8..]);
                    latency.Record((now - sentAt) * 1_000_000 / Stopwatch.Frequency);
                }
                if (manualAck) delivery.Ack();
                Volatile.Write(ref state.LastAt, now);
                if (Interlocked.Increment(ref _received) == Volatile.Read(ref _expected)) _allReceived.TrySetResult();
            },
        };
    }

    private async Task ProduceAsync(Cluster cluster, string queue, ProducerState state, CancellationToken stop)
    {
        var s = _settings;
        var window = s.ConfirmWindow;
        // One body per in-flight publish: a confirming publish keeps its message until confirmed (it may be sent
        // again after a connection loss); a plain one is copied into the socket buffer before it returns.
        var slots = Math.Max(1, window);
        var bodies = new byte[slots][];
        var messages = new Message[slots];
        for (var i = 0; i < slots; i++)
        {
            bodies[i] = new byte[s.Size];
            if (s.Size >= PerfSettings.StampSize) BinaryPrimitives.WriteInt64LittleEndian(bodies[i], _runId);
            messages[i] = new Message(bodies[i]);
        }
        var stamp = s.Size >= PerfSettings.StampSize;
        var pending = window > 0 ? new ValueTask[window] : [];
        var start = Stopwatch.GetTimestamp();
        var ticksPerMessage = s.Rate > 0 ? Stopwatch.Frequency / s.Rate : 0;
        long i64 = 0;
        for (; s.Count is not { } count || i64 < count; i64++)
        {
            if (stop.IsCancellationRequested) break;
            if (ticksPerMessage > 0)
            {
                var due = start + (long)(i64 * ticksPerMessage);
                var ahead = due - Stopwatch.GetTimestamp();
                if (ahead > Stopwatch.Frequency / 1000)
                {
                    try
                    {
                        await Task.Delay(TimeSpan.FromSeconds((double)ahead / Stopwatch.Frequency), stop);
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }
                }
            }
            var slot = window > 0 ? (int)(i64 % window) : 0;
            if (window > 0 && i64 >= window) await pending[slot];
            var sentAt = Stopwatch.GetTimestamp();
            if (stamp) BinaryPrimitives.WriteInt64LittleEndian(bodies[slot].AsSpan(8), sentAt);
            if (window > 0)
            {
#pragma warning disable CA2012 // Kept in the ring and awaited exactly once, above or after the loop.
                pending[slot] = TrackConfirm(cluster.PublishAsync(messages[slot], string.Empty, queue, confirm: true, cancellationToken: CancellationToken.None), sentAt, state);
#pragma warning restore CA2012
            }
            else
            {
                await cluster.PublishAsync(messages[0], string.Empty, queue, confirm: false, cancellationToken: CancellationToken.None);
            }
            Volatile.Write(ref state.Sent, state.Sent + 1);
        }
        if (window > 0)
        {
            for (var j = Math.Max(0, i64 - window); j < i64; j++) await pending[(int)(j % window)];
        }
    }

    private async ValueTask TrackConfirm(ValueTask publish, long sentAt, ProducerState state)
    {
        try
        {
            await publish;
            _confirmLatency.Record((Stopwatch.GetTimestamp() - sentAt) * 1_000_000 / Stopwatch.Frequency);
            Interlocked.Increment(ref state.Confirmed);
        }
        catch (MessageNackedException)
        {
            Interlocked.Increment(ref state.Nacked);
        }
    }

    private async Task ReportAsync(Action<PerfTick> onTick, long startedAt, CancellationToken stop)
    {
        var previousAt = Stopwatch.GetTimestamp();
        long previousSent = 0, previousConfirmed = 0, previousReceived = 0;
        var previousLatency = LatencyHistogram.Distribution.Empty;
        using var timer = new PeriodicTimer(_settings.Interval);
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                var now = Stopwatch.GetTimestamp();
                var seconds = Stopwatch.GetElapsedTime(previousAt, now).TotalSeconds;
                var sent = _producers.Sum(p => Volatile.Read(ref p.Sent));
                var confirmed = _producers.Sum(p => Volatile.Read(ref p.Confirmed));
                var received = Volatile.Read(ref _received);
                var latency = _latency.Snapshot();
                onTick(new PerfTick(
                    Stopwatch.GetElapsedTime(startedAt, now),
                    (sent - previousSent) / seconds,
                    (confirmed - previousConfirmed) / seconds,
                    (received - previousReceived) / seconds,
                    sent, received,
                    _settings.MeasuresLatency ? latency.Minus(previousLatency) : null));
                (previousAt, previousSent, previousConfirmed, previousReceived, previousLatency) = (now, sent, confirmed, received, latency);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private sealed class ProducerState
    {
        public long Sent;
        public long Confirmed;
        public long Nacked;
    }

    private sealed class ConsumerState
    {
        public long LastAt;
    }
}

/// <summary>One live line's figures: rates over the last interval.</summary>
internal sealed record PerfTick(TimeSpan Elapsed, double SendRate, double ConfirmRate, double ReceiveRate, long Sent,
    long Received, LatencyHistogram.Distribution? Latency);

/// <summary>What a perf run measured.</summary>
internal sealed record PerfResult
{
    public required PerfSettings Settings { get; init; }
    public required string Queue { get; init; }
    public TimeSpan Elapsed { get; init; }
    public long Sent { get; init; }
    public double SendSeconds { get; init; }
    /// <summary>The send time ends when the broker had queued every message (publish-only, no confirms).</summary>
    public bool SendWaitedForQueue { get; init; }
    public long Confirmed { get; init; }
    public long Nacked { get; init; }
    public long Received { get; init; }
    public double ReceiveSeconds { get; init; }
    /// <summary>Messages the consumers waited for; -1 when the run was timed instead.</summary>
    public long Expected { get; init; }
    public bool Interrupted { get; init; }
    public LatencyHistogram.Distribution? Latency { get; init; }
    public LatencyHistogram.Distribution? ConfirmLatency { get; init; }

    public double SendRate => SendSeconds > 0 ? Sent / SendSeconds : 0;
    public double ReceiveRate => ReceiveSeconds > 0 ? Received / ReceiveSeconds : 0;
}
