using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using CoolAmqp.Framing;
using NUnit.Framework;

namespace CoolAmqp.Tests.Integration;

/// <summary>Consumers: settling, callbacks, streams, QoS, cancellation by us and by the broker, exclusivity.</summary>
[TestFixture]
[Category("Integration")]
public class ConsumeTests : SharedClusterFixture
{
    private async Task PublishAsync(Queue queue, int count, string prefix = "m")
    {
        for (int i = 0; i < count; i++)
        {
            await SharedCluster.PublishAsync(new Message($"{prefix}{i}"), routingKey: queue.Name, confirm: true);
        }
    }

    private static async Task<T> Within<T>(Task<T> task, int seconds = 10)
    {
        Assert.That(await Task.WhenAny(task, Task.Delay(TimeSpan.FromSeconds(seconds))), Is.SameAs(task), "timed out");
        return await task;
    }

    private static async Task Within(Task task, int seconds = 10)
    {
        Assert.That(await Task.WhenAny(task, Task.Delay(TimeSpan.FromSeconds(seconds))), Is.SameAs(task), "timed out");
        await task;
    }

    [Test]
    public async Task A_delivery_over_MaxBodySize_is_refused_and_dead_lettered_and_the_consumer_goes_on()
    {
        Queue dead = NewQueue("refused-dlq");
        Queue queue = new(Broker.Unique("refused"), autoDelete: true,
            arguments: new FieldTable { ["x-dead-letter-exchange"] = "", ["x-dead-letter-routing-key"] = dead.Name });
        await SharedCluster.DeclareAsync(dead);
        await using Cluster limited = await Broker.StartAsync(new ClusterOptions
        {
            Name = TestContext.CurrentContext.Test.Name,
            Limits = new ProtocolLimits { MaxBodySize = 1000 },
        });
        var (consumer, ready) = limited.Consume(queue, new ConsumerOptions { NoAck = false });
        await Within(ready);
        byte[] big = new byte[200_000];
        Random.Shared.NextBytes(big);
        await SharedCluster.PublishAsync(new Message(big), routingKey: queue.Name, confirm: true);
        await SharedCluster.PublishAsync(new Message("small"), routingKey: queue.Name, confirm: true);

        ClusterEvent first = await Within(limited.DrainAsync(TimeSpan.FromSeconds(10)).AsTask());
        Assert.That(first, Is.TypeOf<DeliveryRefused>());
        var refused = (DeliveryRefused)first;
        Assert.That(refused.Rejected, Is.True);
        Assert.That(refused.Error.Actual, Is.EqualTo(big.Length));
        ClusterEvent second = await Within(limited.DrainAsync(TimeSpan.FromSeconds(10)).AsTask());
        Assert.That(second, Is.TypeOf<MessageReceived>(), "the consumer and its channel go on");
        using (ReceivedMessage small = ((MessageReceived)second).Message)
        {
            Assert.That(Encoding.UTF8.GetString(small.Body.Span), Is.EqualTo("small"));
            small.Ack();
        }

        // Rejected without requeue: the broker dead-lettered it, whole.
        ReceivedMessage? letter = null;
        for (int i = 0; i < 50 && letter is null; i++)
        {
            letter = await SharedCluster.GetAsync(dead);
            if (letter is null)
            {
                await Task.Delay(100);
            }
        }

        Assert.That(letter, Is.Not.Null, "the refused message reached the dead-letter queue");
        using (letter)
        {
            Assert.That(letter!.Body.ToArray(), Is.EqualTo(big));
            Assert.That(letter.Properties.Headers?.ContainsKey("x-death"), Is.True);
        }

        Assert.That(limited.IsConnected, Is.True);
        Assert.That(consumer.State, Is.EqualTo(ConsumerState.Online));
        await SharedCluster.DeleteQueueAsync(dead);
    }

