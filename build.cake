// CoolAmqp build script. Targets: Build, Test, Bench, MicroBench, Demo, Soak, Fuzz, Pack.
//   dotnet tool restore && dotnet cake --target=Test
// Test, Demo and Bench start a private RabbitMQ (tools/broker.sh) unless COOLAMQP_BROKER names one, and stop
// what they started afterwards, also on failure. Test also starts a three-node cluster (unless COOLAMQP_CLUSTER and
// COOLAMQP_CLUSTER_NODES name one) and the TLS node (tools/broker.sh tls, unless COOLAMQP_TLS_BROKER names one), at
// the same time as the single node, and installs the reference spec (tools/reference-spec.sh).
using System.Text.RegularExpressions;
using System.Xml.Linq;

var target = Argument("target", "Build");
var configuration = Argument("configuration", "Release");
var benchArgs = Argument("bench-args", "");
var soakMinutes = Argument("minutes", "10");
var root = MakeAbsolute(Directory("."));
var artifacts = root.Combine("artifacts");
var solution = root.CombineWithFilePath("CoolAmqp.sln");
var brokerScript = root.CombineWithFilePath("tools/broker.sh");
var referenceSpecScript = root.CombineWithFilePath("tools/reference-spec.sh");
var monoScript = root.CombineWithFilePath("tools/mono.sh");
var nativeAotScript = root.CombineWithFilePath("tools/native-aot.sh");
var startedBroker = false;
var startedCluster = false;
var startedTls = false;
var TlsNodeName = EnvironmentVariable("COOLAMQP_TLS_NAME") ?? "coolamqp-tls";
// What broker.sh env-tls prints; set together when the TLS node is someone else's.
string[] TlsVariables = { "COOLAMQP_TLS_BROKER", "COOLAMQP_TLS_PLAIN_BROKER", "COOLAMQP_TLS_NODE", "COOLAMQP_TLS_CERTS" };
const int ClusterSize = 3;

// Runs a command with live output and fails the build on a non-zero exit code.
void Run(string tool, string arguments, IDictionary<string, string> env = null)
{
    var settings = new ProcessSettings { Arguments = arguments, WorkingDirectory = root };
    if (env != null) settings.EnvironmentVariables = env;
    var code = StartProcess(tool, settings);
    if (code != 0) throw new Exception($"{tool} {arguments} exited with code {code}");
}

// Starts a broker unless one is configured; returns the environment the tests and the demo need.
IDictionary<string, string> StartBroker()
{
    var env = new Dictionary<string, string>();
    var configured = EnvironmentVariable("COOLAMQP_BROKER");
    if (!string.IsNullOrEmpty(configured))
    {
        Information($"Using the broker from COOLAMQP_BROKER: {Regex.Replace(configured, ":[^:@/]*@", ":***@")}");
        env["COOLAMQP_BROKER"] = configured;
        var node = EnvironmentVariable("COOLAMQP_NODE");
        if (!string.IsNullOrEmpty(node)) env["COOLAMQP_NODE"] = node;
        return env;
    }
    startedBroker = true;
    Run("bash", $"\"{brokerScript}\" start");
    ReadEnv("env", env);
    return env;
}

// The lines NAME=VALUE a broker.sh command prints.
void ReadEnv(string command, IDictionary<string, string> env)
{
    var code = StartProcess("bash", new ProcessSettings { Arguments = $"\"{brokerScript}\" {command}", RedirectStandardOutput = true }, out var lines);
    if (code != 0) throw new Exception($"broker.sh {command} exited with code {code}");
    foreach (var line in lines)
    {
        var eq = line.IndexOf('=');
        if (eq > 0) env[line.Substring(0, eq)] = line.Substring(eq + 1);
    }
}

