using System;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Threading;
using System.Threading.RateLimiting;
using System.Threading.Tasks;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace CoolAmqp.Bench.Drivers;

/// <summary>
/// RabbitMQ.Client 7.2.2 through its async API: one <see cref="IConnection"/>, <see cref="IChannel"/>s,
/// <see cref="IChannel.BasicPublishAsync{TProperties}(CachedString, CachedString, bool, TProperties, ReadOnlyMemory{byte}, CancellationToken)"/>,
/// publisher confirms and <see cref="AsyncEventingBasicConsumer"/>. Publisher confirms two ways: tracked (each
/// publish completes at its confirm), or, with <c>untrackedConfirms</c>, the library's fastest mode: tracking off,
/// the application keeps its own window and counts the broker's acks from the channel's events. Every other scenario
/// is the same code in both modes.
/// </summary>
internal sealed class RabbitMqClientDriver(bool untrackedConfirms, BenchTls? tls = null) : IClientDriver
{
    private static readonly CachedString DefaultExchange = new(string.Empty);

    private IConnection? _connection;
    private IChannel? _publishChannel;

    public string Name => untrackedConfirms ? "RabbitMQ.Client-fast" : "RabbitMQ.Client";

    private string Mode => untrackedConfirms
        ? "RabbitMQ.Client 7.2.2, publish-confirm with confirmation tracking off: a window of outstanding publishes held by a "
          + "SemaphoreSlim released from the channel's BasicAcksAsync/BasicNacksAsync events; every other scenario is the same "
          + "code as RabbitMQ.Client's (so the gap between the two there is run-to-run noise)"
        : "RabbitMQ.Client 7.2.2, async API; publish-confirm with tracked confirms (each BasicPublishAsync completes at its "
          + "confirm, outstanding ones limited by the library's rate limiter); AsyncEventingBasicConsumer";

    public string Description => Mode + (tls is null ? ""
        : "; over TLS (SslOption with ServerName and a CertificateValidationCallback that builds the chain against the same CA only)");

    public async Task ConnectAsync(Uri broker, CancellationToken cancellationToken)
    {
        var factory = BenchTls.RabbitMqFactory(broker, tls, $"coolamqp-bench {Name}");
        _connection = await factory.CreateConnectionAsync(cancellationToken);
        // A plain publishing channel lives as long as the connection, as in an application.
        _publishChannel = await _connection.CreateChannelAsync(cancellationToken: cancellationToken);
    }

    public async Task DeclareQueueAsync(string queue, CancellationToken cancellationToken)
    {
        await Publisher.QueueDeclareAsync(queue, durable: false, exclusive: false, autoDelete: false,
            cancellationToken: cancellationToken);
    }

    public async Task PublishAsync(string queue, ReadOnlyMemory<byte> body, int count, Measurement measurement,
        CancellationToken cancellationToken)
    {
        var channel = Publisher;
        // CachedString is the library's documented way to avoid encoding the names on every publish.
        var routingKey = new CachedString(queue);
        measurement.Start();
        for (var i = 0; i < count; i++)
        {
            await channel.BasicPublishAsync(DefaultExchange, routingKey, body, cancellationToken);
        }
    }

    public Task PublishConfirmAsync(string queue, ReadOnlyMemory<byte> body, int count, int maxUnconfirmed,
        Measurement measurement, CancellationToken cancellationToken) => untrackedConfirms
        ? PublishConfirmUntrackedAsync(queue, body, count, maxUnconfirmed, measurement, cancellationToken)
        : PublishConfirmTrackedAsync(queue, body, count, maxUnconfirmed, measurement, cancellationToken);

