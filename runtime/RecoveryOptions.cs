using System;
using System.Threading;

namespace CoolAmqp;

/// <summary>How a <see cref="Cluster"/> rides through the loss of its connection (<see cref="ClusterOptions.Recovery"/>).
/// After an unplanned loss it connects again, to the next node of its list, waiting between attempts with exponential
/// backoff and jitter; on the new connection it declares again what was declared with <c>persistent: true</c> and
/// re-establishes every consumer. Never after <see cref="Cluster.ShutdownAsync"/>.</summary>
public sealed record RecoveryOptions
{
    /// <summary>Whether the cluster reconnects by itself. Off, the first loss is final: later operations fail with
    /// <see cref="ConnectionDeadException"/>. Default <see langword="true"/>.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>The wait before the first reconnection attempt; each failed attempt multiplies it by
    /// <see cref="BackoffMultiplier"/>, up to <see cref="MaxDelay"/>. Default 250 ms.</summary>
    public TimeSpan InitialDelay { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>The longest wait between two attempts. Default 30 seconds.</summary>
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How much each failed attempt lengthens the wait. Default 2.</summary>
    public double BackoffMultiplier { get; init; } = 2;

    /// <summary>Each wait is shortened or lengthened at random by up to this fraction, so that many clients that lost
    /// one broker do not all come back at the same instant. Default 0.2 (±20 %).</summary>
    public double Jitter { get; init; } = 0.2;

    /// <summary>How many attempts in a row may fail before the cluster gives up (every later operation then fails with
    /// <see cref="ConnectionDeadException"/>, consumers are cancelled); null to try for as long as it is not shut down.
    /// Default null.</summary>
    public int? MaxAttempts { get; init; }

    /// <summary>Try the nodes in a random order (chosen once, at <see cref="Cluster.StartAsync"/>) rather than the order
    /// given, to spread clients over a cluster. Default <see langword="false"/>.</summary>
    public bool ShuffleNodes { get; init; }

    /// <summary>How long an operation started while the cluster is reconnecting waits for the connection before it
    /// fails with <see cref="ConnectionDeadException"/> (a publish that lost its connection while it waited, unsent, waits
    /// on within the same budget); <see cref="Timeout.InfiniteTimeSpan"/> waits until the cluster gives up or shuts
    /// down. Default 30 seconds.</summary>
    public TimeSpan ConnectionWaitTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How many publishes made while the cluster has no connection may wait for one; the next fails at once
    /// with <see cref="PublishBufferFullException"/>. Default 100,000.</summary>
    public int MaxWaitingPublishes { get; init; } = 100_000;

    /// <summary>How many body bytes the publishes made while the cluster has no connection may hold in all; a publish
    /// that would go past it fails at once with <see cref="PublishBufferFullException"/> (one larger than the whole
    /// budget still waits when nothing else does). Default 64 MiB.</summary>
    public long MaxWaitingPublishBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>Publish again, on the next connection, a confirmed (or mandatory) publish that was sent and not confirmed
    /// when the connection was lost; its task then completes with the new confirm (or fails as any publish does there).
    /// They go out in their first order, before any confirmed publish made after the loss was noticed. One that cannot
    /// be published again within <see cref="ConnectionWaitTimeout"/> (or when the cluster gives up or shuts down)
    /// fails with <see cref="PublishOutcomeUnknownException"/>, as every such publish does when this is off.
    /// <para>The broker may have taken the first copy before the link went, so consumers can see a message twice: give
    /// each message a <see cref="MessageProperties.MessageId"/> and have consumers skip ids they have handled (README,
    /// "When things fail"). The body must stay unchanged until the publish's task completes (the message is kept and
    /// sent again as it is then). Plain publishes are never sent again (their callers learn of them through
    /// <see cref="PlainPublishesUnsent"/>). Default <see langword="false"/>.</para></summary>
    public bool RepublishUnconfirmed { get; init; }

    /// <summary>How long each step of topology recovery (one declaration or binding) may take before the new connection
    /// is given up as unresponsive and the next attempt starts. Default 10 seconds.</summary>
    public TimeSpan StepTimeout { get; init; } = TimeSpan.FromSeconds(10);
}
