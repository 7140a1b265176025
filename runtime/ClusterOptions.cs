using System;
using System.Collections.Generic;
using CoolAmqp.Tracing;
using Microsoft.Extensions.Logging;

namespace CoolAmqp;

/// <summary>Settings of a <see cref="Cluster"/> (CoolAMQP's <c>Cluster</c> keyword arguments). Every member is
/// optional.</summary>
public sealed record ClusterOptions
{
    /// <summary>A name for the cluster: sent to the broker as the <c>connection_name</c> client property (shown
    /// in the management UI and <c>rabbitmqctl list_connections</c>) and used in log messages. Default: none.</summary>
    public string? Name { get; init; }

    /// <summary>Called once, on a thread-pool thread, when an established connection fails in an unclean way (not
    /// on <see cref="Cluster.ShutdownAsync"/>, and not when <see cref="Cluster.StartAsync"/> fails: its caller hears of
    /// that). Default: none.</summary>
    public Action? OnFail { get; init; }

    /// <summary>Called on a thread-pool thread with <see langword="true"/> when the broker blocks publishing
    /// (connection.blocked, e.g. a memory or disk alarm) and <see langword="false"/> when it unblocks.
    /// Default: none.</summary>
    public Action<bool>? OnBlocked { get; init; }

    /// <summary>Extra client properties sent in connection.start-ok, merged over CoolAmqp's own (product,
    /// version, platform, capabilities, connection_name). Values must be field-table types. Default: none.</summary>
    public IReadOnlyDictionary<string, object?>? ExtraProperties { get; init; }

    /// <summary>Sees every frame sent and received (see <see cref="LoggingFrameTracer"/> and
    /// <see cref="HoldingFrameTracer"/>). Default: none (no tracing cost).</summary>
    public IFrameTracer? FrameTracer { get; init; }

    /// <summary>Where CoolAmqp logs (category names start with <c>CoolAmqp</c>). Default: no logging.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>How long <see cref="Cluster.ShutdownAsync"/> waits for the broker to confirm the close before it
    /// drops the socket. Default 5 seconds.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long any request that the broker answers (declare, bind, unbind, delete, purge, get, qos, consume,
    /// cancel, channel.open, confirm.select, tx) may wait for its answer before it fails with
    /// <see cref="AmqpTimeoutException"/> (its channel is then closed; the connection stays).
    /// <see cref="System.Threading.Timeout.InfiniteTimeSpan"/> waits for as long as the connection lives. Default 30
    /// seconds.</summary>
    public TimeSpan RpcTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a publish is held while the broker blocks publishing (connection.blocked: during a memory or
    /// disk alarm RabbitMQ stops reading a connection once it publishes, and says so) before it fails with
    /// <see cref="PublishBlockedException"/>. Held publishes stay out of the socket, so one that times out was never
    /// sent; the others go out in order when the broker unblocks.
    /// <see cref="System.Threading.Timeout.InfiniteTimeSpan"/> holds them until then. Default 30 seconds.</summary>
    public TimeSpan BlockedPublishTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a consumer waits before trying again after the broker refused it with
    /// RESOURCE_LOCKED (an exclusive queue or consumer held by another connection). Default 1 second.</summary>
    public TimeSpan ResourceLockedRetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Where connections get their user name and secret when these change over time (OAuth 2 tokens,
    /// rotated passwords): asked before every connection attempt, and again before the credentials expire (see
    /// <see cref="ICredentialsProvider"/>). Default: none, <see cref="NodeDefinition.User"/> and
    /// <see cref="NodeDefinition.Password"/> are used (or the secret last given to
    /// <see cref="Cluster.UpdateSecretAsync"/>).</summary>
    public ICredentialsProvider? CredentialsProvider { get; init; }

    /// <summary>Limits on what the broker may send: the largest message body, and how deep and how large inbound field
    /// tables may be (see <see cref="ProtocolLimits"/>, which also says what happens to a message that breaks one).
    /// Default: <see cref="ProtocolLimits.Default"/> (bodies up to 128 MiB, tables nested up to 64 levels with up to
    /// 4096 entries each).</summary>
    public ProtocolLimits Limits { get; init; } = ProtocolLimits.Default;

    /// <summary>Reconnection, fail-over across the nodes and topology recovery (see <see cref="RecoveryOptions"/>).
    /// Default: on, with <see cref="RecoveryOptions"/>' defaults.</summary>
    public RecoveryOptions Recovery { get; init; } = new();
}
