using System;
using System.Collections.Generic;
using System.Globalization;

namespace CoolAmqp.Bench;

/// <summary>Command line of the end-to-end runner; every default is chosen so a full run takes a few minutes on 2 cores.</summary>
internal sealed class BenchOptions
{
    public const string DefaultBroker = "amqp://guest:guest@127.0.0.1:5672/";

    /// <summary>The TLS listener of tools/broker.sh tls, when --tls names no URI and COOLAMQP_TLS_BROKER is unset.</summary>
    public const string DefaultTlsBroker = "amqps://guest:guest@localhost:5671/";
    public const string ClientCoolAmqp = "coolamqp";
    public const string ClientRabbitMq = "rabbitmq";
    public const string ClientRabbitMqFast = "rabbitmq-fast";
    public const string ClientC = "c";

    /// <summary>Every client, in the order they run; the first is the one the report's ratios are of.</summary>
    public static readonly string[] AllClients = [ClientCoolAmqp, ClientRabbitMq, ClientRabbitMqFast, ClientC];

    public const string Usage = """
        CoolAmqp.Bench - CoolAmqp against RabbitMQ.Client 7.2.2 and librabbitmq-c, end to end, against one broker.
        The broker is COOLAMQP_BROKER (default amqp://guest:guest@127.0.0.1:5672/); with --tls, COOLAMQP_TLS_BROKER.

          --quick               smoke run: small counts, 1 repetition (seconds)
          --reps N              measured runs per client and case, alternated A B A B (default 3; --quick 1)
          --warmups N           full-size warm-up runs per client and case before them (default 2; --quick: 1 small)
          --scenarios LIST      publish,publish-confirm,consume,consume-ack,roundtrip (default: all)
          --sizes LIST          body sizes 16,1K,64K,1M (default: all; 1M is run by publish only)
          --clients LIST        coolamqp,rabbitmq,rabbitmq-fast,c (default: all; librabbitmq-c is an alias of c)
                                rabbitmq-fast: publish-confirm with confirmation tracking off and its own window;
                                c: librabbitmq-c, built by bench/c/build.sh at start (unavailable if that fails)
          --scale X             multiply every message count by X (default 1)
          --count SIZE=N        messages per run at SIZE for the throughput scenarios (repeatable)
          --roundtrips SIZE=N   round trips per run at SIZE (repeatable)
          --max-unconfirmed N   publish-confirm window (default 1000)
          --prefetch N          consumer prefetch (default 1000)
          --timeout SECONDS     a run that takes longer fails (default 180)
          --tls [URI]           every connection over TLS to URI (amqps://; default COOLAMQP_TLS_BROKER, else
                                amqps://guest:guest@localhost:5671/, the node of tools/broker.sh tls); both .NET
                                clients verify the server against the CA file only; the C client is not run over TLS
          --tls-ca FILE         the CA's PEM file (default: the URI's cacertfile, else $COOLAMQP_TLS_CERTS/ca.pem,
                                else the certs of tools/broker.sh tls)
          --out DIR             results directory (default <repo>/bench/results)
          --no-save             print only, write no files
          --otel                listen to CoolAmqp's (and RabbitMQ.Client's) ActivitySource, sampling every span,
                                and to every instrument of their meters: the cost of telemetry with a listener
          --update-readme       also write the table into bench/README.md ("## End-to-end runner")
          --require-all         exit 1 when a client is unavailable (default: reported, exit 0)
          --help                this text
        """;

    public Uri Broker { get; private set; } = new(DefaultBroker);

    /// <summary>Whether every connection goes over TLS (--tls); <see cref="Broker"/> is then the amqps:// URI.</summary>
    public bool Tls { get; private set; }

    /// <summary>--tls-ca, or null for the URI's cacertfile or the default (<see cref="BenchTls.DefaultCaFile"/>).</summary>
    public string? TlsCaFile { get; private set; }
    public bool Quick { get; private set; }
    public int Repetitions { get; private set; } = 3;