    [Test]
    public async Task Ack_removes_nack_requeues_and_reject_without_requeue_drops()
    {
        Queue queue = NewQueue("settle");
        var received = new BlockingCollection<ReceivedMessage>();
        var (consumer, ready) = SharedCluster.Consume(queue, new ConsumerOptions { NoAck = false, OnMessage = received.Add });
        await ready;
        await PublishAsync(queue, 3);

        var first = new List<ReceivedMessage>();
        for (int i = 0; i < 3; i++)
        {
            Assert.That(received.TryTake(out ReceivedMessage? m, TimeSpan.FromSeconds(5)), Is.True);
            first.Add(m!);
        }

        first.Single(m => Encoding.UTF8.GetString(m.Body.Span) == "m0").Ack();
        first.Single(m => Encoding.UTF8.GetString(m.Body.Span) == "m1").Nack(requeue: true);
        first.Single(m => Encoding.UTF8.GetString(m.Body.Span) == "m2").Reject(requeue: false);

        // m1 comes back, redelivered.
        Assert.That(received.TryTake(out ReceivedMessage? again, TimeSpan.FromSeconds(5)), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(Encoding.UTF8.GetString(again!.Body.Span), Is.EqualTo("m1"));
            Assert.That(again.Redelivered, Is.True);
        });
        Assert.That(received.TryTake(out _, TimeSpan.FromMilliseconds(300)), Is.False, "m2 was dropped, m0 acked");

