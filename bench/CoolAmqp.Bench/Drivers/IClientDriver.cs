using System;
using System.Threading;
using System.Threading.Tasks;

namespace CoolAmqp.Bench.Drivers;

/// <summary>
/// One AMQP client under test. The runner owns queue names, pre-filling, polling and checking (through
/// <see cref="BrokerAdmin"/>); a driver only does the client work of each scenario, the way an application
/// written idiomatically against that client would. Every method gets a fresh <see cref="Measurement"/> and
/// starts it right before its first protocol operation of the measured part.
/// </summary>
internal interface IClientDriver : IAsyncDisposable
{
    /// <summary>The client's name in the report.</summary>
    string Name { get; }

    /// <summary>One sentence for the report's legend: what the client is and how it runs the scenarios.</summary>
    string Description { get; }

    /// <summary>Opens the driver's connection; throws <see cref="DriverUnavailableException"/> when the client cannot run at all.</summary>
    Task ConnectAsync(Uri broker, CancellationToken cancellationToken);

    /// <summary>Declares a plain queue (not durable, not exclusive, not auto-delete); the runner deletes it.</summary>
    Task DeclareQueueAsync(string queue, CancellationToken cancellationToken);

    /// <summary>
    /// Publishes <paramref name="count"/> non-persistent messages through the default exchange to
    /// <paramref name="queue"/>, without confirms, and returns once the client has taken the last one. The runner
    /// stops the measurement when the broker holds them all.
    /// </summary>
    Task PublishAsync(string queue, ReadOnlyMemory<byte> body, int count, Measurement measurement, CancellationToken cancellationToken);

    /// <summary>
    /// Called once the runner has seen every message of a <see cref="PublishAsync"/> run in the queue and stopped
    /// the measurement there; a client in another process reports its CPU time for the interval now.
    /// </summary>
    Task PublishSeenAsync(Measurement measurement, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Publishes with publisher confirms, at most <paramref name="maxUnconfirmed"/> unconfirmed at once, and stops
    /// the measurement at the last confirm. Throws if any message is nacked or returned.
    /// </summary>
    Task PublishConfirmAsync(string queue, ReadOnlyMemory<byte> body, int count, int maxUnconfirmed, Measurement measurement,
        CancellationToken cancellationToken);

    /// <summary>
    /// Consumes <paramref name="count"/> messages from a pre-filled queue with the given prefetch, acking each one
    /// when <paramref name="manualAck"/> (else auto-ack), and stops the measurement when the Nth message has been
    /// handed to the application (and acked). Before returning it cancels the consumer and closes what it opened,
    /// so that every ack it sent has reached the broker.
    /// </summary>
    Task<ConsumeResult> ConsumeAsync(string queue, int count, bool manualAck, ushort prefetch, int expectedBodySize,
        Measurement measurement, CancellationToken cancellationToken);

    /// <summary>
    /// Publishes one message on one channel and waits until a consumer on another channel of the same connection
    /// receives it, <paramref name="latencies"/>.Length times; fills <paramref name="latencies"/> with the
    /// Stopwatch ticks of each round trip. The first 4 bytes of each body carry its sequence number.
    /// </summary>
    Task<RoundtripResult> RoundtripAsync(string queue, int bodySize, long[] latencies, Measurement measurement,
        CancellationToken cancellationToken);
}

/// <summary>What a consumer saw: messages handed to it and how many of them had the wrong body size.</summary>
internal readonly record struct ConsumeResult(int Received, int WrongBodySize);

/// <summary>What a round-trip loop saw: replies matched to their request, and mismatches (sequence or size).</summary>
internal readonly record struct RoundtripResult(int Completed, int Mismatched);

/// <summary>The client cannot run in this build; the runner reports it as unavailable, never with numbers.</summary>
internal sealed class DriverUnavailableException : Exception
{
    public DriverUnavailableException() { }
    public DriverUnavailableException(string message) : base(message) { }
    public DriverUnavailableException(string message, Exception inner) : base(message, inner) { }
}
