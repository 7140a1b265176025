using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text;
using System.Threading.Tasks;
using System.Xml.Linq;
using NUnit.Framework;

namespace CoolAmqp.Package.Tests;

/// <summary>The repository these tests run from, and the dotnet CLI and other programs run as child processes.</summary>
internal static class Dotnet
{
    /// <summary>The repository root: the first folder above the test assembly that holds CoolAmqp.sln.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>The configuration the solution was built in (the test assembly's own), which --no-build needs.</summary>
    public static string Configuration { get; } =
        typeof(Dotnet).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";

    /// <summary>The one version of every package, from Directory.Build.props.</summary>
    public static string Version { get; } =
        XDocument.Load(Path.Combine(Root, "Directory.Build.props")).Descendants("Version").Single().Value;

    /// <summary>The broker of COOLAMQP_BROKER; fails (never skips) without one.</summary>
    public static string BrokerUri => Environment.GetEnvironmentVariable("COOLAMQP_BROKER") is { Length: > 0 } uri
        ? uri
        : throw new InvalidOperationException(
            "COOLAMQP_BROKER is not set. These tests need a RabbitMQ broker: run them through `dotnet cake --target=Test`, "
            + "or start one with tools/broker.sh and export what `tools/broker.sh env` prints.");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "CoolAmqp.sln"))) return dir.FullName;
        }

        throw new InvalidOperationException($"No CoolAmqp.sln above {AppContext.BaseDirectory}");
    }

    /// <summary>Runs <c>dotnet arguments</c> in <paramref name="workingDirectory"/> and returns its output; fails the
    /// test with that output on a non-zero exit code.</summary>
    public static Task<string> RunAsync(string workingDirectory, IReadOnlyList<string> arguments, TimeSpan timeout,
        IReadOnlyDictionary<string, string>? environment = null) =>
        RunProgramAsync(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet",
            workingDirectory, arguments, timeout, environment);

    /// <summary>Runs a program and returns its output (stdout and stderr interleaved); fails the test on a non-zero
    /// exit code or when it outlives <paramref name="timeout"/> (then it is killed with its children).</summary>
    public static async Task<string> RunProgramAsync(string program, string workingDirectory, IReadOnlyList<string> arguments,
        TimeSpan timeout, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(program)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        // The test host runs under dotnet test, whose MSBuild variables would steer a child build to the test's SDK
        // state; a child build starts clean, as on a developer's command line.
        foreach (var name in info.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            info.Environment.Remove(name);
        }

        // No MSBuild worker nodes left running after the test: they would outlive the test run holding its output.
        info.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        if (environment != null)
        {
            foreach (var (name, value) in environment) info.Environment[name] = value;
        }

        var output = new StringBuilder();
        using var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => { if (e.Data != null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (output) output.AppendLine(e.Data); };
        var clock = Stopwatch.StartNew();
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        string command = $"{Path.GetFileName(program)} {string.Join(' ', arguments)}";
        try
        {
            await process.WaitForExitAsync().WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"`{command}` did not finish within {timeout.TotalSeconds:0} s:\n{output}");
        }

        await TestContext.Out.WriteLineAsync($"`{command}` took {clock.Elapsed.TotalSeconds:0.0} s");
        string text;
        lock (output) text = output.ToString();
        if (process.ExitCode != 0) Assert.Fail($"`{command}` exited with code {process.ExitCode}:\n{text}");
        return text;
    }

    /// <summary>A fresh folder under the temp directory, deleted by the caller.</summary>
    public static string CreateTempDirectory(string prefix)
    {
        string path = Path.Combine(Path.GetTempPath(), $"{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(path);
        return path;
    }
}