        // Unacked m1 is the only message left at the broker.
        Assert.That(await Broker.EventuallyAsync(async () =>
        {
            JsonElement row = (await Broker.ListAsync("list_queues", "name", "messages_ready", "messages_unacknowledged"))
                .Single(r => r.GetProperty("name").GetString() == queue.Name);
            return row.GetProperty("messages_ready").GetInt64() == 0 && row.GetProperty("messages_unacknowledged").GetInt64() == 1;
        }, TimeSpan.FromSeconds(5)), Is.True);
        again!.Ack();
        await consumer.CancelAsync();
    }

    [Test]
    public async Task A_throwing_callback_does_not_stop_later_deliveries()
    {
        Queue queue = NewQueue("throwing");
        var seen = new ConcurrentQueue<string>();
        var errors = new ConcurrentQueue<Exception>();
        var all = new TaskCompletionSource();
        var (consumer, ready) = SharedCluster.Consume(queue, new ConsumerOptions
        {
            OnMessage = m =>
            {
                string body = Encoding.UTF8.GetString(m.Body.Span);
                seen.Enqueue(body);
                if (seen.Count == 10)
                {
                    all.TrySetResult();
                }

                if (body.EndsWith('3') || body.EndsWith('7'))
                {
                    throw new InvalidOperationException("user code failed on " + body);
                }
            },
            OnCallbackError = (_, ex) => errors.Enqueue(ex),
        });
        await ready;
        await PublishAsync(queue, 10);
        await Within(all.Task);
        Assert.Multiple(() =>
        {
            Assert.That(seen, Is.EqualTo(Enumerable.Range(0, 10).Select(i => $"m{i}")), "in order, none skipped");
            Assert.That(errors.Select(e => e.Message), Is.EquivalentTo(new[] { "user code failed on m3", "user code failed on m7" }));
            Assert.That(consumer.State, Is.EqualTo(ConsumerState.Online));
        });
        await consumer.CancelAsync();
    }

    [Test]
    public async Task A_slow_callback_does_not_stall_other_consumers_or_publishing()
    {
        Queue slow = NewQueue("slow");
        Queue fast = NewQueue("fast");
        using var release = new ManualResetEventSlim();
        var fastSeen = new TaskCompletionSource();
        var (slowConsumer, slowReady) = SharedCluster.Consume(slow, m => release.Wait(TimeSpan.FromSeconds(20)));
        var (fastConsumer, fastReady) = SharedCluster.Consume(fast, m => fastSeen.TrySetResult());
        await Task.WhenAll(slowReady, fastReady);

        await SharedCluster.PublishAsync(new Message("block"), routingKey: slow.Name, confirm: true);
        await Task.Delay(100);
        await SharedCluster.PublishAsync(new Message("go"), routingKey: fast.Name, confirm: true);
        await Within(fastSeen.Task, 5);
        release.Set();
        await Task.WhenAll(slowConsumer.CancelAsync(), fastConsumer.CancelAsync());
    }

    [Test]
    public async Task Async_callbacks_run_in_order_one_at_a_time()
    {
        Queue queue = NewQueue("async");
        var seen = new ConcurrentQueue<string>();
        int running = 0;
        int maxRunning = 0;
        var done = new TaskCompletionSource();
        var (consumer, ready) = SharedCluster.Consume(queue, async m =>
        {
            int now = Interlocked.Increment(ref running);
            maxRunning = Math.Max(maxRunning, now);
            await Task.Delay(5);
            seen.Enqueue(Encoding.UTF8.GetString(m.Body.Span));
            Interlocked.Decrement(ref running);
            if (seen.Count == 20)
            {
                done.TrySetResult();
            }
        });
        await ready;
        await PublishAsync(queue, 20);
        await Within(done.Task);
        Assert.Multiple(() =>
        {
            Assert.That(seen, Is.EqualTo(Enumerable.Range(0, 20).Select(i => $"m{i}")));
            Assert.That(maxRunning, Is.EqualTo(1));
        });
        await consumer.CancelAsync();
    }

    [Test]
    public async Task ReadAllAsync_streams_messages_and_ends_on_cancel()
    {
        Queue queue = NewQueue("stream");
        var (consumer, ready) = SharedCluster.Consume(queue, new ConsumerOptions { ReadFromConsumer = true, NoAck = false });
        await ready;
        await PublishAsync(queue, 5);
        var bodies = new List<string>();
        await foreach (ReceivedMessage message in consumer.ReadAllAsync())
        {
            bodies.Add(Encoding.UTF8.GetString(message.Body.Span));
            message.Ack();
            if (bodies.Count == 5)
            {
                await consumer.CancelAsync();
            }
        }

        Assert.That(bodies, Is.EqualTo(new[] { "m0", "m1", "m2", "m3", "m4" }));
        Assert.That(consumer.State, Is.EqualTo(ConsumerState.Cancelled));
    }

    [Test]
    public async Task Pooled_bodies_arrive_intact()
    {
        Queue queue = NewQueue("pooled");
        var bodies = new BlockingCollection<byte[]>();
        var (consumer, ready) = SharedCluster.Consume(queue, new ConsumerOptions
        {
            BodyReceiveMode = BodyReceiveMode.Pooled,
            NoAck = false,
            OnMessage = m =>
            {
                bodies.Add(m.Body.ToArray());
                m.Ack();
            },
        });
        await ready;
        var rng = new Random(42);
        var sent = new List<byte[]>();
        for (int i = 0; i < 20; i++)
        {
            byte[] body = new byte[rng.Next(1, 300_000)];
            rng.NextBytes(body);
            sent.Add(body);
            await SharedCluster.PublishAsync(new Message(body), routingKey: queue.Name);
        }

        foreach (byte[] expected in sent)
        {
            Assert.That(bodies.TryTake(out byte[]? actual, TimeSpan.FromSeconds(10)), Is.True);
            Assert.That(actual, Is.EqualTo(expected));
        }

        await consumer.CancelAsync();
    }

    [Test]
    public async Task Prefetch_limits_unacknowledged_deliveries()
    {
        Queue queue = NewQueue("qos");
        var received = new BlockingCollection<ReceivedMessage>();
        var (consumer, ready) = SharedCluster.Consume(queue, new ConsumerOptions { NoAck = false, PrefetchCount = 2, OnMessage = received.Add });
        await ready;
        await PublishAsync(queue, 5);
        Assert.That(received.TryTake(out ReceivedMessage? a, TimeSpan.FromSeconds(5)), Is.True);
        Assert.That(received.TryTake(out ReceivedMessage? b, TimeSpan.FromSeconds(5)), Is.True);
        Assert.That(received.TryTake(out _, TimeSpan.FromMilliseconds(300)), Is.False, "a third must wait for an ack");

        JsonElement row = (await Broker.ListAsync("list_consumers", "queue_name", "prefetch_count"))
            .Single(r => r.GetProperty("queue_name").GetString() == queue.Name);
        Assert.That(row.GetProperty("prefetch_count").GetInt64(), Is.EqualTo(2));

        a!.Ack();
        Assert.That(received.TryTake(out ReceivedMessage? c, TimeSpan.FromSeconds(5)), Is.True, "an ack lets one more in");

        await consumer.SetQosAsync(10);
        b!.Ack();
        c!.Ack();
        Assert.That(received.TryTake(out _, TimeSpan.FromSeconds(5)), Is.True);
        Assert.That(received.TryTake(out _, TimeSpan.FromSeconds(5)), Is.True);
        await consumer.CancelAsync();
    }

    [Test]
    public async Task Cancel_is_idempotent_and_unregisters_at_the_broker()
    {
        Queue queue = new(Broker.Unique("cancel"));
        int cancelCallbacks = 0;
        var (consumer, ready) = SharedCluster.Consume(queue, new ConsumerOptions
        {
            OnMessage = _ => { },
            OnCancel = _ => Interlocked.Increment(ref cancelCallbacks),
        });
        await ready;
        Assert.That((await SharedCluster.DeclareAsync(queue, passive: true)).ConsumerCount, Is.EqualTo(1));

        Task first = consumer.CancelAsync();
        Task second = consumer.CancelAsync();
        await Task.WhenAll(first, second);
        await consumer.CancelAsync();
        Assert.Multiple(async () =>
        {
            Assert.That(consumer.State, Is.EqualTo(ConsumerState.Cancelled));
            Assert.That((await SharedCluster.DeclareAsync(queue, passive: true)).ConsumerCount, Is.Zero);
            Assert.That(cancelCallbacks, Is.EqualTo(1));
        });
        await SharedCluster.DeleteQueueAsync(queue);
    }

    [Test]
    public async Task Deleting_the_queue_cancels_the_consumer_from_the_broker_and_the_connection_stays_up()
    {
        Queue queue = new(Broker.Unique("broker-cancel"));
        var brokerCancelled = new TaskCompletionSource();
        var cancelled = new TaskCompletionSource();
        var (consumer, ready) = SharedCluster.Consume(queue, new ConsumerOptions
        {
            OnMessage = _ => { },
            OnBrokerCancel = _ => brokerCancelled.TrySetResult(),
            OnCancel = _ => cancelled.TrySetResult(),
        });
        await ready;
        await SharedCluster.DeleteQueueAsync(queue);

        await Within(brokerCancelled.Task);
        await Within(cancelled.Task);
        Assert.Multiple(() =>
        {
            Assert.That(consumer.State, Is.EqualTo(ConsumerState.Cancelled));
            Assert.That(SharedCluster.IsConnected, Is.True);
        });

        Queue other = NewQueue("after-broker-cancel");
        await SharedCluster.DeclareAsync(other);
        await SharedCluster.PublishAsync(new Message("still works"), routingKey: other.Name, confirm: true);
    }

    [Test]
    public async Task A_consumer_cancelled_by_the_broker_is_reported_in_the_event_stream()
    {
        await using Cluster cluster = await Broker.StartAsync();
        Queue queue = new(Broker.Unique("broker-cancel-event"));
        var (consumer, ready) = cluster.Consume(queue, _ => { });
        await ready;
        await cluster.DeleteQueueAsync(queue);

        ClusterEvent e = await cluster.DrainAsync(TimeSpan.FromSeconds(5));
        Assert.That(e, Is.TypeOf<ConsumerCancelledByBroker>());
        var cancelled = (ConsumerCancelledByBroker)e;
        Assert.That(cancelled.Consumer, Is.SameAs(consumer));
        Assert.That(cancelled.QueueName, Is.EqualTo(queue.Name));
        Assert.That(consumer.State, Is.EqualTo(ConsumerState.Cancelled));
        Assert.That(await cluster.DrainAsync(TimeSpan.FromMilliseconds(200)), Is.SameAs(NothingMuch.Instance), "reported once");
    }

    [Test]
    public async Task Exclusive_queue_of_another_connection_fails_first_time_when_asked_to()
    {
        string name = Broker.Unique("locked");
        await using Cluster other = await Broker.StartAsync();
        var (owner, ownerReady) = other.Consume(new Queue(name, exclusive: true, autoDelete: true), _ => { });
        await ownerReady;

        var (consumer, ready) = SharedCluster.Consume(new Queue(name, exclusive: true, autoDelete: true), new ConsumerOptions
        {
            OnMessage = _ => { },
            FailOnFirstTimeResourceLocked = true,
        });
        var error = Assert.ThrowsAsync<AmqpException>(() => Within(ready));
        Assert.That(error!.ReplyCode, Is.EqualTo(405), "RESOURCE_LOCKED");
        Assert.That(await Broker.EventuallyAsync(() => Task.FromResult(consumer.State == ConsumerState.Cancelled), TimeSpan.FromSeconds(5)), Is.True);
        await owner.CancelAsync();
    }

    [Test]
    public async Task Exclusive_queue_of_another_connection_is_retried_until_it_is_free()
    {
        string name = Broker.Unique("locked-retry");
        Cluster other = await Broker.StartAsync();
        var (_, ownerReady) = other.Consume(new Queue(name, exclusive: true, autoDelete: true), _ => { });
        await ownerReady;

        var (consumer, ready) = SharedCluster.Consume(new Queue(name, exclusive: true, autoDelete: true), _ => { });
        await Task.Delay(1500);
        Assert.Multiple(() =>
        {
            Assert.That(ready.IsCompleted, Is.False, "still retrying while the other connection holds the queue");
            Assert.That(consumer.State, Is.Not.EqualTo(ConsumerState.Online));
        });

        await other.DisposeAsync();
        await Within(ready);
        Assert.Multiple(() =>
        {
            Assert.That(ready.IsCompletedSuccessfully, Is.True, ready.Exception?.ToString());
            Assert.That(consumer.State, Is.EqualTo(ConsumerState.Online));
        });
        await consumer.CancelAsync();
    }

    [Test]
    public async Task Server_named_queue_gets_its_name_and_receives()
    {
        var queue = new Queue(exclusive: true);
        Assert.That(queue.IsAnonymous, Is.True);
        var (consumer, ready) = SharedCluster.Consume(queue, new ConsumerOptions { ReadFromConsumer = true });
        await ready;
        Assert.That(queue.Name, Does.StartWith("amq.gen-"));
        await SharedCluster.PublishAsync(new Message("to the anonymous"), routingKey: queue.Name, confirm: true);
        await using IAsyncEnumerator<ReceivedMessage> messages = consumer.ReadAllAsync().GetAsyncEnumerator();
        Assert.That(await Within(messages.MoveNextAsync().AsTask()), Is.True);
        Assert.That(Encoding.UTF8.GetString(messages.Current.Body.Span), Is.EqualTo("to the anonymous"));
        await consumer.CancelAsync();
    }

    [Test]
    public async Task Consumer_can_bind_its_queue_to_an_exchange()
    {
        var exchange = new Exchange(Broker.Unique("fanout"), ExchangeType.Fanout, autoDelete: true);
        await SharedCluster.DeclareAsync(exchange);
        var queue = new Queue(exclusive: true, exchange: exchange);
        var (consumer, ready) = SharedCluster.Consume(queue, new ConsumerOptions { ReadFromConsumer = true });
        await ready;
        await SharedCluster.PublishAsync(new Message("fanned"), exchange, routingKey: "ignored", confirm: true);
        await using IAsyncEnumerator<ReceivedMessage> messages = consumer.ReadAllAsync().GetAsyncEnumerator();
        Assert.That(await Within(messages.MoveNextAsync().AsTask()), Is.True);
        Assert.That(messages.Current.Exchange, Is.EqualTo(exchange.Name));
        await consumer.CancelAsync();
    }

    /// <summary>The broker's count of unacknowledged messages of a queue.</summary>
    private static async Task<long> UnackedAsync(Queue queue) =>
        (await Broker.ListAsync("list_queues", "name", "messages_unacknowledged"))
            .Single(r => r.GetProperty("name").GetString() == queue.Name).GetProperty("messages_unacknowledged").GetInt64();

    [Test]
    public async Task SetQosAsync_changes_the_prefetch_window_of_the_running_consumer()
    {
        Queue queue = NewQueue("setqos");
        await SharedCluster.DeclareAsync(queue);
        await PublishAsync(queue, 10);
        var received = new BlockingCollection<ReceivedMessage>();
        var (consumer, ready) = SharedCluster.Consume(queue, new ConsumerOptions { NoAck = false, PrefetchCount = 1, OnMessage = received.Add });
        await ready;
        Assert.That(received.TryTake(out ReceivedMessage? first, TimeSpan.FromSeconds(5)), Is.True);
        Assert.That(await Broker.EventuallyAsync(async () => await UnackedAsync(queue) == 1, TimeSpan.FromSeconds(5)), Is.True);

        await consumer.SetQosAsync(3);

        // The message held from before stays valid and outside the new window: 1 + 3 unacknowledged.
        var held = new List<ReceivedMessage> { first! };
        for (int i = 0; i < 3; i++)
        {
            Assert.That(received.TryTake(out ReceivedMessage? next, TimeSpan.FromSeconds(5)), Is.True, $"delivery {i} under the new window");
            held.Add(next!);
        }

        Assert.That(received.TryTake(out _, TimeSpan.FromMilliseconds(300)), Is.False, "the new window is 3, not more");
        Assert.That(await UnackedAsync(queue), Is.EqualTo(4));

        // Settled, the window refills to exactly 3 in flight.
        foreach (ReceivedMessage message in held)
        {
            Assert.That(message.Ack(), Is.True, "a message received before the change still settles");
        }

        Assert.That(await Broker.EventuallyAsync(async () => await UnackedAsync(queue) == 3, TimeSpan.FromSeconds(5)), Is.True,
            "3 unacknowledged after the old ones were acked");
        await Task.Delay(300);
        Assert.That(await UnackedAsync(queue), Is.EqualTo(3));
        Assert.That(consumer.State, Is.EqualTo(ConsumerState.Online));
        await consumer.CancelAsync();
    }

    [Test]
    public async Task A_declared_server_named_queue_is_the_one_consumed_bound_and_deleted()
    {
        var exchange = new Exchange(Broker.Unique("direct"), ExchangeType.Direct, autoDelete: true);
        await SharedCluster.DeclareAsync(exchange);
        var queue = new Queue(exclusive: true);
        QueueDeclareResult declared = await SharedCluster.DeclareAsync(queue);
        Assert.That(queue.Name, Is.EqualTo(declared.QueueName).And.StartWith("amq.gen-"));
        await SharedCluster.BindAsync(queue, exchange, routingKey: "key");

        var (consumer, ready) = SharedCluster.Consume(queue, new ConsumerOptions { ReadFromConsumer = true });
        await ready;
        Assert.That(queue.Name, Is.EqualTo(declared.QueueName), "consuming must not declare another queue");
        await SharedCluster.PublishAsync(new Message("routed"), exchange, routingKey: "key", confirm: true);
        await using IAsyncEnumerator<ReceivedMessage> messages = consumer.ReadAllAsync().GetAsyncEnumerator();
        Assert.That(await Within(messages.MoveNextAsync().AsTask()), Is.True);
        Assert.That(messages.Current.Body.ToArray(), Is.EqualTo("routed"u8.ToArray()));

        // Declared again: still the same queue (a passive declare of the broker's name).
        Assert.That((await SharedCluster.DeclareAsync(queue)).QueueName, Is.EqualTo(declared.QueueName));
        await consumer.CancelAsync();
        await SharedCluster.DeleteQueueAsync(queue);
        Assert.That(await Broker.MessageCountAsync(declared.QueueName), Is.Null, "the declared queue was the one deleted");

        // Deleted, the next declaration makes a new queue.
        string second = (await SharedCluster.DeclareAsync(queue)).QueueName;
        Assert.That(second, Is.Not.EqualTo(declared.QueueName).And.StartWith("amq.gen-"));
        Assert.That(queue.Name, Is.EqualTo(second));
        await SharedCluster.DeleteQueueAsync(queue);
    }
}
