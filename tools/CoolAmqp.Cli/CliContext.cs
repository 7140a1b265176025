using System.IO;
using Spectre.Console;

namespace CoolAmqp.Cli;

/// <summary>Where one invocation writes: plain writers for text and JSON, and a Spectre console on the output
/// writer for tables and the live display.</summary>
internal sealed class CliContext
{
    public CliContext(TextWriter output, TextWriter error, bool interactive)
    {
        Out = output;
        Err = error;
        Interactive = interactive;
        Console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = interactive ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = interactive ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = interactive ? InteractionSupport.Yes : InteractionSupport.No,
            Out = new AnsiConsoleOutput(output),
        });
        // A redirected output has no width; tables should not wrap at Spectre's default of 80 columns there.
        if (!interactive) Console.Profile.Width = 160;
    }

    public TextWriter Out { get; }

    /// <summary>--uri and --json.</summary>
    public CommonOptions Options { get; } = new();

    public TextWriter Err { get; }

    /// <summary>Whether the output is a terminal (live display in place, colours).</summary>
    public bool Interactive { get; }

    public IAnsiConsole Console { get; }
}
