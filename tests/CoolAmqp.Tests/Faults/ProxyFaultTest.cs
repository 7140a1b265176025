using System;
using System.Threading.Tasks;
using CoolAmqp.Tests.Integration;
using NUnit.Framework;

namespace CoolAmqp.Tests.Faults;

/// <summary>A fault test against the real broker (COOLAMQP_BROKER) behind a <see cref="TcpProxy"/> of its own, which
/// cuts and stalls the connection as a network would.</summary>
public abstract class ProxyFaultTest : FaultTest
{
    /// <summary>The proxy in front of the broker, new for each test.</summary>
    protected TcpProxy Proxy { get; private set; } = null!;

    /// <summary>The broker itself (its credentials and vhost).</summary>
    protected NodeDefinition RealBroker { get; private set; } = null!;

    [SetUp]
    public void StartProxy()
    {
        RealBroker = NodeDefinition.Parse(Broker.Uri);
        Proxy = new TcpProxy(RealBroker.Host, RealBroker.Port);
    }

    [TearDown]
    public async Task StopProxy() => await Proxy.DisposeAsync();

    /// <summary>The broker as reached through the proxy.</summary>
    protected NodeDefinition ThroughProxy(int? heartbeat = null, double connectionTimeoutSeconds = 5) =>
        new("127.0.0.1", RealBroker.User, RealBroker.Password, RealBroker.VirtualHost, heartbeat, Proxy.Port)
        {
            ConnectionTimeout = TimeSpan.FromSeconds(connectionTimeoutSeconds),
        };
}
