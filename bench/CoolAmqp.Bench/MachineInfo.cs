using System;
using System.Diagnostics;
using System.IO;
using System.Runtime.InteropServices;

namespace CoolAmqp.Bench;

/// <summary>Where and on what the numbers were measured: CPU model and cores (lscpu), OS, runtime, commit.</summary>
internal sealed record MachineInfo(string CpuModel, int Cores, string Os, string Runtime)
{
    public static MachineInfo Detect()
    {
        var model = "unknown CPU";
        var cores = Environment.ProcessorCount;
        var lscpu = RunTool("lscpu", "", null);
        if (lscpu is not null)
        {
            foreach (var line in lscpu.Split('\n'))
            {
                var colon = line.IndexOf(':', StringComparison.Ordinal);
                if (colon < 0) continue;
                var key = line[..colon].Trim();
                var value = line[(colon + 1)..].Trim();
                if (key == "Model name") model = value;
                else if (key == "CPU(s)" && int.TryParse(value, System.Globalization.CultureInfo.InvariantCulture, out var n)) cores = n;
            }
        }
        return new MachineInfo(model, cores, RuntimeInformation.OSDescription, RuntimeInformation.FrameworkDescription);
    }

    /// <summary>Short commit of the repository, with "-dirty" when tracked files differ from it; "unknown" outside git.</summary>
    public static (string Commit, bool Dirty) Commit(string repoRoot)
    {
        var head = RunTool("git", "rev-parse --short=10 HEAD", repoRoot)?.Trim();
        if (string.IsNullOrEmpty(head)) return ("unknown", false);
        var status = RunTool("git", "status --porcelain --untracked-files=no", repoRoot);
        return (head, !string.IsNullOrWhiteSpace(status));
    }

    /// <summary>The directory holding CoolAmqp.sln, searched upwards from the working directory and then the binary.</summary>
    public static string? FindRepoRoot()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "CoolAmqp.sln"))) return dir.FullName;
            }
        }
        return null;
    }

    private static string? RunTool(string file, string arguments, string? workingDirectory)
    {
        try
        {
            var info = new ProcessStartInfo(file, arguments)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
                WorkingDirectory = workingDirectory ?? Directory.GetCurrentDirectory(),
            };
            info.Environment["LC_ALL"] = "C";
            using var process = Process.Start(info);
            if (process is null) return null;
            var output = process.StandardOutput.ReadToEnd();
            process.WaitForExit(5000);
            return process.ExitCode == 0 ? output : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }
}
