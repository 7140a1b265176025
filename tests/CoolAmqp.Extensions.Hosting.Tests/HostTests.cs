using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using NUnit.Framework;

namespace CoolAmqp.Extensions.Hosting.Tests;

/// <summary>The cluster's life in a real host: options from code and from configuration, validation, connecting at
/// start (and giving up when the start is cancelled), closing at stop.</summary>
[TestFixture]
[Category("Integration")]
[CancelAfter(60_000)]
public class HostTests
{
    [Test]
    public async Task The_host_starts_the_cluster_which_connects_and_logs_through_the_host_and_stopping_closes_it()
    {
        string name = Broker.Unique("start");
        HostApplicationBuilder builder = TestHost.CreateBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Debug).AddFakeLogging();
        builder.Services.AddCoolAmqp(o =>
        {
            o.Nodes.Add(Broker.Uri);
            o.Name = name;
        });
        using IHost host = builder.Build();
        var cluster = host.Services.GetRequiredService<Cluster>();
        Assert.That(cluster.IsConnected, Is.False, "nothing connects before the host starts");

        await host.StartAsync();

        Assert.Multiple(() =>
        {
            Assert.That(cluster.IsConnected, Is.True);
            Assert.That(cluster.Options.LoggerFactory, Is.SameAs(host.Services.GetRequiredService<ILoggerFactory>()));
            Assert.That(host.Services.GetFakeLogCollector().GetSnapshot().Select(r => r.Category),
                Has.Some.StartsWith("CoolAmqp.Connections"), "the runtime's own logs reach the host's providers");
        });
        Assert.That(await Broker.ConnectionNamedAsync(name), Is.Not.Null, "the broker sees the connection by its name");

        await host.StopAsync();

