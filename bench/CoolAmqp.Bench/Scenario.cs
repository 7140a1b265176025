using System;

namespace CoolAmqp.Bench;

/// <summary>The five end-to-end scenarios of the runner.</summary>
internal enum Scenario
{
    Publish,
    PublishConfirm,
    Consume,
    ConsumeAck,
    Roundtrip,
}

internal static class ScenarioNames
{
    public static readonly Scenario[] All =
        [Scenario.Publish, Scenario.PublishConfirm, Scenario.Consume, Scenario.ConsumeAck, Scenario.Roundtrip];

    public static string Name(this Scenario scenario) => scenario switch
    {
        Scenario.Publish => "publish",
        Scenario.PublishConfirm => "publish-confirm",
        Scenario.Consume => "consume",
        Scenario.ConsumeAck => "consume-ack",
        Scenario.Roundtrip => "roundtrip",
        _ => throw new ArgumentOutOfRangeException(nameof(scenario), scenario, null),
    };

    public static Scenario Parse(string name)
    {
        foreach (var scenario in All)
        {
            if (string.Equals(scenario.Name(), name, StringComparison.OrdinalIgnoreCase)) return scenario;
        }
        throw new ArgumentException($"Unknown scenario '{name}'; expected one of publish, publish-confirm, consume, consume-ack, roundtrip.");
    }
}

/// <summary>One cell of the plan: a scenario at one body size with its message count.</summary>
internal sealed record BenchCase(Scenario Scenario, int BodySize, int Count)
{
    public override string ToString() => $"{Scenario.Name()} {Sizes.Format(BodySize)} x{Count}";
}

internal static class Sizes
{
    public const int B16 = 16;
    public const int KiB1 = 1024;
    public const int KiB64 = 64 * 1024;
    public const int MiB1 = 1024 * 1024;

    public static readonly int[] All = [B16, KiB1, KiB64, MiB1];

    public static string Format(int bytes) => bytes switch
    {
        >= MiB1 when bytes % MiB1 == 0 => $"{bytes / MiB1} MiB",
        >= KiB1 when bytes % KiB1 == 0 => $"{bytes / KiB1} KiB",
        _ => $"{bytes} B",
    };

    /// <summary>Parses 16, 1K, 1KiB, 64K, 1M, 1MiB (binary units).</summary>
    public static int Parse(string text)
    {
        var t = text.Trim().ToUpperInvariant();
        if (t.EndsWith("IB", StringComparison.Ordinal)) t = t[..^2];
        else if (t.EndsWith('B')) t = t[..^1];
        var multiplier = 1;
        if (t.EndsWith('K')) { multiplier = KiB1; t = t[..^1]; }
        else if (t.EndsWith('M')) { multiplier = MiB1; t = t[..^1]; }
        if (!int.TryParse(t, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) || n <= 0)
        {
            throw new ArgumentException($"Bad body size '{text}'; expected e.g. 16, 1K, 64K, 1M.");
        }
        return checked(n * multiplier);
    }
}
