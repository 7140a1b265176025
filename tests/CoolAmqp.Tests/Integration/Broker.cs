using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Text.Json;
using System.Threading.Tasks;
using NUnit.Framework;

namespace CoolAmqp.Tests.Integration;

/// <summary>
/// The real RabbitMQ the integration tests run against: <c>COOLAMQP_BROKER</c> (an amqp:// URI) and
/// <c>COOLAMQP_NODE</c> (the node name for <c>rabbitmqctl -n</c>), both set by the build's test target; and a
/// three-node cluster, <c>COOLAMQP_CLUSTER</c> (its nodes' URIs, comma-separated) and <c>COOLAMQP_CLUSTER_NODES</c>
/// (their node names, in the same order). The tests fail (never skip) without them. The brokers are shared: every
/// test uses names of its own.
/// </summary>
internal static class Broker
{
    public static string Uri => Environment.GetEnvironmentVariable("COOLAMQP_BROKER") is { Length: > 0 } uri
        ? uri
        : throw new AssertionException(
            "COOLAMQP_BROKER is not set. The integration tests need a RabbitMQ broker: run them through the build " +
            "(dotnet cake --target=Test), or start one with tools/broker.sh start and export COOLAMQP_BROKER and COOLAMQP_NODE.");

    public static string NodeName => Environment.GetEnvironmentVariable("COOLAMQP_NODE") is { Length: > 0 } node
        ? node
        : throw new AssertionException(
            "COOLAMQP_NODE is not set (the RabbitMQ node name for rabbitmqctl -n, e.g. coolamqp@host); tools/broker.sh env prints it.");

    public static NodeDefinition Node(int? heartbeat = null) => new(Uri, heartbeat: heartbeat);

    /// <summary>The URIs of the three-node cluster's nodes, in the order of <see cref="ClusterNodeNames"/>.</summary>
    public static IReadOnlyList<string> ClusterUris => List(
        "COOLAMQP_CLUSTER",
        "the URIs of a three-node RabbitMQ cluster, comma-separated. Run the tests through the build " +
        "(dotnet cake --target=Test), or start one with tools/broker.sh cluster 3 and export what tools/broker.sh env-cluster prints");

    /// <summary>The node names (for <c>rabbitmqctl -n</c>) of the cluster's nodes, in the order of <see cref="ClusterUris"/>.</summary>
    public static IReadOnlyList<string> ClusterNodeNames
    {
        get
        {
            string[] names = List(
                "COOLAMQP_CLUSTER_NODES",
                "the node names of the COOLAMQP_CLUSTER nodes, comma-separated, in the same order; tools/broker.sh env-cluster prints them");
            int uris = ClusterUris.Count;
            return names.Length == uris
                ? names
                : throw new AssertionException($"COOLAMQP_CLUSTER_NODES names {names.Length} nodes, COOLAMQP_CLUSTER {uris}.");
        }
    }

    /// <summary>The cluster's nodes, in the order of <see cref="ClusterNodeNames"/>.</summary>
    public static NodeDefinition[] ClusterNodes(int? heartbeat = null) =>
        [.. ClusterUris.Select(uri => new NodeDefinition(uri, heartbeat: heartbeat))];

    /// <summary>The node name of one of <see cref="ClusterNodes"/> (by its host and port).</summary>
    public static string ClusterNodeName(NodeDefinition node)
    {
        NodeDefinition[] nodes = ClusterNodes();
        for (int i = 0; i < nodes.Length; i++)
        {
            if (nodes[i].Host == node.Host && nodes[i].Port == node.Port)
            {
                return ClusterNodeNames[i];
            }
        }

        throw new AssertionException($"{node.Host}:{node.Port} is not a node of COOLAMQP_CLUSTER.");
    }

    private static string[] List(string variable, string what) =>
        Environment.GetEnvironmentVariable(variable) is { Length: > 0 } value
            ? value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            : throw new AssertionException($"{variable} is not set: it names {what}.");

