using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using CoolAmqp.Framing;
using NUnit.Framework;

namespace CoolAmqp.Tests.Integration;

/// <summary>Publishing: plain, with confirms, nacks, mandatory returns, channel errors, transactions.</summary>
[TestFixture]
[Category("Integration")]
public class PublishTests : SharedClusterFixture
{
    private async Task<Queue> DeclareAsync(string what, FieldTable? arguments = null)
    {
        var queue = new Queue(Broker.Unique(what), exclusive: true, arguments: arguments);
        await SharedCluster.DeclareAsync(queue);
        return queue;
    }

    [Test]
    public async Task Plain_publishes_all_arrive_in_the_queue()
    {
        Queue queue = await DeclareAsync("plain");
        for (int i = 0; i < 500; i++)
        {
            await SharedCluster.PublishAsync(new Message($"message {i}"), routingKey: queue.Name);
        }

        Assert.That(await Broker.EventuallyAsync(async () =>
            (await SharedCluster.DeclareAsync(queue, passive: true)).MessageCount == 500, TimeSpan.FromSeconds(10)), Is.True);
        Assert.That(await Broker.MessageCountAsync(queue.Name), Is.EqualTo(500), "rabbitmqctl agrees");
    }

    [Test]
    public async Task Confirmed_publishes_are_in_the_queue_when_their_tasks_complete()
    {
        Queue queue = await DeclareAsync("confirm");
        var pending = new List<Task>();
        for (int i = 0; i < 1000; i++)
        {
            pending.Add(SharedCluster.PublishAsync(new Message($"message {i}"), routingKey: queue.Name, confirm: true).AsTask());
        }

        await Task.WhenAll(pending);
        QueueDeclareResult state = await SharedCluster.DeclareAsync(queue, passive: true);
        Assert.That(state.MessageCount, Is.EqualTo(1000));
    }

    [Test]
    public async Task A_publish_the_broker_refuses_fails_with_MessageNackedException()
    {
        // A full queue with reject-publish overflow makes RabbitMQ nack further publishes.
        Queue queue = await DeclareAsync("nack", new FieldTable { { "x-max-length", 1 }, { "x-overflow", "reject-publish" } });
        await SharedCluster.PublishAsync(new Message("first"), routingKey: queue.Name, confirm: true);
        Assert.ThrowsAsync<MessageNackedException>(async () =>
            await SharedCluster.PublishAsync(new Message("second"), routingKey: queue.Name, confirm: true));

        // The publisher channel is still fine.
        await SharedCluster.PurgeAsync(queue);
        await SharedCluster.PublishAsync(new Message("third"), routingKey: queue.Name, confirm: true);
        Assert.That((await SharedCluster.DeclareAsync(queue, passive: true)).MessageCount, Is.EqualTo(1));
    }

    [Test]
    public async Task A_mandatory_publish_nobody_takes_fails_with_MessageReturnedException([Values] bool confirm)
    {
        string routingKey = Broker.Unique("nowhere");
        var error = Assert.ThrowsAsync<MessageReturnedException>(async () =>
            await SharedCluster.PublishAsync(new Message("lost"), routingKey: routingKey, confirm: confirm, mandatory: true));
        Assert.Multiple(() =>
        {
            Assert.That(error!.ReplyCode, Is.EqualTo(312), "NO_ROUTE");
            Assert.That(error.RoutingKey, Is.EqualTo(routingKey));
            Assert.That(error.Exchange, Is.EqualTo(string.Empty));
        });

        // A routable mandatory publish next to it succeeds.
        Queue queue = await DeclareAsync("mandatory");
        await SharedCluster.PublishAsync(new Message("kept"), routingKey: queue.Name, confirm: confirm, mandatory: true);
        Assert.That((await SharedCluster.DeclareAsync(queue, passive: true)).MessageCount, Is.EqualTo(1));
    }

