using System;
using System.Collections.Generic;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace CoolAmqp.Extensions.Hosting;

/// <summary>Adds CoolAmqp's health check to <c>services.AddHealthChecks()</c>.</summary>
public static class CoolAmqpHealthChecksBuilderExtensions
{
    /// <summary>
    /// Adds a check of the hosted <see cref="Cluster"/> (registered by
    /// <see cref="CoolAmqpServiceCollectionExtensions.AddCoolAmqp(IServiceCollection, Action{CoolAmqpHostingOptions}?)"/>):
    /// Healthy when it is connected, Degraded while the broker blocks publishing (connection.blocked: a memory or disk
    /// alarm; publishes are held back), <paramref name="failureStatus"/> when it is not connected (before the start,
    /// while it reconnects, after it gave up). The result's data has <c>nodes</c> (the configured nodes) and, once it
    /// connected, <c>node</c> (the current or last node), without passwords.
    /// </summary>
    /// <param name="builder">The health checks builder.</param>
    /// <param name="name">The check's name. Default <c>coolamqp</c>.</param>
    /// <param name="failureStatus">The status when not connected. Default <see cref="HealthStatus.Unhealthy"/>.</param>
    /// <param name="tags">Tags to filter checks by (e.g. <c>ready</c>).</param>
    /// <param name="timeout">How long the check may take. Default: the health check service's.</param>
    /// <returns>The builder.</returns>
    public static IHealthChecksBuilder AddCoolAmqp(this IHealthChecksBuilder builder, string name = "coolamqp",
        HealthStatus? failureStatus = null, IEnumerable<string>? tags = null, TimeSpan? timeout = null)
    {
        if (builder is null)
        {
            throw new ArgumentNullException(nameof(builder));
        }

        if (name is null)
        {
            throw new ArgumentNullException(nameof(name));
        }

        return builder.Add(new HealthCheckRegistration(name,
            static services => new CoolAmqpHealthCheck(services.GetRequiredService<Cluster>()),
            failureStatus, tags, timeout));
    }
}
