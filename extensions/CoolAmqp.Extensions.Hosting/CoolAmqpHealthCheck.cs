using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace CoolAmqp.Extensions.Hosting;

/// <summary>The cluster's health: Healthy when connected, Degraded while the broker blocks publishing
/// (connection.blocked), the registration's failure status (Unhealthy by default) when not connected. The data
/// names the configured nodes (<c>nodes</c>) and the node of the current or last connection (<c>node</c>), without
/// passwords.</summary>
internal sealed class CoolAmqpHealthCheck : IHealthCheck
{
    private readonly Cluster _cluster;

    public CoolAmqpHealthCheck(Cluster cluster)
    {
        _cluster = cluster;
    }

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object> { ["nodes"] = string.Join(", ", _cluster.Nodes) };
        NodeDefinition? node = _cluster.ConnectedNode;
        if (node is not null)
        {
            data["node"] = node.ToString();
        }

        HealthCheckResult result;
        if (!_cluster.IsConnected)
        {
            result = new HealthCheckResult(context.Registration.FailureStatus,
                node is null ? "Not connected to the broker." : $"Not connected to the broker (last connected to {node}).",
                data: data);
        }
        else if (_cluster.IsBlocked)
        {
            result = HealthCheckResult.Degraded(
                $"Connected to {node}, but the broker blocks publishing (connection.blocked: a memory or disk alarm).",
                data: data);
        }
        else
        {
            result = HealthCheckResult.Healthy($"Connected to {node}.", data);
        }

        return Task.FromResult(result);
    }
}