// The single node (StartBroker) and, unless COOLAMQP_CLUSTER names one, a cluster of ClusterSize nodes, and with
// withTls, unless COOLAMQP_TLS_BROKER names one, the TLS node, all booted at the same time; returns the environment
// of all of them.
IDictionary<string, string> StartBrokerAndCluster(bool withTls = false)
{
    var configured = EnvironmentVariable("COOLAMQP_CLUSTER");
    var startCluster = string.IsNullOrEmpty(configured);
    var configuredTls = EnvironmentVariable("COOLAMQP_TLS_BROKER");
    var startTls = withTls && string.IsNullOrEmpty(configuredTls);
    if (!startCluster)
    {
        Information($"Using the cluster from COOLAMQP_CLUSTER: {Regex.Replace(configured, ":[^:@/,]*@", ":***@")}");
    }

    // Installed first, so that the starts below do not each install it.
    if (startCluster || startTls) Run("bash", $"\"{brokerScript}\" install");
    var clock = System.Diagnostics.Stopwatch.StartNew();
    IProcess cluster = null, tls = null;
    if (startCluster)
    {
        startedCluster = true;
        cluster = StartAndReturnProcess("bash", new ProcessSettings { Arguments = $"\"{brokerScript}\" cluster {ClusterSize}", WorkingDirectory = root });
    }

    if (startTls)
    {
        startedTls = true;
        tls = StartAndReturnProcess("bash", new ProcessSettings { Arguments = $"\"{brokerScript}\" tls", WorkingDirectory = root });
    }

    IDictionary<string, string> started;
    try
    {
        started = StartBroker();
    }
    finally
    {
        cluster?.WaitForExit();
        tls?.WaitForExit();
    }

    if (cluster != null && cluster.GetExitCode() != 0) throw new Exception($"broker.sh cluster {ClusterSize} exited with code {cluster.GetExitCode()}");
    if (tls != null && tls.GetExitCode() != 0) throw new Exception($"broker.sh tls exited with code {tls.GetExitCode()}");
    if (startCluster)
    {
        ReadEnv("env-cluster", started);
    }
    else
    {
        started["COOLAMQP_CLUSTER"] = configured;
        var nodes = EnvironmentVariable("COOLAMQP_CLUSTER_NODES");
        if (!string.IsNullOrEmpty(nodes)) started["COOLAMQP_CLUSTER_NODES"] = nodes;
    }

    if (startTls)
    {
        ReadEnv("env-tls", started);
    }
    else if (withTls)
    {
        Information($"Using the TLS node from COOLAMQP_TLS_BROKER: {Regex.Replace(configuredTls, ":[^:@/]*@", ":***@")}");
        foreach (var name in TlsVariables)
        {
            var value = EnvironmentVariable(name);
            if (!string.IsNullOrEmpty(value)) started[name] = value;
        }
    }

    if (startCluster || startTls) Information($"Brokers ready in {clock.Elapsed.TotalSeconds:0} s");
    return started;
}

void StopBroker()
{
    if (!startedBroker) return;
    startedBroker = false;
    StartProcess("bash", $"\"{brokerScript}\" stop {EnvironmentVariable("COOLAMQP_NODE_NAME") ?? "coolamqp"}");
}

// Stops the single node, the cluster and the TLS node (whichever were started here) at the same time; waits for all.
void StopBrokerAndCluster()
{
    IProcess cluster = null, tls = null;
    if (startedCluster)
    {
        startedCluster = false;
        cluster = StartAndReturnProcess("bash", new ProcessSettings { Arguments = $"\"{brokerScript}\" stop cluster", WorkingDirectory = root });
    }

    if (startedTls)
    {
        startedTls = false;
        tls = StartAndReturnProcess("bash", new ProcessSettings { Arguments = $"\"{brokerScript}\" stop {TlsNodeName}", WorkingDirectory = root });
    }

    StopBroker();
    cluster?.WaitForExit();
    tls?.WaitForExit();
}

Task("Build").Does(() =>
{
    Run("dotnet", $"build \"{solution}\" -c {configuration}");
});

Task("Test").IsDependentOn("Build").Does(() =>
{
    var results = artifacts.Combine("test-results");
    CleanDirectory(results);
    // The generator tests compare our spec with RabbitMQ's as Debian ships it (amqp-specs); installed when missing.
    Run("bash", $"\"{referenceSpecScript}\"");
    // The package tests run the netstandard2.0 build under Mono (tools/CoolAmqp.MonoSample); installed when missing.
    Run("bash", $"\"{monoScript}\"");
    // The package tests publish a Native AOT sample: clang and zlib1g-dev, installed when missing.
    Run("bash", $"\"{nativeAotScript}\"");
    Exception failure = null;
    try
    {
        var env = StartBrokerAndCluster(withTls: true);
        try
        {
            // One test assembly at a time (-m:1): several of them turn the shared broker's memory alarm on or stop cluster
            // nodes, which would fail another assembly's publishes if they ran side by side.
            Run("dotnet", $"test \"{solution}\" -c {configuration} --no-build -m:1 --logger trx --results-directory \"{results}\"", env);
        }
        catch (Exception e)
        {
            failure = e;
        }
    }
    finally
    {
        StopBrokerAndCluster();
    }

    // One plain summary line over every test assembly, read from the TRX files.
    int passed = 0, failed = 0, skipped = 0, files = 0;
    foreach (var trx in GetFiles(results.FullPath + "/**/*.trx"))
    {
        files++;
        var counters = XDocument.Load(trx.FullPath).Descendants().First(e => e.Name.LocalName == "Counters");
        int Attr(string name) => int.Parse(counters.Attribute(name)?.Value ?? "0");
        passed += Attr("passed");
        failed += Attr("failed") + Attr("error") + Attr("timeout") + Attr("aborted");
        skipped += Attr("notExecuted");
    }
    Information($"{files} test assemblies reported");
    Console.WriteLine($"{passed} passed, {failed} failed, {skipped} skipped");
    if (failure != null) throw failure;
    if (files == 0 || passed == 0) throw new Exception("No tests ran.");
});

