using System.Threading.Tasks;
using NUnit.Framework;

namespace CoolAmqp.Tests.Integration;

/// <summary>A fixture whose tests share one started cluster on the test broker (named after the fixture), and
/// declare queues of their own.</summary>
public abstract class SharedClusterFixture
{
    /// <summary>The fixture's cluster, started once before its tests.</summary>
    protected Cluster SharedCluster { get; private set; } = null!;

    [OneTimeSetUp]
    public async Task StartSharedClusterAsync() =>
        SharedCluster = await Broker.StartAsync(new ClusterOptions { Name = GetType().Name });

    [OneTimeTearDown]
    public async Task StopSharedClusterAsync() => await SharedCluster.DisposeAsync();

    /// <summary>An auto-delete queue with a name no other test uses.</summary>
    protected static Queue NewQueue(string what) => new(Broker.Unique(what), autoDelete: true);
}
