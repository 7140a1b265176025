using System;
using System.Diagnostics;
using System.Linq;
using System.Text;
using System.Threading.Tasks;
using CoolAmqp.Framing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using NUnit.Framework;

namespace CoolAmqp.Extensions.Hosting.Tests;

/// <summary>Hosted consumers against the real broker: a scope per message, acknowledgement after success, the
/// documented settlement after a failure, and the handler's token at shutdown.</summary>
[TestFixture]
[Category("Integration")]
[CancelAfter(60_000)]
public class ConsumerTests
{
    private static IHost Build(Action<IServiceCollection> consumers, object? singleton = null)
    {
        HostApplicationBuilder builder = TestHost.CreateBuilder();
        builder.Services.AddCoolAmqp(o =>
        {
            o.Nodes.Add(Broker.Uri);
            o.Name = Broker.Unique("consumer");
        });
        builder.Services.AddSingleton<Deliveries>();
        builder.Services.AddScoped<PerMessage>();
        if (singleton is Gate gate)
        {
            builder.Services.AddSingleton(gate);
        }

        consumers(builder.Services);
        return builder.Build();
    }

    private static ValueTask PublishAsync(IHost host, string queue, string body) =>
        host.Services.GetRequiredService<Cluster>().PublishAsync(new Message(Encoding.UTF8.GetBytes(body)), routingKey: queue, confirm: true);

    /// <summary>The consumer declares its queue, not durable: the test deletes it after.</summary>
    private static void Declared(CoolAmqpConsumerOptions options)
    {
        options.DeclareQueue = true;
        options.Durable = false;
    }

    private static Task<bool> CountsBecomeAsync(string queue, (long Ready, long Unacked) counts) =>
        Broker.EventuallyAsync(async () => await Broker.CountsAsync(queue) == counts, TimeSpan.FromSeconds(10));

    private static async Task DeleteAsync(params string[] queues)
    {
        await using Cluster setup = await Broker.StartAsync();
        foreach (string queue in queues)
        {
            await setup.DeleteQueueAsync(queue);
        }
    }

    [Test]
    public async Task A_handler_gets_each_message_in_a_scope_of_its_own_and_each_is_acknowledged()
    {
        string queue = Broker.Unique("scoped");
        using IHost host = Build(s => s.AddCoolAmqpConsumer<RecordingHandler>(queue, Declared));
        await host.StartAsync();
        try
        {
            foreach (string body in new[] { "one", "two", "three" })
            {
                await PublishAsync(host, queue, body);
            }

            var deliveries = host.Services.GetRequiredService<Deliveries>();
            Assert.That(await deliveries.CountReachesAsync(3), Is.True);
            Assert.Multiple(() =>
            {
                Assert.That(Bodies.Of(deliveries.All), Is.EqualTo(new[] { "one", "two", "three" }), "in order (MaxConcurrency 1)");
                Assert.That(deliveries.All.Select(s => s.ScopedId).Distinct().Count(), Is.EqualTo(3), "a new scope per message");
                Assert.That(deliveries.All.All(s => s.ScopeIsConsistent), Is.True, "the handler's scoped service is its scope's");
            });
            Assert.That(await CountsBecomeAsync(queue, (0, 0)), Is.True, "every message was acknowledged");
        }
        finally
        {
            await host.StopAsync();
            await DeleteAsync(queue);
        }
    }

    [Test]
    public async Task A_failing_handler_gets_its_message_rejected_without_requeue_so_the_broker_dead_letters_it()
    {
        string queue = Broker.Unique("failing");
        string deadLetters = Broker.Unique("dead-letters");
        var dlx = new Exchange(Broker.Unique("dlx"), ExchangeType.Fanout, autoDelete: true);
        await using (Cluster setup = await Broker.StartAsync())
        {
            await setup.DeclareAsync(dlx);
            await setup.DeclareAsync(new Queue(deadLetters, exchange: dlx));
            await setup.DeclareAsync(new Queue(queue, arguments: new FieldTable { ["x-dead-letter-exchange"] = dlx.Name }));
        }

        // The queue exists with its dead-letter argument; the consumer must not declare it (default).
        using IHost host = Build(s => s.AddCoolAmqpConsumer<FailingHandler>(queue));
        await host.StartAsync();
        try
        {
            await PublishAsync(host, queue, "poison");

            Assert.That(await host.Services.GetRequiredService<Deliveries>().CountReachesAsync(1), Is.True);
            Assert.That(await CountsBecomeAsync(deadLetters, (1, 0)), Is.True, "dead-lettered");
            Assert.That(await Broker.CountsAsync(queue), Is.EqualTo((0L, 0L)), "not requeued, not left unacknowledged");
            await Task.Delay(300);
            Assert.That(host.Services.GetRequiredService<Deliveries>().All, Has.Count.EqualTo(1), "delivered once, not again");
        }
        finally
        {
            await host.StopAsync();
            await DeleteAsync(queue, deadLetters);
        }
    }