Task("Demo").Does(() =>
{
    try
    {
        var env = StartBroker();
        Run("dotnet", $"run --project tools/CoolAmqp.Demo -c {configuration}", env);
    }
    finally
    {
        StopBroker();
    }
});

// The end-to-end runner: CoolAmqp against RabbitMQ.Client on one broker (bench/README.md).
Task("Bench").Does(() =>
{
    try
    {
        var env = StartBroker();
        var args = string.IsNullOrEmpty(benchArgs) ? "--update-readme" : benchArgs;
        Run("dotnet", $"run --project bench/CoolAmqp.Bench -c Release -- {args}", env);
    }
    finally
    {
        StopBroker();
    }
});

// Hours of chaos, not in CI: tools/CoolAmqp.Soak publishes and consumes across the three-node cluster while nodes
// restart, connections are closed and memory alarms go off (--minutes=N, default 10).
Task("Soak").IsDependentOn("Build").Does(() =>
{
    try
    {
        var env = StartBrokerAndCluster();
        Run("dotnet", $"run --project tools/CoolAmqp.Soak -c {configuration} --no-build -- --minutes {soakMinutes}", env);
    }
    finally
    {
        StopBrokerAndCluster();
    }
});

// BenchmarkDotNet microbenchmarks of the codec hot paths; needs no broker.
Task("MicroBench").Does(() =>
{
    var args = string.IsNullOrEmpty(benchArgs) ? "--filter * --job short" : benchArgs;
    Run("dotnet", $"run --project bench/CoolAmqp.Benchmarks -c Release -- {args}");
});

// Coverage-guided fuzzing of the parsers (AFL++ and SharpFuzz, tools/fuzz.sh); the corpus it grows is committed and
// replayed by Test. --seconds=N sets the time (default 600).
Task("Fuzz").Does(() =>
{
    Run("bash", $"\"{root.CombineWithFilePath("tools/fuzz.sh")}\" {Argument("seconds", "600")}");
});

// NuGet packages into artifacts/packages: the library, the hosting extensions and the coolamqp dotnet tool,
// each with its .snupkg. The generator ships inside nothing: it only builds the library. --ci (or CI=true)
// makes the build deterministic (ContinuousIntegrationBuild: /_/ source paths).
Task("Pack").Does(() =>
{
    var output = artifacts.Combine("packages");
    CleanDirectory(output);
    var ci = HasArgument("ci") || EnvironmentVariable("CI") == "true" ? " -p:ContinuousIntegrationBuild=true" : "";
    var projects = new[]
    {
        "runtime/CoolAmqp.csproj",
        "extensions/CoolAmqp.Extensions.Hosting/CoolAmqp.Extensions.Hosting.csproj",
        "tools/CoolAmqp.Cli/CoolAmqp.Cli.csproj",
    };
    // Cleaned first: a property such as ContinuousIntegrationBuild does not invalidate an earlier build.
    foreach (var project in projects) Run("dotnet", $"clean {project} -c {configuration} -v q");
    foreach (var project in projects) Run("dotnet", $"pack {project} -c {configuration} -o \"{output}\"{ci}");

    // A project that is not packable packs to nothing without an error: check that each one gave its two files.
    foreach (var project in projects)
    {
        var id = System.IO.Path.GetFileNameWithoutExtension(project);
        foreach (var extension in new[] { "nupkg", "snupkg" })
        {
            var made = System.IO.Directory.GetFiles(output.FullPath, $"{id}.*.{extension}")
                .Any(f => Regex.IsMatch(System.IO.Path.GetFileName(f), $@"^{Regex.Escape(id)}\.[0-9]"));
            if (!made) throw new Exception($"dotnet pack {project} made no .{extension}");
        }
    }
});

RunTarget(target);