    private async Task PublishConfirmTrackedAsync(string queue, ReadOnlyMemory<byte> body, int count, int maxUnconfirmed,
        Measurement measurement, CancellationToken cancellationToken)
    {
        // The library's own limit on outstanding confirms. A ConcurrencyLimiter, not the default
        // ThrottlingRateLimiter: the latter sleeps up to 1 s per publish once half its permits are in use, which
        // would measure its back-off, not the client.
        using var limiter = new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = maxUnconfirmed,
            QueueLimit = maxUnconfirmed,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        });
        var options = new CreateChannelOptions(
            publisherConfirmationsEnabled: true,
            publisherConfirmationTrackingEnabled: true,
            outstandingPublisherConfirmationsRateLimiter: limiter);
        var channel = await Connection.CreateChannelAsync(options, cancellationToken);
        try
        {
            var routingKey = new CachedString(queue);
            // With tracking on, each BasicPublishAsync completes at its confirm (and throws on nack/return); a ring
            // of the pending ones keeps at most maxUnconfirmed in flight.
            var pending = new ValueTask[maxUnconfirmed];
            measurement.Start();
            for (var i = 0; i < count; i++)
            {
                var slot = i % maxUnconfirmed;
                if (i >= maxUnconfirmed) await pending[slot];
#pragma warning disable CA2012 // Kept in the ring and awaited exactly once, above or after the loop.
                pending[slot] = channel.BasicPublishAsync(DefaultExchange, routingKey, body, cancellationToken);
#pragma warning restore CA2012
            }
            var first = count > maxUnconfirmed ? count - maxUnconfirmed : 0;
            for (var i = first; i < count; i++)
            {
                await pending[i % maxUnconfirmed];
            }
            measurement.Stop();
        }
        finally
        {
            await channel.CloseAsync(CancellationToken.None);
            await channel.DisposeAsync();
        }
    }

    private async Task PublishConfirmUntrackedAsync(string queue, ReadOnlyMemory<byte> body, int count, int maxUnconfirmed,
        Measurement measurement, CancellationToken cancellationToken)
    {
        var options = new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: false);
        var channel = await Connection.CreateChannelAsync(options, cancellationToken);
        using var window = new SemaphoreSlim(maxUnconfirmed, maxUnconfirmed);
        var confirms = new ConfirmWindow(window, count, measurement);
        channel.BasicAcksAsync += confirms.OnAckAsync;
        channel.BasicNacksAsync += confirms.OnNackAsync;
        channel.ChannelShutdownAsync += confirms.OnShutdownAsync;
        try
        {
            var routingKey = new CachedString(queue);
            measurement.Start();
            for (var i = 0; i < count; i++)
            {
                // Completes synchronously (a cached task, no allocation) while the window has room.
                await window.WaitAsync(cancellationToken);
                await channel.BasicPublishAsync(DefaultExchange, routingKey, body, cancellationToken);
            }
            await confirms.Done.Task.WaitAsync(cancellationToken);
            if (confirms.Nacks > 0) throw new InvalidOperationException($"{confirms.Nacks} of {count} publishes were nacked.");
        }
        finally
        {
            channel.BasicAcksAsync -= confirms.OnAckAsync;
            channel.BasicNacksAsync -= confirms.OnNackAsync;
            channel.ChannelShutdownAsync -= confirms.OnShutdownAsync;
            await channel.CloseAsync(CancellationToken.None);
            await channel.DisposeAsync();
        }
    }

    public async Task<ConsumeResult> ConsumeAsync(string queue, int count, bool manualAck, ushort prefetch,
        int expectedBodySize, Measurement measurement, CancellationToken cancellationToken)
    {
        // Timed from before the channel is opened: CoolAmqp's Consume opens its channel and sets QoS itself.
        measurement.Start();
        var channel = await Connection.CreateChannelAsync(cancellationToken: cancellationToken);
        try
        {
            await channel.BasicQosAsync(0, prefetch, global: false, cancellationToken);
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var received = 0;
            var wrongSize = 0;
            var consumer = new AsyncEventingBasicConsumer(channel);
            if (manualAck)
            {
                consumer.ReceivedAsync += async (_, delivery) =>
                {
                    if (delivery.Body.Length != expectedBodySize) Interlocked.Increment(ref wrongSize);
                    await channel.BasicAckAsync(delivery.DeliveryTag, multiple: false, delivery.CancellationToken);
                    if (Interlocked.Increment(ref received) == count)
                    {
                        measurement.Stop();
                        done.TrySetResult();
                    }
                };
            }
            else
            {
                consumer.ReceivedAsync += (_, delivery) =>
                {
                    if (delivery.Body.Length != expectedBodySize) Interlocked.Increment(ref wrongSize);
                    if (Interlocked.Increment(ref received) == count)
                    {
                        measurement.Stop();
                        done.TrySetResult();
                    }
                    return Task.CompletedTask;
                };
            }

            var tag = await channel.BasicConsumeAsync(queue, autoAck: !manualAck, consumer, cancellationToken);
            await done.Task.WaitAsync(cancellationToken);
            await channel.BasicCancelAsync(tag, noWait: false, cancellationToken);
            return new ConsumeResult(Volatile.Read(ref received), Volatile.Read(ref wrongSize));
        }
        finally
        {
            // Closing the channel after the acks means the broker has processed them when this returns.
            await channel.CloseAsync(CancellationToken.None);
            await channel.DisposeAsync();
        }
    }

    public async Task<RoundtripResult> RoundtripAsync(string queue, int bodySize, long[] latencies, Measurement measurement,
        CancellationToken cancellationToken)
    {
        var publishChannel = await Connection.CreateChannelAsync(cancellationToken: cancellationToken);
        var consumeChannel = await Connection.CreateChannelAsync(cancellationToken: cancellationToken);
        var signal = new AsyncSignal<int>();
        using var registration = cancellationToken.Register(
            static s => ((AsyncSignal<int>)s!).TryFail(new OperationCanceledException("The round trip timed out.")), signal);
        try
        {
            var wrongSize = 0;
            var consumer = new AsyncEventingBasicConsumer(consumeChannel);
            consumer.ReceivedAsync += (_, delivery) =>
            {
                var span = delivery.Body.Span;
                if (span.Length != bodySize) Interlocked.Increment(ref wrongSize);
                signal.TrySet(span.Length >= 4 ? BinaryPrimitives.ReadInt32LittleEndian(span) : -1);
                return Task.CompletedTask;
            };
            var tag = await consumeChannel.BasicConsumeAsync(queue, autoAck: true, consumer, cancellationToken);

            var body = new byte[bodySize];
            Payload.Fill(body);
            var routingKey = new CachedString(queue);
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
                await publishChannel.BasicPublishAsync(DefaultExchange, routingKey, body, cancellationToken);
                var sequence = await signal.WaitAsync();
                latencies[i] = Stopwatch.GetTimestamp() - start;
                if (sequence != i) mismatched++;
                completed++;
            }
            measurement.Stop();
            await consumeChannel.BasicCancelAsync(tag, noWait: false, cancellationToken);
            return new RoundtripResult(completed, mismatched + Volatile.Read(ref wrongSize));
        }
        finally
        {
            await publishChannel.CloseAsync(CancellationToken.None);
            await consumeChannel.CloseAsync(CancellationToken.None);
            await publishChannel.DisposeAsync();
            await consumeChannel.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_publishChannel is not null)
        {
            await _publishChannel.DisposeAsync();
            _publishChannel = null;
        }
        if (_connection is not null)
        {
            try
            {
                await _connection.CloseAsync();
            }
            finally
            {
                await _connection.DisposeAsync();
                _connection = null;
            }
        }
    }

    /// <summary>
    /// The application's side of untracked confirms. Publish sequence numbers start at 1 on a fresh channel, and
    /// RabbitMQ confirms one channel's publishes to one queue in order, so a <c>multiple</c> ack or nack covers the
    /// tags after the last one seen up to its own. The channel raises these events one at a time, from its reader.
    /// </summary>
    private sealed class ConfirmWindow(SemaphoreSlim window, int count, Measurement measurement)
    {
        private ulong _lastTag;
        private int _settled;

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Publishes the broker nacked; read after <see cref="Done"/>.</summary>
        public int Nacks { get; private set; }

        public Task OnAckAsync(object sender, BasicAckEventArgs e)
        {
            Settle(e.DeliveryTag, e.Multiple, nack: false);
            return Task.CompletedTask;
        }

        public Task OnNackAsync(object sender, BasicNackEventArgs e)
        {
            Settle(e.DeliveryTag, e.Multiple, nack: true);
            return Task.CompletedTask;
        }

        public Task OnShutdownAsync(object sender, ShutdownEventArgs e)
        {
            Done.TrySetException(new InvalidOperationException($"The channel closed: {e.ReplyCode} {e.ReplyText}"));
            return Task.CompletedTask;
        }

        private void Settle(ulong tag, bool multiple, bool nack)
        {
            var covered = multiple ? (int)(tag - _lastTag) : 1;
            if (tag > _lastTag) _lastTag = tag;
            if (covered <= 0) return;
            if (nack) Nacks += covered;
            _settled += covered;
            try
            {
                window.Release(covered);
            }
            catch (SemaphoreFullException)
            {
                // More settled than published: the in-order assumption above does not hold.
                Done.TrySetException(new InvalidOperationException($"Confirm {tag} (multiple: {multiple}) settles more publishes than are outstanding."));
                return;
            }
            if (_settled >= count)
            {
                measurement.Stop();
                Done.TrySetResult();
            }
        }
    }

    private IConnection Connection => _connection ?? throw new InvalidOperationException("Not connected.");

    private IChannel Publisher => _publishChannel ?? throw new InvalidOperationException("Not connected.");
}
