using System;
using System.CommandLine;

namespace CoolAmqp.Cli;

/// <summary>Options every command takes, declared once on the root command (recursive). One set per root command:
/// a System.CommandLine symbol remembers its parents, so instances are not shared between invocations.</summary>
internal sealed class CommonOptions
{
    /// <summary>The default broker URI when neither --uri nor COOLAMQP_BROKER says.</summary>
    public const string DefaultUri = "amqp://guest:guest@localhost:5672/";

    public Option<string> Uri { get; } = new("--uri", "-u")
    {
        Description = "The broker: an amqp:// or amqps:// URI, or a comma-separated list of them (a cluster). "
            + "Default: $COOLAMQP_BROKER, else " + DefaultUri,
        Recursive = true,
        HelpName = "uri",
        DefaultValueFactory = _ =>
            Environment.GetEnvironmentVariable("COOLAMQP_BROKER") is { Length: > 0 } env ? env : DefaultUri,
    };

    public Option<bool> Json { get; } = new("--json")
    {
        Description = "Write results as JSON (one object; one per line for consume).",
        Recursive = true,
    };
}
