using System;
using System.Collections.Generic;
using Microsoft.Extensions.Options;

namespace CoolAmqp.Extensions.Hosting;

/// <summary>Refuses hosting options the cluster could not be built from, naming the setting (and, when the options
/// come from configuration, its configuration key), so the host fails at start with an
/// <see cref="OptionsValidationException"/> rather than later with something vaguer.</summary>
internal sealed class CoolAmqpHostingOptionsValidator : IValidateOptions<CoolAmqpHostingOptions>
{
    private readonly ConfigurationPath _path;

    public CoolAmqpHostingOptionsValidator(IEnumerable<HostingConfigurationSection> sections)
    {
        string? section = null;
        foreach (HostingConfigurationSection bound in sections)
        {
            section = bound.Path;
        }

        _path = new ConfigurationPath(section);
    }

    public ValidateOptionsResult Validate(string? name, CoolAmqpHostingOptions options)
    {
        string nodes = _path.Describe(nameof(CoolAmqpHostingOptions.Nodes));
        var failures = new List<string>();
        try
        {
            if (ClusterFactory.Nodes(options).Count == 0)
            {
                failures.Add($"{nodes} is empty: at least one broker node (an AMQP URI such as amqp://user:pass@host:5672/) is needed.");
            }
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException)
        {
            failures.Add($"{nodes} has an entry that is not a valid node: {ex.Message}");
        }

        if (options.Heartbeat is < 0 or > ushort.MaxValue)
        {
            failures.Add($"{_path.Describe(nameof(CoolAmqpHostingOptions.Heartbeat))} must be 0 to 65535 seconds.");
        }

        CheckPositive(options.ConnectionTimeout, nameof(CoolAmqpHostingOptions.ConnectionTimeout), failures);
        CheckPositive(options.RpcTimeout, nameof(CoolAmqpHostingOptions.RpcTimeout), failures);
        CheckPositive(options.ShutdownTimeout, nameof(CoolAmqpHostingOptions.ShutdownTimeout), failures);
        CheckPositive(options.BlockedPublishTimeout, nameof(CoolAmqpHostingOptions.BlockedPublishTimeout), failures);
        CheckPositive(options.StartTimeout, nameof(CoolAmqpHostingOptions.StartTimeout), failures);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private void CheckPositive(TimeSpan? value, string setting, List<string> failures)
    {
        if (value is { } v && v <= TimeSpan.Zero && v != System.Threading.Timeout.InfiniteTimeSpan)
        {
            failures.Add($"{_path.Describe(setting)} must be positive (or infinite), not {v}.");
        }
    }
}

/// <summary>Where options come from, for error messages: the configuration section's path, or none for code.</summary>
internal readonly struct ConfigurationPath
{
    private readonly string? _section;

    public ConfigurationPath(string? section)
    {
        _section = section;
    }

    /// <summary>E.g. <c>CoolAmqpHostingOptions.Nodes (configuration key 'CoolAmqp:Nodes')</c>.</summary>
    public string Describe(string setting) => _section is { Length: > 0 } section
        ? $"{nameof(CoolAmqpHostingOptions)}.{setting} (configuration key '{section}:{setting}')"
        : $"{nameof(CoolAmqpHostingOptions)}.{setting}";
}

/// <summary>Registered by the configuration overload of <c>AddCoolAmqp</c>: the section the options are bound from.</summary>
internal sealed class HostingConfigurationSection
{
    public HostingConfigurationSection(string path)
    {
        Path = path;
    }

    public string Path { get; }
}
