using System;
using System.Collections.Generic;
using System.IO;
using System.Threading.Tasks;
using NUnit.Framework;

namespace CoolAmqp.Package.Tests;

/// <summary>The runtime's netstandard2.0 build outside .NET: tools/CoolAmqp.MonoSample (a .NET Framework 4.7.2 program,
/// built with the solution) run under Debian's Mono, the stand-in for .NET Framework here, against the broker.
/// The test command installs Mono (tools/mono.sh).</summary>
[TestFixture]
public sealed class MonoSampleTests
{
    [Test]
    public async Task The_netstandard2_0_build_publishes_and_consumes_under_Mono()
    {
        string sample = Path.Combine(Dotnet.Root, "tools", "CoolAmqp.MonoSample", "bin", Dotnet.Configuration, "net472");
        string program = Path.Combine(sample, "CoolAmqp.MonoSample.exe");
        Assert.That(program, Does.Exist, "dotnet build CoolAmqp.sln builds the sample");
        Assert.That(Path.Combine(sample, "CoolAmqp.dll"), Does.Exist);

        string run = await Dotnet.RunProgramAsync("mono", sample, [program, Dotnet.BrokerUri], TimeSpan.FromMinutes(1),
            new Dictionary<string, string>());
        Assert.That(run, Does.Contain("Runtime: Mono"), "it ran under Mono, not .NET");
        Assert.That(run, Does.Contain("Received 'hello from the netstandard2.0 build'"));
        Assert.That(run.TrimEnd(), Does.EndWith("OK"));
    }
}
