using System;
using System.CommandLine;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using CoolAmqp.Cli.Commands;
using CoolAmqp.Cli.Perf;

namespace CoolAmqp.Cli;

/// <summary>The <c>coolamqp</c> command-line tool.</summary>
internal static class Program
{
    /// <summary>Exit code: success.</summary>
    public const int Ok = 0;

    /// <summary>Exit code: the broker refused an operation, or the connection failed.</summary>
    public const int BrokerError = 1;

    /// <summary>Exit code: bad command line or input.</summary>
    public const int UsageError = 2;

    /// <summary>Exit code: interrupted (Ctrl+C).</summary>
    public const int Interrupted = 130;

    public static Task<int> Main(string[] args) => RunAsync(args, Console.Out, Console.Error, interactive: null);

    /// <summary>Runs one command line, writing to <paramref name="output"/> and <paramref name="error"/>; the tests
    /// call this in-process.</summary>
    /// <param name="args">The arguments, without the program name.</param>
    /// <param name="output">Results (text or JSON).</param>
    /// <param name="error">Errors, and perf's live line under --json.</param>
    /// <param name="interactive">Whether <paramref name="output"/> is a terminal (live display, colours); null
    /// detects it (true only for the real console when it is not redirected).</param>
    /// <param name="cancellationToken">Stops the command as Ctrl+C does.</param>
    /// <returns>The exit code.</returns>
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, bool? interactive = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        var isTerminal = interactive ?? (ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected);
        var context = new CliContext(output, error, isTerminal);
        var root = BuildRoot(context);
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var e in parse.Errors)
            {
                await error.WriteLineAsync($"coolamqp: {e.Message}");
            }
            await error.WriteLineAsync("Try 'coolamqp --help'.");
            return UsageError;
        }

        var configuration = new InvocationConfiguration
        {
            Output = output,
            Error = error,
            // Unexpected exceptions are reported by Commands.Run with their type; this is a last resort.
            EnableDefaultExceptionHandler = true,
            // Ctrl+C cancels the command's token; only the real console gets the handler.
            ProcessTerminationTimeout = ReferenceEquals(output, Console.Out) ? TimeSpan.FromSeconds(5) : null,
        };
        return await parse.InvokeAsync(configuration, cancellationToken);
    }

    internal static RootCommand BuildRoot(CliContext context)
    {
        var root = new RootCommand("coolamqp: talk to RabbitMQ (AMQP 0-9-1) from the command line, and measure its throughput.")
        {
            context.Options.Uri,
            context.Options.Json,
        };
        root.Subcommands.Add(PublishCommand.Build(context));
        root.Subcommands.Add(ConsumeCommand.Build(context));
        root.Subcommands.Add(GetCommand.Build(context));
        root.Subcommands.Add(DeclareCommand.Build(context));
        root.Subcommands.Add(BindCommand.Build(context, unbind: false));
        root.Subcommands.Add(BindCommand.Build(context, unbind: true));
        root.Subcommands.Add(PurgeCommand.Build(context));
        root.Subcommands.Add(DeleteCommand.Build(context));
        root.Subcommands.Add(PerfCommand.Build(context));
        return root;
    }
}
