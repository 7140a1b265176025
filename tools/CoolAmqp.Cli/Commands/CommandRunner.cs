using System;
using System.CommandLine;
using System.IO;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;

namespace CoolAmqp.Cli.Commands;

/// <summary>Runs a command's body with a connected cluster and turns the errors users can expect (bad input, a
/// broker refusal, no connection) into one line on stderr and an exit code; nothing expected prints a stack trace.</summary>
internal static partial class CommandRunner
{
    /// <summary>How long connecting may take before the command gives up.</summary>
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(15);

    /// <summary>Sets <paramref name="command"/>'s action: connect to --uri, run <paramref name="body"/>, shut down.</summary>
    public static void SetClusterAction(this Command command, CliContext context,
        Func<ParseResult, Cluster, CancellationToken, Task<int>> body)
    {
        command.SetAction((parse, cancellationToken) => RunAsync(context, parse.GetValue(context.Options.Uri)!,
            (cluster, token) => body(parse, cluster, token), cancellationToken));
    }

    /// <summary>Connects, runs, shuts down, and maps expected errors to exit codes.</summary>
    public static async Task<int> RunAsync(CliContext context, string uri,
        Func<Cluster, CancellationToken, Task<int>> body, CancellationToken cancellationToken)
    {
        try
        {
            await using var cluster = await ConnectAsync(uri, "coolamqp", cancellationToken);
            try
            {
                return await body(cluster, cancellationToken);
            }
            finally
            {
                await cluster.ShutdownAsync(wait: true, CancellationToken.None);
            }
        }
        catch (Exception e) when (Describe(e, cancellationToken) is var (code, text))
        {
            await context.Err.WriteLineAsync("coolamqp: " + text);
            return code;
        }
    }

    /// <summary>A started cluster on the nodes of <paramref name="uri"/> (comma-separated URIs).</summary>
    public static async Task<Cluster> ConnectAsync(string uri, string name, CancellationToken cancellationToken)
    {
        var nodes = ParseUri(uri);
        var cluster = new Cluster(nodes, new ClusterOptions { Name = name });
        try
        {
            await cluster.StartAsync(wait: true, timeout: ConnectTimeout, cancellationToken);
            return cluster;
        }
        catch (Exception e) when (e is CoolAmqpException or TimeoutException)
        {
            await cluster.DisposeAsync();
            throw new ConnectFailedException($"cannot connect to {Redact(uri)}: {e.Message}", e);
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    internal static System.Collections.Generic.IReadOnlyList<NodeDefinition> ParseUri(string uri)
    {
        try
        {
            return NodeDefinition.ParseList(uri);
        }
        catch (Exception e) when (e is FormatException or ArgumentException)
        {
            throw new CliException($"bad --uri: {e.Message}", e);
        }
    }

    /// <summary>The exit code and the one-line message for an expected error; null for a bug (which then surfaces
    /// with its stack trace, as it should).</summary>
    internal static (int Code, string Text)? Describe(Exception e, CancellationToken cancellationToken) => e switch
    {
        OperationCanceledException when cancellationToken.IsCancellationRequested => (Program.Interrupted, "interrupted"),
        CliException => (Program.UsageError, e.Message),
        ConnectFailedException => (Program.BrokerError, e.Message),
        MessageReturnedException r => (Program.BrokerError,
            $"message returned by the broker: {r.ReplyCode} {r.ReplyText} (exchange '{r.Exchange}', routing key '{r.RoutingKey}')"),
        AmqpException a when a.ReplyCode != 0 => (Program.BrokerError, $"broker error: {a.Message}"),
        CoolAmqpException => (Program.BrokerError, e.Message),
        IOException or UnauthorizedAccessException => (Program.UsageError, e.Message),
        TimeoutException => (Program.BrokerError, e.Message),
        _ => null,
    };

    /// <summary>The URI with its passwords replaced by ***.</summary>
    internal static string Redact(string uri) => PasswordPattern().Replace(uri, "$1:***@");

    [GeneratedRegex("(//[^:/@,]*):[^@/,]*@")]
    private static partial Regex PasswordPattern();
}

/// <summary>The cluster could not connect within <see cref="CommandRunner.ConnectTimeout"/>.</summary>
internal sealed class ConnectFailedException : Exception
{
    public ConnectFailedException(string message, Exception innerException) : base(message, innerException) { }

    public ConnectFailedException() { }

    public ConnectFailedException(string message) : base(message) { }
}