    [Test]
    public async Task Returns_among_many_publishes_fail_only_the_returned_ones()
    {
        Queue queue = await DeclareAsync("mixed");
        string nowhere = Broker.Unique("nowhere");
        var routed = new List<Task>();
        var returned = new List<Task>();
        for (int i = 0; i < 50; i++)
        {
            routed.Add(SharedCluster.PublishAsync(new Message("ok"), routingKey: queue.Name, confirm: true, mandatory: true).AsTask());
            returned.Add(SharedCluster.PublishAsync(new Message("lost"), routingKey: nowhere, confirm: true, mandatory: true).AsTask());
        }

        await Task.WhenAll(routed);
        foreach (Task task in returned)
        {
            Assert.ThrowsAsync<MessageReturnedException>(async () => await task);
        }

        Assert.That((await SharedCluster.DeclareAsync(queue, passive: true)).MessageCount, Is.EqualTo(50));
    }

    /// <summary>A headers exchange with one binding, to a durable queue, for messages with header route=yes. Such an
    /// exchange routes by headers and ignores the routing key: publishes with the same key route differently without
    /// a binding changing between them. The queue is durable and the messages persistent, so the queue confirms a
    /// routed message only once it is on disk, well after the broker returned an unroutable one published next.</summary>
    private async Task<(Exchange Exchange, Queue Queue)> DeclareHeadersRouteAsync(string what)
    {
        var exchange = new Exchange(Broker.Unique(what), ExchangeType.Headers, autoDelete: true);
        await SharedCluster.DeclareAsync(exchange);
        var queue = new Queue(Broker.Unique(what), durable: true, exchange: exchange,
            bindArguments: new FieldTable { { "x-match", "all" }, { "route", "yes" } });
        await SharedCluster.DeclareAsync(queue);
        return (exchange, queue);
    }

    private static Message HeadersMessage(string body, bool routes) => new(body, new MessageProperties
    {
        Headers = new FieldTable { { "route", routes ? "yes" : "no" } },
        DeliveryMode = DeliveryModes.Persistent,
    });

    [Test]
    public async Task Of_two_mandatory_publishes_in_flight_to_one_key_only_the_unroutable_one_fails([Values] bool routedFirst)
    {
        // Both are in flight together. With the routed one first, its queue has not confirmed it when the broker
        // returns the second: matching the return to the oldest pending publish to that key would fail the wrong one.
        var (exchange, queue) = await DeclareHeadersRouteAsync("return-pair");
        try
        {
            Message routed = HeadersMessage("routed", routes: true);
            Message unroutable = HeadersMessage("unroutable", routes: false);
            Task first = SharedCluster.PublishAsync(routedFirst ? routed : unroutable, exchange, "same-key", mandatory: true).AsTask();
            Task second = SharedCluster.PublishAsync(routedFirst ? unroutable : routed, exchange, "same-key", mandatory: true).AsTask();
            (Task routedPublish, Task returnedPublish) = routedFirst ? (first, second) : (second, first);

            var error = Assert.ThrowsAsync<MessageReturnedException>(async () => await returnedPublish);
            Assert.Multiple(() =>
            {
                Assert.That(error!.ReplyCode, Is.EqualTo(312), "NO_ROUTE");
                Assert.That(error.Exchange, Is.EqualTo(exchange.Name));
                Assert.That(error.RoutingKey, Is.EqualTo("same-key"));
            });
            await routedPublish;

            using ReceivedMessage? kept = await SharedCluster.GetAsync(queue);
            Assert.That(kept?.Body.ToArray(), Is.EqualTo("routed"u8.ToArray()));
            Assert.That(await SharedCluster.GetAsync(queue), Is.Null, "nothing else reached the queue");
        }
        finally
        {
            await SharedCluster.DeleteQueueAsync(queue);
        }
    }

