using System;
using System.Threading;
using System.Threading.Tasks;

namespace CoolAmqp.Bench.Drivers;

/// <summary>
/// CoolAmqp through its Cluster API. The runtime's Cluster is not in this build yet, so the driver reports itself
/// unavailable and the runner says so instead of printing numbers.
/// </summary>
internal sealed class CoolAmqpDriver : IClientDriver
{
    private const string Missing = "the CoolAmqp Cluster API (Cluster, ClusterOptions, PublishAsync, Consume) is not in this build of runtime/";

    public string Name => "CoolAmqp";

    public Task ConnectAsync(Uri broker, CancellationToken cancellationToken) => throw new DriverUnavailableException(Missing);

    public Task DeclareQueueAsync(string queue, CancellationToken cancellationToken) => throw new DriverUnavailableException(Missing);

    public Task PublishAsync(string queue, ReadOnlyMemory<byte> body, int count, Measurement measurement,
        CancellationToken cancellationToken) => throw new DriverUnavailableException(Missing);

    public Task PublishConfirmAsync(string queue, ReadOnlyMemory<byte> body, int count, int maxUnconfirmed, Measurement measurement,
        CancellationToken cancellationToken) => throw new DriverUnavailableException(Missing);

    public Task<ConsumeResult> ConsumeAsync(string queue, int count, bool manualAck, ushort prefetch, int expectedBodySize,
        Measurement measurement, CancellationToken cancellationToken) => throw new DriverUnavailableException(Missing);

    public Task<RoundtripResult> RoundtripAsync(string queue, int bodySize, long[] latencies, Measurement measurement,
        CancellationToken cancellationToken) => throw new DriverUnavailableException(Missing);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
