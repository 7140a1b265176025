using System;
using System.Collections.Generic;
using Microsoft.Extensions.Logging;

namespace CoolAmqp.Extensions.Hosting;

/// <summary>Turns <see cref="CoolAmqpHostingOptions"/> into the nodes and options of a <see cref="Cluster"/>.</summary>
internal static class ClusterFactory
{
    private static readonly char[] Comma = [','];

    /// <summary>The nodes of every entry of <see cref="CoolAmqpHostingOptions.Nodes"/>, with the per-node settings
    /// applied.</summary>
    /// <exception cref="FormatException">A URI does not parse.</exception>
    /// <exception cref="ArgumentException">A per-node setting is out of range.</exception>
    public static List<NodeDefinition> Nodes(CoolAmqpHostingOptions options)
    {
        var nodes = new List<NodeDefinition>();
        foreach (string? entry in options.Nodes)
        {
            foreach (string part in (entry ?? string.Empty).Split(Comma, StringSplitOptions.RemoveEmptyEntries))
            {
                string uri = part.Trim();
                if (uri.Length == 0)
                {
                    continue;
                }

                // Built from the URI again (not from a parsed node) so the per-node settings override the URI's.
                nodes.Add(options.ConnectionTimeout is { } timeout
                    ? new NodeDefinition(uri, heartbeat: options.Heartbeat) { ConnectionTimeout = timeout }
                    : new NodeDefinition(uri, heartbeat: options.Heartbeat));
            }
        }

        return nodes;
    }

    public static ClusterOptions ClusterOptions(CoolAmqpHostingOptions options, ILoggerFactory? loggerFactory)
    {
        var cluster = new ClusterOptions { Name = options.Name, LoggerFactory = loggerFactory };
        if (options.RpcTimeout is { } rpc)
        {
            cluster = cluster with { RpcTimeout = rpc };
        }

        if (options.ShutdownTimeout is { } shutdown)
        {
            cluster = cluster with { ShutdownTimeout = shutdown };
        }

        if (options.BlockedPublishTimeout is { } blocked)
        {
            cluster = cluster with { BlockedPublishTimeout = blocked };
        }

        return options.ConfigureCluster is { } configure
            ? configure(cluster) ?? throw new InvalidOperationException(
                $"{nameof(CoolAmqpHostingOptions)}.{nameof(CoolAmqpHostingOptions.ConfigureCluster)} returned null.")
            : cluster;
    }

    public static Cluster Create(CoolAmqpHostingOptions options, ILoggerFactory? loggerFactory) =>
        new(Nodes(options), ClusterOptions(options, loggerFactory));
}
