using System;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using NUnit.Framework;

namespace CoolAmqp.Cli.Tests;

/// <summary>One in-process run of the tool: exit code, stdout and stderr.</summary>
internal sealed record CliRun(int Code, string Out, string Err)
{
    public override string ToString() => $"exit {Code}\n--- stdout\n{Out}\n--- stderr\n{Err}";
}

/// <summary>Runs <c>coolamqp</c> commands in-process against the broker of COOLAMQP_BROKER, and talks to that broker
/// directly (through the library) to check what the commands did.</summary>
internal static class Cli
{
    public static string BrokerUri => Environment.GetEnvironmentVariable("COOLAMQP_BROKER") is { Length: > 0 } uri
        ? uri
        : throw new AssertionException(
            "COOLAMQP_BROKER is not set. These tests need a RabbitMQ broker: run them through the build "
            + "(dotnet cake --target=Test), or start one with tools/broker.sh start and export COOLAMQP_BROKER.");

    /// <summary>Runs the tool with --uri of the test broker (unless the arguments give one).</summary>
    public static async Task<CliRun> RunAsync(params string[] args)
    {
        var full = Array.IndexOf(args, "--uri") >= 0 ? args : [.. args, "--uri", BrokerUri];
        using var output = new StringWriter();
        using var error = new StringWriter();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var code = await Program.RunAsync(full, output, error, interactive: false, timeout.Token);
        return new CliRun(code, output.ToString(), error.ToString());
    }

    /// <summary>A started cluster on the test broker, for checking broker state.</summary>
    public static async Task<Cluster> ConnectAsync()
    {
        var cluster = new Cluster(BrokerUri, new ClusterOptions { Name = "coolamqp cli tests" });
        await cluster.StartAsync(wait: true, timeout: TimeSpan.FromSeconds(15));
        return cluster;
    }

    public static string UniqueName(string prefix) => $"cli-test-{prefix}-{Guid.NewGuid():N}";

    /// <summary>Asserts the run failed with <paramref name="code"/> and exactly one line on stderr, without a stack
    /// trace.</summary>
    public static void AssertOneLineError(CliRun run, int code, string contains)
    {
        Assert.Multiple(() =>
        {
            Assert.That(run.Code, Is.EqualTo(code), run.ToString());
            var lines = run.Err.TrimEnd().Split('\n');
            Assert.That(lines[0], Does.StartWith("coolamqp: ").And.Contain(contains), run.ToString());
            Assert.That(run.Err, Does.Not.Contain("   at "), "no stack trace");
        });
    }
}