    [Test]
    public async Task Mandatory_publishes_in_flight_to_one_key_that_route_differently_each_get_their_own_outcome()
    {
        // 200 publishes with one body and one key, routed or not by their headers in an irregular pattern: only
        // the headers tell a returned message from a routed one that is acked in the same flush.
        var (exchange, queue) = await DeclareHeadersRouteAsync("return-many");
        try
        {
            const int Count = 200;
            var routes = new bool[Count];
            var pending = new Task[Count];
            for (int i = 0; i < Count; i++)
            {
                routes[i] = i % 3 != 1 && i % 7 != 5;
                pending[i] = SharedCluster.PublishAsync(HeadersMessage("same", routes[i]), exchange, "same-key", mandatory: true).AsTask();
            }

            var outcomes = new List<string>();
            for (int i = 0; i < Count; i++)
            {
                try
                {
                    await pending[i];
                    outcomes.Add("routed");
                }
                catch (MessageReturnedException)
                {
                    outcomes.Add("returned");
                }
            }

            Assert.That(outcomes, Is.EqualTo(routes.Select(r => r ? "routed" : "returned")));
            Assert.That((await SharedCluster.DeclareAsync(queue, passive: true)).MessageCount, Is.EqualTo(routes.Count(r => r)));
        }
        finally
        {
            await SharedCluster.DeleteQueueAsync(queue);
        }
    }

    [Test]
    public async Task Publishing_to_a_missing_exchange_fails_with_AmqpException_and_later_operations_work()
    {
        string exchange = Broker.Unique("missing-exchange");
        var error = Assert.ThrowsAsync<AmqpException>(async () =>
            await SharedCluster.PublishAsync(new Message("x"), exchange: exchange, routingKey: "k", confirm: true));
        Assert.Multiple(() =>
        {
            Assert.That(error!.ReplyCode, Is.EqualTo(404), "NOT_FOUND");
            Assert.That(error.ReplyText, Does.Contain(exchange));
            Assert.That(error.IsHardError, Is.False);
        });

        Queue queue = await DeclareAsync("after-error");
        await SharedCluster.PublishAsync(new Message("after"), routingKey: queue.Name, confirm: true);
        await SharedCluster.PublishAsync(new Message("after, plain"), routingKey: queue.Name);
        Assert.That(await Broker.EventuallyAsync(async () =>
            (await SharedCluster.DeclareAsync(queue, passive: true)).MessageCount == 2, TimeSpan.FromSeconds(5)), Is.True);
    }

    [Test]
    public async Task A_declare_error_fails_only_that_call()
    {
        string missing = Broker.Unique("missing-queue");
        var error = Assert.ThrowsAsync<AmqpException>(() => SharedCluster.DeclareAsync(new Queue(missing), passive: true));
        Assert.That(error!.ReplyCode, Is.EqualTo(404));

        Queue queue = await DeclareAsync("after-declare-error");
        Assert.That((await SharedCluster.DeclareAsync(queue, passive: true)).QueueName, Is.EqualTo(queue.Name));
    }

    [Test]
    public async Task Transaction_commit_delivers_and_rollback_discards()
    {
        Queue queue = await DeclareAsync("tx");
        await using (Transaction tx = await SharedCluster.BeginTransactionAsync())
        {
            tx.Publish(new Message("one"), routingKey: queue.Name);
            tx.Publish(new Message("two"), routingKey: queue.Name);
            await Task.Delay(200);
            Assert.That((await SharedCluster.DeclareAsync(queue, passive: true)).MessageCount, Is.Zero, "nothing before commit");
            await tx.CommitAsync();
            Assert.That((await SharedCluster.DeclareAsync(queue, passive: true)).MessageCount, Is.EqualTo(2));

            tx.Publish(new Message("three"), routingKey: queue.Name);
            await tx.RollbackAsync();
        }

        Assert.That((await SharedCluster.DeclareAsync(queue, passive: true)).MessageCount, Is.EqualTo(2));
    }

