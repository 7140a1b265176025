using System;
using System.Collections.Generic;
using System.IO;
using System.Runtime.InteropServices;
using System.Threading.Tasks;
using NUnit.Framework;

namespace CoolAmqp.Package.Tests;

/// <summary>Publishes tools/CoolAmqp.AotSample with Native AOT (trimmed, compiled ahead of time; every trim and AOT
/// warning is an error there) and runs the executable against the broker: connect, declare, publish, consume.</summary>
[TestFixture]
[NonParallelizable]
public sealed class AotSampleTests
{
    [Test]
    public async Task Native_AOT_sample_publishes_and_consumes_a_message()
    {
        string output = Dotnet.CreateTempDirectory("coolamqp-aot");
        try
        {
            // BuildProjectReferences=false: the library as `dotnet build CoolAmqp.sln` built it, not rebuilt under
            // the other test assemblies.
            await Dotnet.RunAsync(Dotnet.Root,
            [
                "publish", "tools/CoolAmqp.AotSample/CoolAmqp.AotSample.csproj", "-c", Dotnet.Configuration,
                "-r", RuntimeInformation.RuntimeIdentifier, "-o", output, "-p:BuildProjectReferences=false",
            ], TimeSpan.FromMinutes(10));

            string executable = Path.Combine(output, "CoolAmqp.AotSample");
            Assert.That(Path.Combine(output, "CoolAmqp.dll"), Does.Not.Exist, "a native executable has the library compiled in");
            string run = await Dotnet.RunProgramAsync(executable, output, ["--expect-native"], TimeSpan.FromMinutes(1),
                new Dictionary<string, string> { ["COOLAMQP_BROKER"] = Dotnet.BrokerUri });
            Assert.That(run, Does.Contain("Native AOT executable"));
            Assert.That(run, Does.Contain("Received 'hello from native code', content type text/plain, header sample=aot"));
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }
}