    /// <summary>Stops the RabbitMQ application on a cluster node (its Erlang VM stays up): its clients are
    /// disconnected, its listener closes, the other nodes see it down.</summary>
    public static Task StopAppAsync(string node) => CtlOnAsync(node, "stop_app");

    /// <summary>Starts the RabbitMQ application of a cluster node again and waits until it has booted.</summary>
    public static async Task StartAppAsync(string node)
    {
        await CtlOnAsync(node, "start_app");
        await CtlOnAsync(node, "await_startup");
    }

    /// <summary>The nodes whose RabbitMQ application runs, as <paramref name="node"/>'s cluster_status reports them.</summary>
    public static async Task<List<string>> RunningNodesAsync(string node)
    {
        using JsonDocument status = JsonDocument.Parse(await CtlOnAsync(node, "cluster_status", "--formatter", "json"));
        return [.. status.RootElement.GetProperty("running_nodes").EnumerateArray().Select(n => n.GetString()!)];
    }

    /// <summary>Waits until every cluster node runs again, as each of them sees it; fails the test otherwise.</summary>
    public static async Task WaitForFullClusterAsync(TimeSpan timeout)
    {
        IReadOnlyList<string> nodes = ClusterNodeNames;
        var clock = Stopwatch.StartNew();
        string last = "";
        while (clock.Elapsed < timeout)
        {
            bool full = true;
            foreach (string node in nodes)
            {
                try
                {
                    List<string> running = await RunningNodesAsync(node);
                    if (!nodes.All(running.Contains))
                    {
                        full = false;
                        last = $"{node} sees {string.Join(", ", running)} running";
                        break;
                    }
                }
                catch (InvalidOperationException ex)
                {
                    full = false;
                    last = ex.Message;
                    break;
                }
            }

            if (full)
            {
                return;
            }

            await Task.Delay(500);
        }

        throw new AssertionException($"The cluster did not have all of {string.Join(", ", nodes)} running within {timeout.TotalSeconds:0} s: {last}");
    }

    /// <summary>A name no other test (or helper sharing the broker) uses.</summary>
    public static string Unique(string what) => $"coolamqp-test-{what}-{Guid.NewGuid():N}";

    /// <summary>A started cluster on the test broker.</summary>
    public static async Task<Cluster> StartAsync(ClusterOptions? options = null, int? heartbeat = null)
    {
        var cluster = new Cluster([Node(heartbeat)], options ?? new ClusterOptions { Name = TestContext.CurrentContext.Test.Name });
        await cluster.StartAsync(timeout: TimeSpan.FromSeconds(10));
        return cluster;
    }

    /// <summary>Events until one of type <typeparamref name="T"/> (all of them, in order, that one last).</summary>
    public static async Task<List<ClusterEvent>> EventsUntilAsync<T>(Cluster cluster, double seconds)
        where T : ClusterEvent
    {
        var seen = new List<ClusterEvent>();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(seconds))
        {
            ClusterEvent e = await cluster.DrainAsync(TimeSpan.FromSeconds(1));
            if (e is NothingMuch)
            {
                continue;
            }

            seen.Add(e);
            if (e is T)
            {
                return seen;
            }
        }