        Assert.That(cluster.IsConnected, Is.False);
        Assert.That(await Broker.EventuallyAsync(async () => await Broker.ConnectionNamedAsync(name) is null, TimeSpan.FromSeconds(10)),
            Is.True, "the connection is closed at the broker after the host stops");
    }

    [Test]
    public async Task Options_bind_from_configuration_and_a_consumers_settings_there_win_over_the_code()
    {
        string name = Broker.Unique("config");
        string queue = Broker.Unique("config-queue");
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["CoolAmqp:Nodes:0"] = Broker.Uri,
            ["CoolAmqp:Name"] = name,
            ["CoolAmqp:Heartbeat"] = "7",
            ["CoolAmqp:ConnectionTimeout"] = "00:00:03",
            ["CoolAmqp:RpcTimeout"] = "00:00:12",
            ["CoolAmqp:ShutdownTimeout"] = "00:00:02",
            ["CoolAmqp:BlockedPublishTimeout"] = "00:00:04",
            [$"CoolAmqp:Consumers:{queue}:PrefetchCount"] = "3",
            [$"CoolAmqp:Consumers:{queue}:DeclareQueue"] = "true",
            [$"CoolAmqp:Consumers:{queue}:Durable"] = "false",
        }).Build();
        HostApplicationBuilder builder = TestHost.CreateBuilder();
        builder.Services.AddCoolAmqp(configuration.GetSection("CoolAmqp"));
        builder.Services.AddSingleton<Deliveries>();
        builder.Services.AddScoped<PerMessage>();
        builder.Services.AddCoolAmqpConsumer<RecordingHandler>(queue, o => o.PrefetchCount = 50);
        using IHost host = builder.Build();

        await host.StartAsync();
        try
        {
            var cluster = host.Services.GetRequiredService<Cluster>();
            Assert.Multiple(() =>
            {
                Assert.That(cluster.Options.Name, Is.EqualTo(name));
                Assert.That(cluster.Options.RpcTimeout, Is.EqualTo(TimeSpan.FromSeconds(12)));
                Assert.That(cluster.Options.ShutdownTimeout, Is.EqualTo(TimeSpan.FromSeconds(2)));
                Assert.That(cluster.Options.BlockedPublishTimeout, Is.EqualTo(TimeSpan.FromSeconds(4)));
                Assert.That(cluster.Nodes.Single().ConnectionTimeout, Is.EqualTo(TimeSpan.FromSeconds(3)));
                Assert.That(cluster.Nodes.Single().Heartbeat, Is.EqualTo(7));
            });

            // What the broker was told: the heartbeat in connection.tune-ok, the prefetch in basic.qos.
            System.Text.Json.JsonElement connection = await Broker.ConnectionNamedAsync(name, "timeout") ?? throw new AssertionException("no connection");
            Assert.That(connection.GetProperty("timeout").GetInt32(), Is.EqualTo(7));
            List<System.Text.Json.JsonElement> consumers = await Broker.ListAsync("list_consumers", "queue_name", "prefetch_count");
            System.Text.Json.JsonElement consumer = consumers.Single(c => c.GetProperty("queue_name").GetString() == queue);
            Assert.That(consumer.GetProperty("prefetch_count").GetInt32(), Is.EqualTo(3), "configuration wins over the code's 50");
        }
        finally
        {
            await host.StopAsync();
            await using Cluster setup = await Broker.StartAsync();
            await setup.DeleteQueueAsync(queue);
        }
    }

    [Test]
    public void Without_a_node_the_start_fails_with_a_validation_error_naming_the_setting()
    {
        HostApplicationBuilder builder = TestHost.CreateBuilder();
        builder.Services.AddCoolAmqp(o => o.Name = "no nodes");
        using IHost host = builder.Build();

        OptionsValidationException error = Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync())!;

        Assert.That(error.Message, Does.Contain("CoolAmqpHostingOptions.Nodes is empty"));
        Assert.That(error.OptionsType, Is.EqualTo(typeof(CoolAmqpHostingOptions)));
    }

    [Test]
    public void From_configuration_the_validation_error_names_the_configuration_key()
    {
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Messaging:Rabbit:Name"] = "no nodes",
        }).Build();
        HostApplicationBuilder builder = TestHost.CreateBuilder();
        builder.Services.AddCoolAmqp(configuration.GetSection("Messaging:Rabbit"));
        using IHost host = builder.Build();

        OptionsValidationException error = Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync())!;

        Assert.That(error.Message, Does.Contain("configuration key 'Messaging:Rabbit:Nodes'"));
        // The cluster cannot be had either: resolving it meets the same validation.
        Assert.That(() => host.Services.GetRequiredService<Cluster>(), Throws.TypeOf<OptionsValidationException>());
    }

    [Test]
    public void A_node_that_does_not_parse_fails_the_validation_without_showing_its_password()
    {
        HostApplicationBuilder builder = TestHost.CreateBuilder();
        builder.Services.AddCoolAmqp(o => o.Nodes.Add("amqp://user:s3cret@host:notaport/"));
        using IHost host = builder.Build();

        OptionsValidationException error = Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync())!;

        Assert.That(error.Message, Does.Contain("CoolAmqpHostingOptions.Nodes has an entry that is not a valid node"));
        Assert.That(error.Message, Does.Not.Contain("s3cret"));
    }

    [Test]
    public async Task The_start_stops_connecting_when_the_hosts_start_token_fires()
    {
        // A server that accepts connections and never speaks: the AMQP handshake would wait for the connection
        // timeout (30 s here) if the start did not honour the token.
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var accepted = new List<Socket>();
        _ = Task.Run(async () =>
        {
            while (true)
            {
                accepted.Add(await silent.AcceptSocketAsync());
            }
        });
        HostApplicationBuilder builder = TestHost.CreateBuilder();
        builder.Services.AddCoolAmqp(o =>
        {
            o.Nodes.Add($"amqp://guest:guest@127.0.0.1:{((IPEndPoint)silent.LocalEndpoint).Port}/");
            o.ConnectionTimeout = TimeSpan.FromSeconds(30);
        });
        using IHost host = builder.Build();
        using var start = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        var clock = Stopwatch.StartNew();

        Assert.That(() => host.StartAsync(start.Token), Throws.InstanceOf<OperationCanceledException>());

        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)));
        Assert.That(accepted, Is.Not.Empty, "it did try to connect");
        Assert.That(host.Services.GetRequiredService<Cluster>().IsConnected, Is.False);
    }

    [Test]
    public async Task The_health_check_is_Healthy_when_connected_and_Unhealthy_once_the_connection_is_gone()
    {
        string name = Broker.Unique("health");
        HostApplicationBuilder builder = TestHost.CreateBuilder();
        builder.Services.AddCoolAmqp(o =>
        {
            o.Nodes.Add(Broker.Uri);
            o.Name = name;
            // Without recovery the cluster stays down after the broker closes its connection, so the check has a
            // steady state to see.
            o.ConfigureCluster = c => c with { Recovery = c.Recovery with { Enabled = false } };
        });
        builder.Services.AddHealthChecks().AddCoolAmqp(tags: ["ready"]);
        using IHost host = builder.Build();
        var health = host.Services.GetRequiredService<HealthCheckService>();
        await host.StartAsync();
        try
        {
            HealthReportEntry up = (await health.CheckHealthAsync()).Entries["coolamqp"];
            Assert.Multiple(() =>
            {
                Assert.That(up.Status, Is.EqualTo(HealthStatus.Healthy));
                Assert.That(up.Data["node"], Does.Contain("127.0.0.1:").And.Not.Contain("guest:guest"));
                Assert.That(up.Tags, Is.EquivalentTo(new[] { "ready" }));
            });

            await Broker.CloseConnectionAsync(name);

            Assert.That(await Broker.EventuallyAsync(async () =>
                (await health.CheckHealthAsync()).Entries["coolamqp"].Status == HealthStatus.Unhealthy, TimeSpan.FromSeconds(10)), Is.True);
            HealthReportEntry down = (await health.CheckHealthAsync()).Entries["coolamqp"];
            Assert.That(down.Data["node"], Does.Contain("127.0.0.1:"), "it names the node it lost");
            Assert.That(down.Description, Does.StartWith("Not connected"));
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Test]
    public async Task The_health_check_is_Unhealthy_for_an_unreachable_node_when_the_start_does_not_wait()
    {
        int port = Broker.ClosedPort();
        HostApplicationBuilder builder = TestHost.CreateBuilder();
        builder.Services.AddCoolAmqp(o =>
        {
            o.Nodes.Add($"amqp://guest:guest@127.0.0.1:{port}/");
            o.WaitForConnection = false;
        });
        builder.Services.AddHealthChecks().AddCoolAmqp(name: "rabbit", failureStatus: HealthStatus.Degraded);
        builder.Services.AddHealthChecks().AddCoolAmqp(name: "rabbit-default");
        using IHost host = builder.Build();

        await host.StartAsync();
        try
        {
            HealthReport report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
            Assert.Multiple(() =>
            {
                Assert.That(report.Entries["rabbit-default"].Status, Is.EqualTo(HealthStatus.Unhealthy));
                Assert.That(report.Entries["rabbit"].Status, Is.EqualTo(HealthStatus.Degraded), "the registration's failure status");
                Assert.That(report.Entries["rabbit-default"].Data["nodes"], Does.Contain($"127.0.0.1:{port}"));
                Assert.That(report.Entries["rabbit-default"].Data.ContainsKey("node"), Is.False, "it never connected");
            });
        }
        finally
        {
            await host.StopAsync();
        }
    }
}
