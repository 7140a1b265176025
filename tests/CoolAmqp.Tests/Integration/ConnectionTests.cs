using System;
using System.Diagnostics;
using System.Linq;
using System.Net.Sockets;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using CoolAmqp.Framing;
using NUnit.Framework;

namespace CoolAmqp.Tests.Integration;

/// <summary>Connecting, the handshake's failures, client properties, lifecycle misuse, drain timing.</summary>
[TestFixture]
[Category("Integration")]
public class ConnectionTests
{
    private static NodeDefinition NodeWith(string? user = null, string? password = null, string? virtualHost = null, int? port = null)
    {
        NodeDefinition broker = Broker.Node();
        return new NodeDefinition(broker.Host, user ?? broker.User, password ?? broker.Password,
            virtualHost ?? broker.VirtualHost, port: port ?? broker.Port);
    }

    [Test]
    public async Task Wrong_password_fails_at_once_with_AuthenticationFailedException()
    {
        await using var cluster = new Cluster([NodeWith(password: "definitely-not-the-password")]);
        var clock = Stopwatch.StartNew();
        var error = Assert.ThrowsAsync<AuthenticationFailedException>(() => cluster.StartAsync(timeout: TimeSpan.FromSeconds(10)));
        Assert.Multiple(() =>
        {
            Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)), "must not wait for the timeout");
            Assert.That(error!.ReplyCode, Is.EqualTo(403));
            Assert.That(error.Message, Does.Contain("guest"));
        });
    }

    [Test]
    public async Task Unknown_virtual_host_fails_with_AmqpException_naming_it()
    {
        string vhost = Broker.Unique("vhost");
        await using var cluster = new Cluster([NodeWith(virtualHost: vhost)]);
        var error = Assert.ThrowsAsync<AmqpException>(() => cluster.StartAsync(timeout: TimeSpan.FromSeconds(10)));
        Assert.Multiple(() =>
        {
            Assert.That(error, Is.Not.InstanceOf<AuthenticationFailedException>());
            Assert.That(error!.Message, Does.Contain(vhost));
            Assert.That(error.ReplyCode, Is.EqualTo(530), "RabbitMQ refuses an unknown vhost with NOT_ALLOWED");
        });
    }

    [Test]
    public async Task Nothing_listening_fails_with_connection_refused_not_a_timeout()
    {
        using var listener = new TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();

        await using var cluster = new Cluster([new NodeDefinition("127.0.0.1", port: port)]);
        var clock = Stopwatch.StartNew();
        var error = Assert.ThrowsAsync<ConnectionDeadException>(() => cluster.StartAsync(timeout: TimeSpan.FromSeconds(10)));
        Assert.Multiple(() =>
        {
            Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)));
            Assert.That(error!.InnerException, Is.InstanceOf<SocketException>());
            Assert.That(((SocketException)error.InnerException!).SocketErrorCode, Is.EqualTo(SocketError.ConnectionRefused));
            Assert.That(error.Message, Does.Contain(port.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        });
    }

    [Test]
    public async Task A_peer_that_never_answers_fails_with_ConnectionDeadException_after_the_timeout()
    {
        using var listener = new TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;

        await using var cluster = new Cluster([new NodeDefinition("127.0.0.1", port: port)]);
        var clock = Stopwatch.StartNew();
        Assert.ThrowsAsync<ConnectionDeadException>(() => cluster.StartAsync(timeout: TimeSpan.FromMilliseconds(500)));
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)));
    }

    [Test]
    public async Task StartAsync_twice_throws_InvalidOperationException()
    {
        await using Cluster cluster = await Broker.StartAsync();
        Assert.ThrowsAsync<InvalidOperationException>(() => cluster.StartAsync());
        Assert.That(cluster.IsConnected, Is.True, "the first start still stands");
    }

    [Test]
    public async Task ShutdownAsync_before_StartAsync_throws_InvalidOperationException()
    {
        await using var cluster = new Cluster([Broker.Node()]);
        Assert.Throws<InvalidOperationException>(() => cluster.ShutdownAsync());
        Assert.ThrowsAsync<InvalidOperationException>(async () => await cluster.PublishAsync(new Message("x"), routingKey: "x"));
    }

    [Test]
    public async Task Client_properties_are_visible_to_the_broker()
    {
        string name = Broker.Unique("connection");
        var options = new ClusterOptions
        {
            Name = name,
            ExtraProperties = new FieldTable { { "test_marker", "marker-value" } },
        };
        await using Cluster cluster = await Broker.StartAsync(options);

        JsonElement? mine = (await Broker.ConnectionNamedAsync(name))?.GetProperty("client_properties");
        Assert.That(mine, Is.Not.Null, "list_connections should show a connection named " + name);
        JsonElement client = mine!.Value;
        JsonElement capabilities = Broker.TableField(client, "capabilities")!.Value;
        Assert.Multiple(() =>
        {
            Assert.That(Broker.TableField(client, "product")?.GetString(), Is.EqualTo("CoolAmqp"));
            Assert.That(Broker.TableField(client, "test_marker")?.GetString(), Is.EqualTo("marker-value"));
            Assert.That(Broker.TableField(client, "platform")?.GetString(), Does.Contain(".NET"));
            foreach (string capability in new[] { "publisher_confirms", "exchange_exchange_bindings", "basic.nack",
                         "consumer_cancel_notify", "connection.blocked", "authentication_failure_close", "per_consumer_qos" })
            {
                Assert.That(Broker.TableField(capabilities, capability)?.GetBoolean(), Is.True, capability);
            }
        });
    }

    [Test]
    public async Task Server_properties_name_the_broker()
    {
        await using Cluster cluster = await Broker.StartAsync();
        Assert.That(cluster.ServerProperties, Is.Not.Null);
        Assert.Multiple(() =>
        {
            Assert.That(cluster.ServerProperties!["product"]?.ToString(), Is.EqualTo("RabbitMQ"));
            Assert.That(cluster.ServerProperties.ContainsKey("capabilities"), Is.True);
        });
    }

    [Test]
    public async Task Heartbeat_interval_is_negotiated_down_to_the_clients()
    {
        string name = Broker.Unique("heartbeat");
        await using Cluster cluster = await Broker.StartAsync(new ClusterOptions { Name = name }, heartbeat: 7);
        JsonElement? row = await Broker.ConnectionNamedAsync(name, "timeout");
        Assert.That(row?.GetProperty("timeout").GetInt32(), Is.EqualTo(7));
    }

    [Test]
    public async Task Connects_over_IPv6_loopback()
    {
        NodeDefinition broker = Broker.Node();
        await using var cluster = new Cluster([new NodeDefinition("::1", broker.User, broker.Password, broker.VirtualHost, port: broker.Port)]);
        await cluster.StartAsync(timeout: TimeSpan.FromSeconds(10));
        Assert.That(cluster.IsConnected, Is.True);
        string queue = Broker.Unique("ipv6");
        QueueDeclareResult declared = await cluster.DeclareAsync(new Queue(queue, exclusive: true));
        Assert.That(declared.QueueName, Is.EqualTo(queue));
    }

    [Test]
    public async Task Drain_with_nothing_happening_waits_out_its_timeout()
    {
        await using Cluster cluster = await Broker.StartAsync();
        var clock = Stopwatch.StartNew();
        ClusterEvent e = await cluster.DrainAsync(TimeSpan.FromSeconds(5));
        Assert.Multiple(() =>
        {
            Assert.That(e, Is.SameAs(NothingMuch.Instance));
            Assert.That(clock.Elapsed, Is.GreaterThanOrEqualTo(TimeSpan.FromSeconds(4.5)));
            Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(8)));
        });

        clock.Restart();
        Assert.That(await cluster.DrainAsync(TimeSpan.Zero), Is.SameAs(NothingMuch.Instance));
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromMilliseconds(100)));
    }

    [Test]
    public async Task Shutdown_closes_the_connection_at_the_broker_and_fails_later_operations()
    {
        string name = Broker.Unique("shutdown");
        Cluster cluster = await Broker.StartAsync(new ClusterOptions { Name = name });
        await cluster.ShutdownAsync();
        Assert.That(cluster.IsConnected, Is.False);
        Assert.ThrowsAsync<ConnectionDeadException>(async () => await cluster.PublishAsync(new Message("x"), routingKey: "x"));
        Assert.That(await Broker.EventuallyAsync(async () => await Broker.ConnectionNamedAsync(name) is null,
            TimeSpan.FromSeconds(5)), Is.True, "the broker should no longer list the connection");
        await cluster.DisposeAsync();
    }

    [Test]
    public async Task Without_recovery_a_connection_closed_by_the_broker_is_reported_and_later_calls_fail_as_dead()
    {
        string name = Broker.Unique("killed");
        bool failed = false;
        // Without recovery: the loss is final and every later call says so with one exception type.
        await using Cluster cluster = await Broker.StartAsync(new ClusterOptions
        {
            Name = name,
            OnFail = () => failed = true,
            Recovery = new RecoveryOptions { Enabled = false },
        });
        await Broker.CloseConnectionAsync(name, "closed by the test");

        ClusterEvent e = await cluster.DrainAsync(TimeSpan.FromSeconds(10));
        Assert.That(e, Is.TypeOf<ConnectionLost>());
        var lost = (ConnectionLost)e;
        Assert.Multiple(() =>
        {
            Assert.That(lost.Reason, Is.InstanceOf<AmqpException>());
            Assert.That(((AmqpException)lost.Reason!).ReplyCode, Is.EqualTo(320), "CONNECTION_FORCED");
            Assert.That(cluster.IsConnected, Is.False);
        });
        Assert.That(await Broker.EventuallyAsync(() => Task.FromResult(failed), TimeSpan.FromSeconds(5)), Is.True, "OnFail should run");

        // Operations meet a dead connection: the documented type, with the broker's reason inside.
        var publish = Assert.ThrowsAsync<ConnectionDeadException>(async () =>
            await cluster.PublishAsync(new Message("x"), routingKey: "x", confirm: true));
        var declare = Assert.ThrowsAsync<ConnectionDeadException>(() => cluster.DeclareAsync(new Queue(Broker.Unique("after"))));
        Assert.Multiple(() =>
        {
            foreach (ConnectionDeadException? error in new[] { publish, declare })
            {
                Assert.That(error!.InnerException, Is.InstanceOf<AmqpException>(), error.ToString());
                Assert.That(((AmqpException)error.InnerException!).ReplyCode, Is.EqualTo(320));
                Assert.That(error.Message, Does.Contain("closed by the test"));
            }
        });
    }

    [Test]
    public async Task A_start_that_fails_is_reported_to_its_caller_only_not_to_OnFail_or_the_events()
    {
        int failures = 0;
        await using var cluster = new Cluster([NodeWith(password: "definitely-not-the-password")],
            new ClusterOptions { OnFail = () => Interlocked.Increment(ref failures) });
        Assert.ThrowsAsync<AuthenticationFailedException>(() => cluster.StartAsync(timeout: TimeSpan.FromSeconds(10)));

        // OnFail runs on the pool and the event is posted at once: give either time to show up.
        Assert.That(await cluster.DrainAsync(TimeSpan.FromMilliseconds(500)), Is.SameAs(NothingMuch.Instance),
            "no ConnectionLost for a connection that never opened");
        Assert.That(Volatile.Read(ref failures), Is.Zero, "OnFail is for an established connection failing");
    }
}