    [Test]
    public async Task Publishing_after_shutdown_fails_and_unconfirmed_publishes_fail_on_shutdown()
    {
        Cluster cluster = await Broker.StartAsync();
        Queue queue = new(Broker.Unique("shutdown"), exclusive: true);
        await cluster.DeclareAsync(queue);
        var tasks = new List<Task>();
        for (int i = 0; i < 200; i++)
        {
            tasks.Add(cluster.PublishAsync(new Message(new byte[10_000]), routingKey: queue.Name, confirm: true).AsTask());
        }

        await cluster.ShutdownAsync();
        foreach (Task task in tasks)
        {
            // Each was either confirmed before the close or failed by it: none hangs.
            Assert.That(await Task.WhenAny(task, Task.Delay(5000)), Is.SameAs(task));
            Assert.That(task.IsCompletedSuccessfully || task.Exception?.InnerException is ConnectionDeadException, Is.True,
                task.Exception?.ToString());
        }

        Assert.ThrowsAsync<ConnectionDeadException>(async () =>
            await cluster.PublishAsync(new Message("late"), routingKey: queue.Name, confirm: true));
        await cluster.DisposeAsync();
    }

    /// <summary>Gets every message of <paramref name="queue"/> and counts those whose number is not the next one.</summary>
    private static async Task<(int Count, int OutOfOrder)> ReadOrderAsync(Cluster cluster, Queue queue)
    {
        int count = 0;
        int outOfOrder = 0;
        while (await cluster.GetAsync(queue) is { } message)
        {
            using (message)
            {
                if (BitConverter.ToInt32(message.Body.Span) != count)
                {
                    outOfOrder++;
                }

                count++;
            }
        }

        return (count, outOfOrder);
    }

    [Test]
    public async Task Publishes_in_flight_together_keep_their_order_while_their_channel_opens([Values] bool confirm)
    {
        // A fresh cluster: the first publishes find their channel still opening and wait; those after them must not
        // overtake them (they did: a window of 100 arrived reversed).
        await using Cluster cluster = await Broker.StartAsync();
        var queue = new Queue(Broker.Unique("order-opening"), exclusive: true);
        await cluster.DeclareAsync(queue);
        const int Count = 300;
        var pending = new Task[Count];
        for (int i = 0; i < Count; i++)
        {
            pending[i] = cluster.PublishAsync(new Message(BitConverter.GetBytes(i)), routingKey: queue.Name, confirm: confirm).AsTask();
        }

        await Task.WhenAll(pending).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.That(await Broker.EventuallyAsync(async () =>
            (await cluster.DeclareAsync(queue, passive: true)).MessageCount == Count, TimeSpan.FromSeconds(10)), Is.True);
        Assert.That(await ReadOrderAsync(cluster, queue), Is.EqualTo((Count, 0)));
    }

    [Test]
    public async Task Publishes_in_flight_together_keep_their_order_when_the_outbound_buffer_is_full()
    {
        // 64 x 256 KiB is twice the writer's 8 MiB high-water mark: the later ones wait for room, woken together.
        Queue queue = await DeclareAsync("order-full");
        await SharedCluster.PublishAsync(new Message(BitConverter.GetBytes(-1)), routingKey: "nowhere");
        const int Count = 64;
        var pending = new Task[Count];
        for (int i = 0; i < Count; i++)
        {
            byte[] body = new byte[256 * 1024];
            BitConverter.TryWriteBytes(body, i);
            pending[i] = SharedCluster.PublishAsync(new Message(body), routingKey: queue.Name).AsTask();
        }

        await Task.WhenAll(pending).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.That(await Broker.EventuallyAsync(async () =>
            (await SharedCluster.DeclareAsync(queue, passive: true)).MessageCount == Count, TimeSpan.FromSeconds(20)), Is.True);
        Assert.That(await ReadOrderAsync(SharedCluster, queue), Is.EqualTo((Count, 0)));
    }
}
