using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Threading.Tasks;
using NUnit.Framework;

namespace CoolAmqp.Extensions.Hosting.Tests;

/// <summary>
/// The real RabbitMQ the tests run against: <c>COOLAMQP_BROKER</c> (an amqp:// URI) and <c>COOLAMQP_NODE</c> (the
/// node name for <c>rabbitmqctl -n</c>), as <c>tools/broker.sh env</c> prints them and the build's test target sets
/// them. The tests fail (never skip) without them. Every test uses names of its own.
/// </summary>
internal static class Broker
{
    public static string Uri => Environment.GetEnvironmentVariable("COOLAMQP_BROKER") is { Length: > 0 } uri
        ? uri
        : throw new AssertionException(
            "COOLAMQP_BROKER is not set. These tests need a RabbitMQ broker: start one with tools/broker.sh start and " +
            "export what tools/broker.sh env prints (COOLAMQP_BROKER and COOLAMQP_NODE).");

    public static string NodeName => Environment.GetEnvironmentVariable("COOLAMQP_NODE") is { Length: > 0 } node
        ? node
        : throw new AssertionException("COOLAMQP_NODE is not set (the RabbitMQ node name for rabbitmqctl -n); tools/broker.sh env prints it.");

    /// <summary>A name no other test uses.</summary>
    public static string Unique(string what) => $"coolamqp-hosting-test-{what}-{Guid.NewGuid():N}";

    /// <summary>A started cluster of the test's own, to set up and inspect what the hosted one does.</summary>
    public static async Task<Cluster> StartAsync()
    {
        var cluster = new Cluster(Uri, new ClusterOptions { Name = Unique("setup") });
        await cluster.StartAsync(timeout: TimeSpan.FromSeconds(10));
        return cluster;
    }

    /// <summary>A local port nothing listens on (taken from the OS, then released).</summary>
    public static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
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
        foreach (string arg in (string[])["-q", "-n", NodeName, .. args])
        {
            start.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(start) ?? throw new InvalidOperationException("rabbitmqctl did not start.");
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return process.ExitCode == 0
            ? await output
            : throw new InvalidOperationException($"rabbitmqctl {string.Join(' ', args)} exited with {process.ExitCode}: {await error}");
    }

    /// <summary>The rows of a rabbitmqctl list command (JSON formatter).</summary>
    public static async Task<List<JsonElement>> ListAsync(string command, params string[] columns)
    {
        string json = await CtlAsync([command, .. columns, "--formatter", "json"]);
        var rows = new List<JsonElement>();
        if (!string.IsNullOrWhiteSpace(json))
        {
            using JsonDocument document = JsonDocument.Parse(json);
            foreach (JsonElement row in document.RootElement.EnumerateArray())
            {
                rows.Add(row.Clone());
            }
        }

        return rows;
    }

    /// <summary>The list_queues row of a queue (null when it does not exist).</summary>
    public static async Task<JsonElement?> QueueAsync(string queue)
    {
        foreach (JsonElement row in await ListAsync("list_queues", "name", "messages_ready", "messages_unacknowledged", "consumers"))
        {
            if (row.GetProperty("name").GetString() == queue)
            {
                return row;
            }
        }

        return null;
    }

    /// <summary>Ready and unacknowledged message counts of a queue.</summary>
    public static async Task<(long Ready, long Unacked)> CountsAsync(string queue)
    {
        JsonElement row = await QueueAsync(queue) ?? throw new AssertionException($"No queue {queue}.");
        return (row.GetProperty("messages_ready").GetInt64(), row.GetProperty("messages_unacknowledged").GetInt64());
    }

    /// <summary>The list_connections row (with <paramref name="columns"/>) of the connection with this
    /// connection_name, or null.</summary>
    public static async Task<JsonElement?> ConnectionNamedAsync(string name, params string[] columns)
    {
        foreach (JsonElement row in await ListAsync("list_connections", ["client_properties", .. columns]))
        {
            foreach (JsonElement entry in row.GetProperty("client_properties").EnumerateArray())
            {
                if (entry[0].GetString() == "connection_name" && entry[2].GetString() == name)
                {
                    return row;
                }
            }
        }

        return null;
    }

    /// <summary>Closes, at the broker, the connection with this connection_name, as an operator would.</summary>
    public static async Task CloseConnectionAsync(string name)
    {
        // The JSON formatter prints pids in a form close_connection does not take; the table form it does.
        JsonElement row = await ConnectionNamedAsync(name, "peer_port") ?? throw new AssertionException($"No connection named {name}.");
        string port = row.GetProperty("peer_port").GetInt64().ToString(CultureInfo.InvariantCulture);
        foreach (string line in (await CtlAsync("list_connections", "--no-table-headers", "peer_port", "pid")).Split('\n'))
        {
            string[] columns = line.Trim().Split('\t');
            if (columns.Length == 2 && columns[0] == port)
            {
                await CtlAsync("close_connection", columns[1], "closed by a hosting test");
                return;
            }
        }

        throw new AssertionException($"No pid for the connection on peer port {port}.");
    }

    /// <summary>Polls <paramref name="condition"/> until it holds or <paramref name="timeout"/> passes.</summary>
    public static async Task<bool> EventuallyAsync(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > timeout)
            {
                return false;
            }

            await Task.Delay(100);
        }

        return true;
    }
}
