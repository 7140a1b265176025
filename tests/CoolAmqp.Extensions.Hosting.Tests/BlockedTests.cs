using System;
using System.Collections.Generic;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using NUnit.Framework;

namespace CoolAmqp.Extensions.Hosting.Tests;

/// <summary>A memory alarm on the real broker (<c>set_vm_memory_high_watermark 0</c>) blocks publishing, and the
/// health check says Degraded until it clears. The alarm is node-wide, so the fixture runs alone and always clears it.</summary>
[TestFixture]
[Category("Integration")]
[NonParallelizable]
[CancelAfter(60_000)]
public class BlockedTests
{
    [TearDown]
    public async Task ClearAlarm() => await Broker.CtlAsync("set_vm_memory_high_watermark", "0.4");

    [Test]
    public async Task The_health_check_is_Degraded_while_the_broker_blocks_publishing_and_Healthy_again_after()
    {
        HostApplicationBuilder builder = TestHost.CreateBuilder();
        builder.Services.AddCoolAmqp(o =>
        {
            o.Nodes.Add(Broker.Uri);
            o.Name = Broker.Unique("blocked");
        });
        builder.Services.AddHealthChecks().AddCoolAmqp();
        using IHost host = builder.Build();
        var health = host.Services.GetRequiredService<HealthCheckService>();
        var cluster = host.Services.GetRequiredService<Cluster>();
        await host.StartAsync();
        var triggers = new List<Task>();
        try
        {
            Assert.That((await health.CheckHealthAsync()).Entries["coolamqp"].Status, Is.EqualTo(HealthStatus.Healthy));

            // RabbitMQ blocks a connection when it publishes during an alarm (and the alarm takes effect at the node's
            // next memory check): so publish until the check sees it.
            await Broker.CtlAsync("set_vm_memory_high_watermark", "0");
            bool degraded = await Broker.EventuallyAsync(async () =>
            {
                triggers.Add(cluster.PublishAsync(new Message("trigger"u8.ToArray()), routingKey: Broker.Unique("nowhere")).AsTask());
                return (await health.CheckHealthAsync()).Entries["coolamqp"].Status == HealthStatus.Degraded;
            }, TimeSpan.FromSeconds(20));
            Assert.That(degraded, Is.True, "Degraded while blocked");
            HealthReportEntry blocked = (await health.CheckHealthAsync()).Entries["coolamqp"];
            Assert.That(blocked.Description, Does.Contain("blocks publishing"));
            Assert.That(blocked.Data["node"], Does.Contain("127.0.0.1:"));

            await Broker.CtlAsync("set_vm_memory_high_watermark", "0.4");

            Assert.That(await Broker.EventuallyAsync(async () =>
                (await health.CheckHealthAsync()).Entries["coolamqp"].Status == HealthStatus.Healthy, TimeSpan.FromSeconds(20)), Is.True,
                "Healthy once unblocked");
            await Task.WhenAll(triggers);
        }
        finally
        {
            await ClearAlarm();
            await host.StopAsync();
        }
    }
}
