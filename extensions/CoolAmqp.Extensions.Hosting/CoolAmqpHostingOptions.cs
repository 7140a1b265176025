using System;
using System.Collections.Generic;

namespace CoolAmqp.Extensions.Hosting;

/// <summary>
/// How the hosted <see cref="Cluster"/> is built and run: set in code by
/// <see cref="CoolAmqpServiceCollectionExtensions.AddCoolAmqp(Microsoft.Extensions.DependencyInjection.IServiceCollection, System.Action{CoolAmqpHostingOptions}?)"/>,
/// or bound from a configuration section (e.g. <c>"CoolAmqp": { "Nodes": [ "amqp://user:pass@rabbit1/" ],
/// "Heartbeat": 20, "RpcTimeout": "00:00:10" }</c>). Every member but <see cref="Nodes"/> is optional; an unset
/// value keeps the default of <see cref="ClusterOptions"/> or <see cref="NodeDefinition"/>.
/// </summary>
public sealed class CoolAmqpHostingOptions
{
    /// <summary>The broker nodes, as AMQP URIs (<c>amqp://user:pass@host:5672/vhost?heartbeat=20</c>, see
    /// <see cref="NodeDefinition.Parse"/>), tried in this order; an entry may also be a comma-separated list. At least
    /// one is required.</summary>
    public IList<string> Nodes { get; } = new List<string>();

    /// <summary>The cluster's name (<see cref="ClusterOptions.Name"/>): the <c>connection_name</c> the broker shows.
    /// Default: none.</summary>
    public string? Name { get; set; }

    /// <summary>Heartbeat interval in seconds for every node (0 to 65535; 0 disables heartbeats), over what the URIs
    /// say. Default: the URI's, else the broker's proposal.</summary>
    public int? Heartbeat { get; set; }

    /// <summary>How long opening a connection to one node may take (<see cref="NodeDefinition.ConnectionTimeout"/>),
    /// for every node. Default: the URI's <c>connection_timeout</c>, else 10 seconds.</summary>
    public TimeSpan? ConnectionTimeout { get; set; }

    /// <summary><see cref="ClusterOptions.RpcTimeout"/>. Default 30 seconds.</summary>
    public TimeSpan? RpcTimeout { get; set; }

    /// <summary><see cref="ClusterOptions.ShutdownTimeout"/>. Default 5 seconds.</summary>
    public TimeSpan? ShutdownTimeout { get; set; }

    /// <summary><see cref="ClusterOptions.BlockedPublishTimeout"/>. Default 30 seconds.</summary>
    public TimeSpan? BlockedPublishTimeout { get; set; }

    /// <summary>Whether the host's start waits until the cluster is connected and every hosted consumer is online
    /// (so a broker that cannot be reached fails the host's start, fast). Otherwise the host starts at once and the
    /// cluster connects in the background; a failure to connect is then logged, and the health check reports
    /// Unhealthy. Default <see langword="true"/>.</summary>
    public bool WaitForConnection { get; set; } = true;

    /// <summary>How long the connection at start may take in all (the <c>timeout</c> of
    /// <see cref="Cluster.StartAsync"/>); the host's start token also stops it. Default: each node its own
    /// <see cref="ConnectionTimeout"/>.</summary>
    public TimeSpan? StartTimeout { get; set; }

    /// <summary>Read the cluster's events (<see cref="Cluster.ReadEventsAsync"/>: connection lost, reconnected,
    /// publishing blocked, ...) and log them, so that they do not pile up unread. Turn it off to read them yourself.
    /// Default <see langword="true"/>.</summary>
    public bool LogEvents { get; set; } = true;

    /// <summary>Code only: adjusts the <see cref="ClusterOptions"/> built from these settings (TLS is set per node
    /// in the URI; this is for recovery, credentials providers, frame tracers, callbacks...). The given options
    /// already have the host's <see cref="Microsoft.Extensions.Logging.ILoggerFactory"/> as
    /// <see cref="ClusterOptions.LoggerFactory"/>. Default: none.</summary>
    public Func<ClusterOptions, ClusterOptions>? ConfigureCluster { get; set; }
}
