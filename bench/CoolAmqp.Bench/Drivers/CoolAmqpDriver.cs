using System;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Security.Authentication;
using System.Threading;
using System.Threading.Tasks;

namespace CoolAmqp.Bench.Drivers;

/// <summary>
/// CoolAmqp through its Cluster API: one <see cref="Cluster"/> (one connection), <see cref="Cluster.PublishAsync(Message, string, string, bool, bool, CancellationToken)"/>
/// with and without confirms, and <see cref="Cluster.Consume(Queue, ConsumerOptions)"/> with a synchronous callback.
/// The consume scenarios use <see cref="ConsumerOptions.OnDelivery"/>, the idiomatic zero-allocation consumer: like
/// RabbitMQ.Client's, the body is valid only until the delivery is settled (no-ack: until the callback returns), so
/// both clients are measured without a copy per message. The round trip uses <see cref="BodyReceiveMode.Pooled"/>.
/// </summary>
internal sealed class CoolAmqpDriver(BenchTls? tls = null) : IClientDriver
{
    private Cluster? _cluster;
    private SslProtocols? _tlsProtocol;

    public string Name => "CoolAmqp";

    public string Description => "CoolAmqp (this repository), Cluster API; publish-confirm awaits each confirming PublishAsync "
        + "in a ring; consumes with OnDelivery (synchronous callback on the consumer's thread)"
        + (tls is null ? "" : $"; over TLS (amqps:// URI with cacertfile{(_tlsProtocol is { } p ? $", negotiated {p}" : "")})");

    public async Task ConnectAsync(Uri broker, CancellationToken cancellationToken)
    {
        // Over TLS: the amqps:// URI with the CA as cacertfile, as an application would configure it.
        var node = NodeDefinition.Parse(tls?.CoolAmqpUri ?? broker.OriginalString);
        var cluster = new Cluster([node], new ClusterOptions { Name = "coolamqp-bench CoolAmqp" });
        try
        {
            await cluster.StartAsync(wait: true, timeout: TimeSpan.FromSeconds(30), cancellationToken);
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
        _cluster = cluster;
        _tlsProtocol = cluster.TlsProtocol;
    }

    public async Task DeclareQueueAsync(string queue, CancellationToken cancellationToken)
    {
        await Cluster.DeclareAsync(new Queue(queue), cancellationToken: cancellationToken);
    }

    public async Task PublishAsync(string queue, ReadOnlyMemory<byte> body, int count, Measurement measurement,
        CancellationToken cancellationToken)
    {
        var cluster = Cluster;
        // Messages are immutable and may be published many times.
        var message = new Message(body);
        measurement.Start();
        for (var i = 0; i < count; i++)
        {
            await cluster.PublishAsync(message, string.Empty, queue, confirm: false, cancellationToken: cancellationToken);
        }
    }

    public async Task PublishConfirmAsync(string queue, ReadOnlyMemory<byte> body, int count, int maxUnconfirmed,
        Measurement measurement, CancellationToken cancellationToken)
    {
        var cluster = Cluster;
        var message = new Message(body);
        // Each confirming publish completes at its confirm (and throws on nack); a ring of the pending ones keeps
        // at most maxUnconfirmed in flight.
        var pending = new ValueTask[maxUnconfirmed];
        measurement.Start();
        for (var i = 0; i < count; i++)
        {
            var slot = i % maxUnconfirmed;
            if (i >= maxUnconfirmed) await pending[slot];
#pragma warning disable CA2012 // Kept in the ring and awaited exactly once, above or after the loop.
            pending[slot] = cluster.PublishAsync(message, string.Empty, queue, confirm: true, cancellationToken: cancellationToken);
#pragma warning restore CA2012
        }
        var first = count > maxUnconfirmed ? count - maxUnconfirmed : 0;
        for (var i = first; i < count; i++)
        {
            await pending[i % maxUnconfirmed];
        }
        measurement.Stop();
    }

    public async Task<ConsumeResult> ConsumeAsync(string queue, int count, bool manualAck, ushort prefetch,
        int expectedBodySize, Measurement measurement, CancellationToken cancellationToken)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var received = 0;
        var wrongSize = 0;
        var options = new ConsumerOptions
        {
            OnDelivery = delivery =>
            {
                if (delivery.Body.Length != expectedBodySize) Interlocked.Increment(ref wrongSize);
                if (manualAck) delivery.Ack();
                if (Interlocked.Increment(ref received) == count)
                {
                    measurement.Stop();
                    done.TrySetResult();
                }
            },
            NoAck = !manualAck,
            PrefetchCount = prefetch,
            DeclareQueue = false, // the runner declared it; RabbitMQ.Client's consumer does not declare either
        };

        measurement.Start();
        var (consumer, ready) = Cluster.Consume(new Queue(queue), options);
        try
        {
            await ready.WaitAsync(cancellationToken);
            await done.Task.WaitAsync(cancellationToken);
            return new ConsumeResult(Volatile.Read(ref received), Volatile.Read(ref wrongSize));
        }
        finally
        {
            // basic.cancel, then channel.close: the broker has processed every ack sent before.
            await consumer.CancelAsync(CancellationToken.None);
        }
    }

    public async Task<RoundtripResult> RoundtripAsync(string queue, int bodySize, long[] latencies, Measurement measurement,
        CancellationToken cancellationToken)
    {
        var cluster = Cluster;
        var signal = new AsyncSignal<int>();
        using var registration = cancellationToken.Register(
            static s => ((AsyncSignal<int>)s!).TryFail(new OperationCanceledException("The round trip timed out.")), signal);
        var wrongSize = 0;
        var options = new ConsumerOptions
        {
            OnMessage = message =>
            {
                var span = message.Body.Span;
                if (span.Length != bodySize) Interlocked.Increment(ref wrongSize);
                var sequence = span.Length >= 4 ? BinaryPrimitives.ReadInt32LittleEndian(span) : -1;
                message.Dispose();
                signal.TrySet(sequence);
            },
            NoAck = true,
            BodyReceiveMode = BodyReceiveMode.Pooled,
            DeclareQueue = false,
        };
        // The consumer gets a channel of its own; publishing goes through the cluster's publishing channel.
        var (consumer, ready) = cluster.Consume(new Queue(queue), options);
        try
        {
            await ready.WaitAsync(cancellationToken);
            var body = new byte[bodySize];
            Payload.Fill(body);
            var message = new Message(body);
            var mismatched = 0;
            var completed = 0;
            measurement.Start();
            for (var i = 0; i < latencies.Length; i++)
            {
                signal.Reset();
                // A timeout that fired while the signal was still set from the last reply must not be lost.
                cancellationToken.ThrowIfCancellationRequested();
                BinaryPrimitives.WriteInt32LittleEndian(body, i);
                var start = Stopwatch.GetTimestamp();
                await cluster.PublishAsync(message, string.Empty, queue, confirm: false, cancellationToken: cancellationToken);
                var sequence = await signal.WaitAsync();
                latencies[i] = Stopwatch.GetTimestamp() - start;
                if (sequence != i) mismatched++;
                completed++;
            }
            measurement.Stop();
            return new RoundtripResult(completed, mismatched + Volatile.Read(ref wrongSize));
        }
        finally
        {
            await consumer.CancelAsync(CancellationToken.None);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_cluster is null) return;
        try
        {
            await _cluster.ShutdownAsync(wait: true);
        }
        finally
        {
            await _cluster.DisposeAsync();
            _cluster = null;
        }
    }

    private Cluster Cluster => _cluster ?? throw new InvalidOperationException("Not connected.");
}
