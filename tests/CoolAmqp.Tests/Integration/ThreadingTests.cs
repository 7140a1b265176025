using System;
using System.Threading;
using System.Threading.Tasks;
using NUnit.Framework;

namespace CoolAmqp.Tests.Integration;

/// <summary>Where the connection's work runs: its own reader and writer threads, and a thread per synchronous
/// consumer, not the thread pool (a thread-pool hop per read batch cost more CPU than the work, issue 4).</summary>
[TestFixture]
[Category("Integration")]
[NonParallelizable]
public class ThreadingTests
{
    [Test]
    public async Task A_synchronous_callback_runs_on_the_consumers_own_thread_and_may_wait_for_a_reply()
    {
        await using Cluster cluster = await Broker.StartAsync();
        var queue = new Queue(Broker.Unique("thread"), exclusive: true);
        await cluster.DeclareAsync(queue);
        var done = new TaskCompletionSource<(string? Name, bool Pool, bool Declared)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var (consumer, ready) = cluster.Consume(queue, new ConsumerOptions
        {
            DeclareQueue = false,
            OnMessage = message =>
            {
                Thread thread = Thread.CurrentThread;
                // A blocking wait for a broker reply inside the callback: it would deadlock if callbacks ran on
                // the thread that reads the connection.
                QueueDeclareResult result = cluster.DeclareAsync(new Queue(queue.Name, exclusive: true), passive: true)
                    .WaitAsync(TimeSpan.FromSeconds(10)).GetAwaiter().GetResult();
                done.TrySetResult((thread.Name, thread.IsThreadPoolThread, result.QueueName == queue.Name));
            },
        });
        await ready.WaitAsync(TimeSpan.FromSeconds(10));
        await cluster.PublishAsync(new Message(new byte[] { 1 }), routingKey: queue.Name);

        var (name, pool, declared) = await done.Task.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.That(name, Does.StartWith("CoolAmqp consumer"));
        Assert.That(pool, Is.False, "ran on a thread-pool thread");
        Assert.That(declared, Is.True, "the passive declare from the callback did not answer");
        await consumer.CancelAsync();
    }

    [Test]
    public async Task Consuming_with_a_synchronous_callback_uses_no_thread_pool_work_per_batch()
    {
        const int Count = 5_000;
        await using Cluster cluster = await Broker.StartAsync();
        var queue = new Queue(Broker.Unique("nopool"), exclusive: true);
        await cluster.DeclareAsync(queue);
        var body = new Message(new byte[16]);
        for (int i = 0; i < Count; i++)
        {
            await cluster.PublishAsync(body, routingKey: queue.Name, confirm: i == Count - 1);
        }

        long first = 0;
        long last = 0;
        int received = 0;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var (consumer, ready) = cluster.Consume(queue, new ConsumerOptions
        {
            DeclareQueue = false,
            NoAck = false,
            PrefetchCount = 100,
            OnMessage = message =>
            {
                int n = ++received;
                if (n == 1)
                {
                    first = ThreadPool.CompletedWorkItemCount;
                }

                message.Ack();
                if (n == Count)
                {
                    last = ThreadPool.CompletedWorkItemCount;
                    done.TrySetResult();
                }
            },
        });
        await ready.WaitAsync(TimeSpan.FromSeconds(10));
        await done.Task.WaitAsync(TimeSpan.FromSeconds(60));

        // With prefetch 100 the broker sends at least 50 batches; one hop per batch (or per ack turn of the
        // writer) would show up as at least that many work items. What remains is other work of the process.
        long items = last - first;
        TestContext.Out.WriteLine($"{items} thread-pool work items while consuming {Count} messages");
        Assert.That(items, Is.LessThan(25));
        await consumer.CancelAsync();
    }
}
