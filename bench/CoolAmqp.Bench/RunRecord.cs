namespace CoolAmqp.Bench;

/// <summary>
/// One run of one client on one case, as measured; a failed run carries why and no figures. <see cref="CountPolls"/>:
/// the passive declares the count watcher made to see the end of a publish run (in its own process). Allocations and
/// collections are null for a client in another process (librabbitmq-c): only .NET's are counted.
/// <see cref="BrokerCpuMicrosPerMessage"/>: CPU time of the RabbitMQ nodes on this machine over the same interval, per
/// message; <see cref="CoresBusy"/>: client plus broker CPU time over the interval's wall time (2 = both cores of this
/// machine busy). Both null for a remote broker.
/// </summary>
internal sealed record RunRecord(
    string Client,
    string Scenario,
    int BodySize,
    int Count,
    int Repetition,
    bool Warmup,
    bool Ok,
    string? Failure,
    double Seconds,
    double MessagesPerSecond,
    double CpuMicrosPerMessage,
    double? AllocatedBytesPerMessage,
    int? Gen0Collections,
    int? Gen2Collections,
    double? P50Micros,
    double? P99Micros,
    int? CountPolls,
    double? BrokerCpuMicrosPerMessage = null)
{
    public double? CoresBusy => BrokerCpuMicrosPerMessage is { } broker && Ok
        ? (CpuMicrosPerMessage + broker) * MessagesPerSecond / 1_000_000
        : null;
}
