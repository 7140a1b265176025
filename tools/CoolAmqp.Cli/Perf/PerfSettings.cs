using System;

namespace CoolAmqp.Cli.Perf;

/// <summary>What one perf run does; see <see cref="PerfCommand"/> for each option's meaning.</summary>
internal sealed record PerfSettings
{
    public int Producers { get; init; } = 1;
    public int Consumers { get; init; } = 1;
    public int Size { get; init; } = 16;
    /// <summary>Messages per second per producer; 0 is unlimited.</summary>
    public double Rate { get; init; }
    /// <summary>Unconfirmed publishes a producer keeps in flight; 0 publishes without confirms.</summary>
    public int ConfirmWindow { get; init; }
    public ushort Prefetch { get; init; } = 1000;
    public bool ManualAck { get; init; }
    public TimeSpan? Duration { get; init; }
    /// <summary>Messages per producer; with no producers, messages to consume in all.</summary>
    public long? Count { get; init; }
    /// <summary>The queue; null makes a temporary one (deleted afterwards).</summary>
    public string? Queue { get; init; }
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(1);
    public bool Quiet { get; init; }

    /// <summary>Bytes a message needs to carry its send time (8 bytes of run id, 8 of timestamp).</summary>
    public const int StampSize = 16;

    public bool MeasuresLatency => Size >= StampSize && Producers > 0 && Consumers > 0;
}