    [Test]
    public async Task With_Requeue_a_failed_message_goes_back_to_the_queue_and_is_delivered_again()
    {
        string queue = Broker.Unique("requeue");
        using IHost host = Build(s => s.AddCoolAmqpConsumer<FailOnceHandler>(queue, o =>
        {
            Declared(o);
            o.OnHandlerError = HandlerErrorAction.Requeue;
        }));
        await host.StartAsync();
        try
        {
            await PublishAsync(host, queue, "retry me");

            var deliveries = host.Services.GetRequiredService<Deliveries>();
            Assert.That(await deliveries.CountReachesAsync(2), Is.True);
            Assert.That(deliveries.All.Select(s => s.Redelivered), Is.EqualTo(new[] { false, true }));
            Assert.That(await CountsBecomeAsync(queue, (0, 0)), Is.True, "acknowledged the second time");
        }
        finally
        {
            await host.StopAsync();
            await DeleteAsync(queue);
        }
    }

    [Test]
    public async Task Stopping_the_host_fires_the_handlers_token_and_the_message_it_gave_up_goes_back_to_the_queue()
    {
        string queue = Broker.Unique("stop");
        var gate = new Gate();
        using IHost host = Build(s => s.AddCoolAmqpConsumer<WaitingHandler>(queue, Declared), gate);
        await host.StartAsync();
        try
        {
            await PublishAsync(host, queue, "slow");
            await gate.Started.Task.WaitAsync(TimeSpan.FromSeconds(10));
            var clock = Stopwatch.StartNew();

            await host.StopAsync();

            Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)), "well within the host's 10 s shutdown timeout");
            Assert.That(gate.Cancelled.Task.IsCompleted, Is.True, "the handler's token fired");
            Assert.That(await CountsBecomeAsync(queue, (1, 0)), Is.True, "the message is back in the queue, ready");
        }
        finally
        {
            await host.StopAsync();
            await DeleteAsync(queue);
        }
    }

    [Test]
    public async Task A_handler_that_finishes_when_the_host_stops_still_gets_its_message_acknowledged()
    {
        string queue = Broker.Unique("drain");
        var gate = new Gate { FinishWhenCancelled = true };
        using IHost host = Build(s => s.AddCoolAmqpConsumer<WaitingHandler>(queue, Declared), gate);
        await host.StartAsync();
        try
        {
            await PublishAsync(host, queue, "finishes");
            await gate.Started.Task.WaitAsync(TimeSpan.FromSeconds(10));

            await host.StopAsync();

            Assert.That(gate.Cancelled.Task.IsCompleted, Is.True);
            // The consumer is cancelled only after its handlers are done, so the ack went out on the open channel.
            Assert.That(await CountsBecomeAsync(queue, (0, 0)), Is.True, "acknowledged, not requeued");
        }
        finally
        {
            await DeleteAsync(queue);
        }
    }

    [Test]
    public void A_second_consumer_of_the_same_queue_or_one_without_a_queue_name_is_refused()
    {
        var services = new ServiceCollection();
        services.AddCoolAmqpConsumer<RecordingHandler>("jobs");

        Assert.That(() => services.AddCoolAmqpConsumer<FailingHandler>("jobs"),
            Throws.InvalidOperationException.With.Message.Contains("'jobs' is already registered"));
        Assert.That(() => services.AddCoolAmqpConsumer<FailingHandler>(""), Throws.ArgumentException);
    }

    [Test]
    public void A_consumer_with_invalid_settings_fails_the_start_naming_its_queue()
    {
        using IHost host = Build(s => s.AddCoolAmqpConsumer<RecordingHandler>("bad-settings", o => o.MaxConcurrency = 0));

        Assert.That(() => host.StartAsync(),
            Throws.TypeOf<Microsoft.Extensions.Options.OptionsValidationException>().With.Message.Contains("'bad-settings'"));
    }
}