        throw new AssertionException($"No {typeof(T).Name} within {seconds} s; saw: {string.Join(", ", seen.Select(e => e.GetType().Name))}");
    }

    /// <summary>Runs <c>rabbitmqctl -q -n NODE args</c> on the single node and returns its standard output.</summary>
    public static Task<string> CtlAsync(params string[] args) => CtlOnAsync(NodeName, args);

    /// <summary>Runs <c>rabbitmqctl -q -n <paramref name="node"/> args</c> and returns its standard output.</summary>
    public static async Task<string> CtlOnAsync(string node, params string[] args)
    {
        var start = new ProcessStartInfo("rabbitmqctl")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-q");
        start.ArgumentList.Add("-n");
        start.ArgumentList.Add(node);
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(start) ?? throw new InvalidOperationException("rabbitmqctl did not start.");
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"rabbitmqctl -n {node} {string.Join(' ', args)} exited with {process.ExitCode}: {await error}");
        }

        return await output;
    }

    /// <summary>Runs a rabbitmqctl list command with the JSON formatter and returns its rows.</summary>
    public static Task<List<JsonElement>> ListAsync(string command, params string[] columns) =>
        ListOnAsync(NodeName, command, columns);

    /// <summary>Runs a rabbitmqctl list command on <paramref name="node"/> with the JSON formatter and returns its rows.</summary>
    public static async Task<List<JsonElement>> ListOnAsync(string node, string command, params string[] columns)
    {
        var args = new List<string> { command };
        args.AddRange(columns);
        args.Add("--formatter");
        args.Add("json");
        string json = await CtlOnAsync(node, [.. args]);
        var rows = new List<JsonElement>();
        if (string.IsNullOrWhiteSpace(json))
        {
            return rows;
        }

        using JsonDocument document = JsonDocument.Parse(json);
        foreach (JsonElement row in document.RootElement.EnumerateArray())
        {
            rows.Add(row.Clone());
        }

        return rows;
    }

    /// <summary>A field of a table as rabbitmqctl's JSON formatter prints it (an array of [key, type, value]).</summary>
    public static JsonElement? TableField(JsonElement table, string key)
    {
        foreach (JsonElement entry in table.EnumerateArray())
        {
            if (entry[0].GetString() == key)
            {
                return entry[2];
            }
        }

        return null;
    }

    /// <summary>The row of list_connections (with client_properties among the columns) of the connection with
    /// this connection_name, or null.</summary>
    public static Task<JsonElement?> ConnectionNamedAsync(string name, params string[] columns) =>
        ConnectionNamedOnAsync(NodeName, name, columns);

    /// <summary>The same on <paramref name="node"/>.</summary>
    public static async Task<JsonElement?> ConnectionNamedOnAsync(string node, string name, params string[] columns)
    {
        foreach (JsonElement row in await ListOnAsync(node, "list_connections", ["client_properties", .. columns]))
        {
            if (TableField(row.GetProperty("client_properties"), "connection_name")?.GetString() == name)
            {
                return row;
            }
        }

        return null;
    }

    /// <summary>Closes (at the broker) the connection with this connection_name, as an operator would.</summary>
    public static Task CloseConnectionAsync(string name, string reason) => CloseConnectionOnAsync(NodeName, name, reason);

    /// <summary>The same on <paramref name="node"/>.</summary>
    public static async Task CloseConnectionOnAsync(string node, string name, string reason)
    {
        // The JSON formatter prints pids in a form close_connection does not take; the table form it does.
        JsonElement row = await ConnectionNamedOnAsync(node, name, "peer_port") ?? throw new AssertionException($"No connection named {name}.");
        long port = row.GetProperty("peer_port").GetInt64();
        string table = await CtlOnAsync(node, "list_connections", "--no-table-headers", "peer_port", "pid");
        foreach (string line in table.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string[] columns = line.Split('\t');
            if (columns.Length == 2 && columns[0] == port.ToString(System.Globalization.CultureInfo.InvariantCulture))
            {
                await CtlOnAsync(node, "close_connection", columns[1], reason);
                return;
            }
        }

        throw new AssertionException($"No pid for the connection on peer port {port}.");
    }

    /// <summary>The broker's message count for a queue (null when the queue does not exist).</summary>
    public static async Task<long?> MessageCountAsync(string queue)
    {
        foreach (JsonElement row in await ListAsync("list_queues", "name", "messages"))
        {
            if (row.GetProperty("name").GetString() == queue)
            {
                return row.GetProperty("messages").GetInt64();
            }
        }

        return null;
    }

    /// <summary>Polls <paramref name="condition"/> until it holds or <paramref name="timeout"/> passes.</summary>
    public static async Task<bool> EventuallyAsync(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (await condition())
            {
                return true;
            }

            if (clock.Elapsed > timeout)
            {
                return false;
            }

            await Task.Delay(50);
        }
    }
}
