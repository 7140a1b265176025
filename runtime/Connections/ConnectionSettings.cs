using System;
using System.Collections.Generic;
using CoolAmqp.Tracing;

namespace CoolAmqp.Connections;

/// <summary>What one connection needs to know. The cluster layer fills it from the public <c>NodeDefinition</c> and
/// <c>ClusterOptions</c>, so the connection layer does not depend on those types.</summary>
internal sealed record ConnectionSettings
{
    public required string Host { get; init; }

    public required int Port { get; init; }

    public required string VirtualHost { get; init; }

    public required string User { get; init; }

    /// <summary>Never logged or printed.</summary>
    public required string Password { get; init; }

    public required IReadOnlyList<string> AuthMechanisms { get; init; }

    /// <summary>Asked for in connection.tune-ok; 0 accepts the broker's.</summary>
    public ushort ChannelMax { get; init; }

    /// <summary>Asked for in connection.tune-ok; 0 accepts the broker's.</summary>
    public uint FrameMax { get; init; }

    /// <summary>Seconds, or null to accept the broker's proposal.</summary>
    public ushort? Heartbeat { get; init; }

    /// <summary>TLS settings, or null for a plain connection.</summary>
    public TlsOptions? Tls { get; init; }

    /// <summary>The connection_name client property, or null.</summary>
    public string? ConnectionName { get; init; }

    public IReadOnlyDictionary<string, object?>? ExtraProperties { get; init; }

    public IFrameTracer? FrameTracer { get; init; }

    /// <summary>What the broker may send (body size, field-table depth and entries).</summary>
    public ProtocolLimits Limits { get; init; } = ProtocolLimits.Default;

    /// <summary>How long a channel's request waits for its answer.</summary>
    public TimeSpan RpcTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a publish is held while the broker blocks publishing.</summary>
    public TimeSpan BlockedPublishTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Where and as whom, without the password (a record would print every property).</summary>
    public override string ToString() => $"{User}@{Host}:{Port} vhost '{VirtualHost}'{(Tls is null ? "" : " (TLS)")}";
}
