using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Text.Json;
using System.Threading.Tasks;
using NUnit.Framework;

namespace CoolAmqp.Tests.Integration;

/// <summary>
/// The real RabbitMQ the integration tests run against: <c>COOLAMQP_BROKER</c> (an amqp:// URI) and
/// <c>COOLAMQP_NODE</c> (the node name for <c>rabbitmqctl -n</c>), both set by the build's test target. The
/// tests fail (never skip) without them. The broker is shared: every test uses names of its own.
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

    /// <summary>A name no other test (or helper sharing the broker) uses.</summary>
    public static string Unique(string what) => $"coolamqp-test-{what}-{Guid.NewGuid():N}";

    /// <summary>A started cluster on the test broker.</summary>
    public static async Task<Cluster> StartAsync(ClusterOptions? options = null, int? heartbeat = null)
    {
        var cluster = new Cluster([Node(heartbeat)], options ?? new ClusterOptions { Name = TestContext.CurrentContext.Test.Name });
        await cluster.StartAsync(timeout: TimeSpan.FromSeconds(10));
        return cluster;
    }

    /// <summary>Runs <c>rabbitmqctl -q -n NODE args</c> and returns its standard output.</summary>
    public static async Task<string> CtlAsync(params string[] args)
    {
        var start = new ProcessStartInfo("rabbitmqctl")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-q");
        start.ArgumentList.Add("-n");
        start.ArgumentList.Add(NodeName);
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
                $"rabbitmqctl {string.Join(' ', args)} exited with {process.ExitCode}: {await error}");
        }

        return await output;
    }

    /// <summary>Runs a rabbitmqctl list command with the JSON formatter and returns its rows.</summary>
    public static async Task<List<JsonElement>> ListAsync(string command, params string[] columns)
    {
        var args = new List<string> { command };
        args.AddRange(columns);
        args.Add("--formatter");
        args.Add("json");
        string json = await CtlAsync([.. args]);
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
    public static async Task<JsonElement?> ConnectionNamedAsync(string name, params string[] columns)
    {
        foreach (JsonElement row in await ListAsync("list_connections", ["client_properties", .. columns]))
        {
            if (TableField(row.GetProperty("client_properties"), "connection_name")?.GetString() == name)
            {
                return row;
            }
        }

        return null;
    }

    /// <summary>Closes (at the broker) the connection with this connection_name, as an operator would.</summary>
    public static async Task CloseConnectionAsync(string name, string reason)
    {
        // The JSON formatter prints pids in a form close_connection does not take; the table form it does.
        JsonElement row = await ConnectionNamedAsync(name, "peer_port") ?? throw new AssertionException($"No connection named {name}.");
        long port = row.GetProperty("peer_port").GetInt64();
        string table = await CtlAsync("list_connections", "--no-table-headers", "peer_port", "pid");
        foreach (string line in table.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string[] columns = line.Split('\t');
            if (columns.Length == 2 && columns[0] == port.ToString(System.Globalization.CultureInfo.InvariantCulture))
            {
                await CtlAsync("close_connection", columns[1], reason);
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
