using System;
using System.Collections.Generic;
using System.Text;
using System.Threading;
using System.Threading.RateLimiting;
using System.Threading.Tasks;
using RabbitMQ.Client;

namespace CoolAmqp.Bench;

/// <summary>
/// The runner's own connection (RabbitMQ.Client, used only outside the measured intervals): message counts by
/// passive declare, pre-filling, sampling a body, deleting queues. It remembers every queue it saw so that a run that dies still leaves nothing behind.
/// </summary>
internal sealed class BrokerAdmin(BenchTls? tls = null) : IAsyncDisposable
{
    private readonly HashSet<string> _queues = new(StringComparer.Ordinal);
    private IConnection? _connection;
    private IChannel? _channel;

    public string BrokerVersion { get; private set; } = "unknown";

    public async Task ConnectAsync(Uri broker, CancellationToken cancellationToken)
    {
        var factory = BenchTls.RabbitMqFactory(broker, tls, "coolamqp-bench admin");
        _connection = await factory.CreateConnectionAsync(cancellationToken);
        _channel = await _connection.CreateChannelAsync(cancellationToken: cancellationToken);
        if (_connection.ServerProperties is { } properties)
        {
            var product = properties.TryGetValue("product", out var p) && p is byte[] pb ? Encoding.UTF8.GetString(pb) : "broker";
            var version = properties.TryGetValue("version", out var v) && v is byte[] vb ? Encoding.UTF8.GetString(vb) : "?";
            BrokerVersion = $"{product} {version}";
        }
    }

    public void Track(string queue) => _queues.Add(queue);

    public async Task DeclareAsync(string queue, CancellationToken cancellationToken)
    {
        Track(queue);
        await (await ChannelAsync(cancellationToken)).QueueDeclareAsync(queue, durable: false, exclusive: false,
            autoDelete: false, cancellationToken: cancellationToken);
    }

    /// <summary>Ready messages in the queue, by a passive declare.</summary>
    public async Task<uint> CountAsync(string queue, CancellationToken cancellationToken)
    {
        var ok = await (await ChannelAsync(cancellationToken)).QueueDeclarePassiveAsync(queue, cancellationToken);
        return ok.MessageCount;
    }

    /// <summary>Polls (every millisecond) until the queue holds at least <paramref name="count"/> messages; returns the count seen.</summary>
    public async Task<uint> WaitForCountAsync(string queue, int count, CancellationToken cancellationToken)
    {
        while (true)
        {
            var seen = await CountAsync(queue, cancellationToken);
            if (seen >= count) return seen;
            await Task.Delay(1, cancellationToken);
        }
    }

    /// <summary>Fills a queue with confirmed messages (not measured).</summary>
    public async Task PrefillAsync(string queue, ReadOnlyMemory<byte> body, int count, CancellationToken cancellationToken)
    {
        const int window = 1000;
        using var limiter = new ConcurrencyLimiter(new ConcurrencyLimiterOptions { PermitLimit = window, QueueLimit = window });
        var options = new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true,
            outstandingPublisherConfirmationsRateLimiter: limiter);
        var channel = await Connection.CreateChannelAsync(options, cancellationToken);
        try
        {
            var exchange = new CachedString(string.Empty);
            var routingKey = new CachedString(queue);
            var pending = new ValueTask[window];
            for (var i = 0; i < count; i++)
            {
                if (i >= window) await pending[i % window];
#pragma warning disable CA2012 // Kept in the ring and awaited exactly once, above or after the loop.
                pending[i % window] = channel.BasicPublishAsync(exchange, routingKey, body, cancellationToken);
#pragma warning restore CA2012
            }
            for (var i = Math.Max(0, count - window); i < count; i++) await pending[i % window];
        }
        finally
        {
            await channel.CloseAsync(CancellationToken.None);
            await channel.DisposeAsync();
        }
        var seen = await WaitForCountAsync(queue, count, cancellationToken);
        if (seen != count) throw new InvalidOperationException($"Pre-fill of {queue} left {seen} messages, expected {count}.");
    }

    /// <summary>Takes one message (auto-ack) and returns its body size, or -1 if the queue is empty.</summary>
    public async Task<int> SampleBodySizeAsync(string queue, CancellationToken cancellationToken)
    {
        var result = await (await ChannelAsync(cancellationToken)).BasicGetAsync(queue, autoAck: true, cancellationToken);
        return result is null ? -1 : result.Body.Length;
    }

    public async Task DeleteAsync(string queue, CancellationToken cancellationToken)
    {
        await (await ChannelAsync(cancellationToken)).QueueDeleteAsync(queue, ifUnused: false, ifEmpty: false,
            cancellationToken: cancellationToken);
        _queues.Remove(queue);
    }

    /// <summary>Deletes every queue still known; used on the way out, also after failures.</summary>
    public async Task DeleteAllAsync()
    {
        foreach (var queue in new List<string>(_queues))
        {
            try
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await DeleteAsync(queue, cts.Token);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                Console.Error.WriteLine($"warning: could not delete queue {queue}: {e.Message}");
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_connection is null) return;
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

    private IConnection Connection => _connection ?? throw new InvalidOperationException("Not connected.");

    // A failed passive declare (queue gone) closes the channel; open a new one for the next call.
    private async Task<IChannel> ChannelAsync(CancellationToken cancellationToken)
    {
        if (_channel is { IsOpen: true }) return _channel;
        if (_channel is not null) await _channel.DisposeAsync();
        _channel = await Connection.CreateChannelAsync(cancellationToken: cancellationToken);
        return _channel;
    }
}