    /// <summary>Warm-up runs per client and case (full size unless --quick).</summary>
    public int Warmups { get; private set; } = 2;
    public List<Scenario> Scenarios { get; } = [];
    public List<int> Sizes { get; } = [];
    public List<string> Clients { get; } = [];
    public double Scale { get; private set; } = 1;
    public Dictionary<int, int> Counts { get; } = [];
    public Dictionary<int, int> Roundtrips { get; } = [];
    public int MaxUnconfirmed { get; private set; } = 1000;
    public ushort Prefetch { get; private set; } = 1000;
    public TimeSpan Timeout { get; private set; } = TimeSpan.FromSeconds(180);
    public string? OutputDirectory { get; private set; }
    public bool Save { get; private set; } = true;
    public bool UpdateReadme { get; private set; }
    public bool RequireAll { get; private set; }

    /// <summary>--otel: an ActivityListener sampling all and a MeterListener on the clients' telemetry.</summary>
    public bool Otel { get; private set; }
    public bool Help { get; private set; }

    public static BenchOptions Parse(IReadOnlyList<string> args, string? brokerVariable, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        string? tlsBroker = null;
        var options = new BenchOptions();
        if (!string.IsNullOrWhiteSpace(brokerVariable))
        {
            options.Broker = Uri.TryCreate(brokerVariable, UriKind.Absolute, out var uri)
                ? uri
                : throw new ArgumentException($"COOLAMQP_BROKER is not an absolute URI: '{brokerVariable}'.");
        }
        int? reps = null;
        int? warmups = null;
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            string? inline = null;
            var eq = arg.IndexOf('=', StringComparison.Ordinal);
            if (arg.StartsWith("--", StringComparison.Ordinal) && eq > 0)
            {
                // --reps=3 as well as --reps 3; --count=16=1000 splits at the first '='.
                inline = arg[(eq + 1)..];
                arg = arg[..eq];
            }
            string Value()
            {
                if (inline is not null) return inline;
                if (i + 1 >= args.Count) throw new ArgumentException($"{arg} needs a value.");
                return args[++i];
            }
            switch (arg)
            {
                case "--quick": options.Quick = true; break;
                case "--reps": reps = PositiveInt(arg, Value()); break;
                case "--warmups": warmups = PositiveInt(arg, Value()); break;
                case "--scenarios":
                    foreach (var s in List(Value())) options.Scenarios.Add(ScenarioNames.Parse(s));
                    break;
                case "--sizes":
                    foreach (var s in List(Value())) options.Sizes.Add(Bench.Sizes.Parse(s));
                    break;
                case "--clients":
                    foreach (var s in List(Value()))
                    {
                        var c = s.ToLowerInvariant();
                        if (c == "librabbitmq-c") c = ClientC;
                        if (Array.IndexOf(AllClients, c) < 0)
                        {
                            throw new ArgumentException($"Unknown client '{s}'; expected coolamqp, rabbitmq, rabbitmq-fast or c.");
                        }
                        if (!options.Clients.Contains(c)) options.Clients.Add(c);
                    }
                    break;
                case "--scale":
                    options.Scale = double.TryParse(Value(), NumberStyles.Float, CultureInfo.InvariantCulture, out var scale) && scale > 0
                        ? scale
                        : throw new ArgumentException("--scale needs a positive number.");
                    break;
                case "--count": SizeCount(arg, Value(), options.Counts); break;
                case "--roundtrips": SizeCount(arg, Value(), options.Roundtrips); break;
                case "--max-unconfirmed": options.MaxUnconfirmed = PositiveInt(arg, Value()); break;
                case "--prefetch":
                    var prefetch = PositiveInt(arg, Value());
                    options.Prefetch = prefetch <= ushort.MaxValue ? (ushort)prefetch : throw new ArgumentException("--prefetch is at most 65535.");
                    break;
                case "--timeout": options.Timeout = TimeSpan.FromSeconds(PositiveInt(arg, Value())); break;
                case "--tls":
                    options.Tls = true;
                    // A URI is optional: --tls=URI, or --tls followed by an amqps:// argument.
                    if (inline is not null) tlsBroker = inline;
                    else if (i + 1 < args.Count && args[i + 1].StartsWith("amqps://", StringComparison.OrdinalIgnoreCase)) tlsBroker = args[++i];
                    break;
                case "--tls-ca": options.TlsCaFile = Value(); break;
                case "--out": options.OutputDirectory = Value(); break;
                case "--no-save": options.Save = false; break;
                case "--otel": options.Otel = true; break;
                case "--update-readme": options.UpdateReadme = true; break;
                case "--require-all": options.RequireAll = true; break;
                case "--help" or "-h": options.Help = true; break;
                default: throw new ArgumentException($"Unknown argument '{args[i]}'. Try --help.");
            }
        }
        if (options.Tls)
        {
            tlsBroker ??= environment("COOLAMQP_TLS_BROKER");
            if (string.IsNullOrWhiteSpace(tlsBroker)) tlsBroker = DefaultTlsBroker;
            options.Broker = Uri.TryCreate(tlsBroker, UriKind.Absolute, out var uri)
                && string.Equals(uri.Scheme, "amqps", StringComparison.OrdinalIgnoreCase)
                ? uri
                : throw new ArgumentException($"--tls needs an absolute amqps:// URI, got '{tlsBroker}'.");
        }
        else if (options.TlsCaFile is not null)
        {
            throw new ArgumentException("--tls-ca goes with --tls.");
        }
        options.Repetitions = reps ?? (options.Quick ? 1 : 3);
        options.Warmups = warmups ?? (options.Quick ? 1 : 2);
        if (options.Scenarios.Count == 0) options.Scenarios.AddRange(ScenarioNames.All);
        if (options.Sizes.Count == 0) options.Sizes.AddRange(Bench.Sizes.All);
        if (options.Clients.Count == 0) options.Clients.AddRange(AllClients);
        return options;
    }

    /// <summary>The cases in run order: scenario by scenario, small bodies first.</summary>
    public List<BenchCase> Plan()
    {
        var plan = new List<BenchCase>();
        foreach (var scenario in Scenarios)
        {
            foreach (var size in Sizes)
            {
                // 1 MiB bodies are a publish-only case.
                if (size >= Bench.Sizes.MiB1 && scenario != Scenario.Publish) continue;
                plan.Add(new BenchCase(scenario, size, CountFor(scenario, size)));
            }
        }
        return plan;
    }

    /// <summary>A warm-up run before a case's measured runs: the same work, the same size (a smoke run: smaller).
    /// Full size because the JIT's tiering takes that long to settle: with one tenth-size warm-up the first measured
    /// runs still ran partly unoptimised code, and the background compiler's CPU counted in the figures.</summary>
    public BenchCase WarmupOf(BenchCase measured) => Quick
        ? measured with { Count = Math.Clamp(measured.Count / 10, Math.Min(measured.Count, 10), 10_000) }
        : measured;

    private int CountFor(Scenario scenario, int size)
    {
        int count;
        if (scenario == Scenario.Roundtrip)
        {
            count = Roundtrips.TryGetValue(size, out var explicitCount) ? explicitCount : DefaultRoundtrips(size, Quick);
        }
        else
        {
            count = Counts.TryGetValue(size, out var explicitCount) ? explicitCount : DefaultCount(size, Quick);
        }
        return Math.Max(1, (int)Math.Round(count * Scale));
    }

    // Sized so each run moves a few seconds' worth of messages; large bodies fewer, to bound the broker's memory.
    private static int DefaultCount(int size, bool quick) => size switch
    {
        <= 256 => quick ? 5_000 : 200_000,
        <= 4 * 1024 => quick ? 2_000 : 50_000,
        <= 128 * 1024 => quick ? 200 : 5_000,
        _ => quick ? 20 : 300,
    };

    private static int DefaultRoundtrips(int size, bool quick) => size switch
    {
        <= 4 * 1024 => quick ? 300 : 5_000,
        _ => quick ? 100 : 2_000,
    };

    private static string[] List(string value) =>
        value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static int PositiveInt(string name, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw new ArgumentException($"{name} needs a positive integer, got '{value}'.");

    private static void SizeCount(string name, string value, Dictionary<int, int> into)
    {
        var eq = value.IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0) throw new ArgumentException($"{name} needs SIZE=N, got '{value}'.");
        into[Bench.Sizes.Parse(value[..eq])] = PositiveInt(name, value[(eq + 1)..]);
    }
}
