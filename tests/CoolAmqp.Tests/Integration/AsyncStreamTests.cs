using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using NUnit.Framework;

namespace CoolAmqp.Tests.Integration;

/// <summary><see cref="Cluster.SubscribeAsync"/> (a consumer whose life is an <c>await foreach</c>), the stopping token
/// of <see cref="ConsumerOptions.OnMessageAsync"/>, and <see cref="Cluster.ShutdownAsync"/>'s token, against the
/// real broker.</summary>
[TestFixture]
[Category("Integration")]
[CancelAfter(60_000)]
public class AsyncStreamTests : SharedClusterFixture
{
    [Test]
    public async Task SubscribeAsync_yields_in_order_and_breaking_out_cancels_the_consumer_and_requeues_the_unsettled()
    {
        var queue = new Queue(Broker.Unique("subscribe"), autoDelete: false);
        await SharedCluster.DeclareAsync(queue);
        try
        {
            for (int i = 0; i < 10; i++)
            {
                await SharedCluster.PublishAsync(new Message($"m{i}"), routingKey: queue.Name, confirm: true);
            }

            var seen = new List<string>();
            await foreach (ReceivedMessage message in SharedCluster.SubscribeAsync(queue, prefetchCount: 5))
            {
                seen.Add(Encoding.UTF8.GetString(message.Body.Span));
                if (seen.Count == 4)
                {
                    break; // the fourth is not acknowledged
                }

                Assert.That(message.Ack(), Is.True);
            }

            Assert.That(seen, Is.EqualTo(new[] { "m0", "m1", "m2", "m3" }));
            Assert.That(await Broker.EventuallyAsync(async () => await ConsumersOfAsync(queue.Name) == 0, TimeSpan.FromSeconds(10)),
                Is.True, "the consumer is gone once the loop ended");
            Assert.That(await Broker.EventuallyAsync(async () => await Broker.MessageCountAsync(queue.Name) == 7, TimeSpan.FromSeconds(10)),
                Is.True, "3 acknowledged; the unacknowledged fourth and the prefetched rest are back in the queue");
            ReceivedMessage? next = await SharedCluster.GetAsync(queue);
            Assert.That(next?.Redelivered, Is.True, "the first back in the queue was delivered before");
            Assert.That(Encoding.UTF8.GetString(next!.Body.Span), Is.EqualTo("m3"));
        }
        finally
        {
            await SharedCluster.DeleteQueueAsync(queue);
        }
    }

    [Test]
    public async Task A_subscription_holds_no_more_than_its_prefetch_count()
    {
        var queue = new Queue(Broker.Unique("subscribe-bounded"), autoDelete: false);
        await SharedCluster.DeclareAsync(queue);
        try
        {
            for (int i = 0; i < 50; i++)
            {
                await SharedCluster.PublishAsync(new Message(new byte[100]), routingKey: queue.Name, confirm: true);
            }

            await using IAsyncEnumerator<ReceivedMessage> messages =
                SharedCluster.SubscribeAsync(queue, prefetchCount: 5).GetAsyncEnumerator();
            Assert.That(await messages.MoveNextAsync(), Is.True);
            await Task.Delay(500); // time for the broker to send all it may

            JsonElement row = (await Broker.ListAsync("list_queues", "name", "messages_ready", "messages_unacknowledged"))
                .Single(r => r.GetProperty("name").GetString() == queue.Name);
            Assert.That(row.GetProperty("messages_unacknowledged").GetInt64(), Is.EqualTo(5), "only the prefetch is out");
            Assert.That(row.GetProperty("messages_ready").GetInt64(), Is.EqualTo(45));
        }
        finally
        {
            await SharedCluster.DeleteQueueAsync(queue);
        }
    }

    [Test]
    public async Task Cancelling_its_token_ends_a_subscription_with_OperationCanceledException_and_cancels_the_consumer()
    {
        var queue = new Queue(Broker.Unique("subscribe-cancel"), autoDelete: false);
        await SharedCluster.DeclareAsync(queue);
        try
        {
            using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
            int received = 0;
            Assert.That(async () =>
            {
                await foreach (ReceivedMessage message in SharedCluster.SubscribeAsync(queue, cancellationToken: cancel.Token))
                {
                    received++;
                }
            }, Throws.InstanceOf<OperationCanceledException>());
            Assert.That(received, Is.Zero);
            Assert.That(await Broker.EventuallyAsync(async () => await ConsumersOfAsync(queue.Name) == 0, TimeSpan.FromSeconds(10)),
                Is.True, "the consumer is gone");
        }
        finally
        {
            await SharedCluster.DeleteQueueAsync(queue);
        }
    }

    [Test]
    public void SubscribeAsync_refuses_an_unbounded_prefetch()
    {
        Assert.That(async () =>
        {
            await foreach (ReceivedMessage _ in SharedCluster.SubscribeAsync(new Queue("never"), prefetchCount: 0))
            {
            }
        }, Throws.InstanceOf<ArgumentOutOfRangeException>());
    }

    [Test]
    public async Task OnMessageAsync_gets_a_token_that_fires_when_the_consumer_is_cancelled()
    {
        var queue = new Queue(Broker.Unique("stopping"), autoDelete: true);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var stopped = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var (consumer, ready) = SharedCluster.Consume(queue, async (message, stopping) =>
        {
            started.TrySetResult();
            try
            {
                await Task.Delay(Timeout.Infinite, stopping);
            }
            catch (OperationCanceledException)
            {
                stopped.TrySetResult(stopping.IsCancellationRequested);
            }
        });
        await ready.WaitAsync(TimeSpan.FromSeconds(10));
        await SharedCluster.PublishAsync(new Message("slow"), routingKey: queue.Name, confirm: true);
        await started.Task.WaitAsync(TimeSpan.FromSeconds(10));

        await consumer.CancelAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That(await stopped.Task.WaitAsync(TimeSpan.FromSeconds(5)), Is.True, "the callback's token fired");
    }

    [Test]
    public async Task ShutdownAsync_with_a_cancelled_token_stops_waiting_and_the_shutdown_goes_on()
    {
        Cluster cluster = await Broker.StartAsync();
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        Assert.That(() => cluster.ShutdownAsync(cancellationToken: cancelled.Token), Throws.InstanceOf<OperationCanceledException>());
        Assert.That(await Broker.EventuallyAsync(() => Task.FromResult(!cluster.IsConnected), TimeSpan.FromSeconds(10)), Is.True,
            "the connection closed anyway");
        await cluster.ShutdownAsync(); // the same shutdown, awaited to its end
    }

    private static async Task<long> ConsumersOfAsync(string queue) =>
        (await Broker.ListAsync("list_queues", "name", "consumers"))
            .Where(r => r.GetProperty("name").GetString() == queue)
            .Select(r => r.GetProperty("consumers").GetInt64())
            .SingleOrDefault();
}
