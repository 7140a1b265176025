using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;
using CoolAmqp.Framing;
using CoolAmqp.Tests.Faults;
using NUnit.Framework;

namespace CoolAmqp.Tests.Integration;

/// <summary>The cluster against a real three-node RabbitMQ cluster (<see cref="Broker.ClusterNodes"/>) when a node goes
/// down: it fails over, or waits for the node, and quorum queues go on. Each test that stops a node starts it again
/// and waits for the full cluster before it ends, so later tests see three running nodes; hence never in parallel.</summary>
[TestFixture]
[Category("Integration")]
[NonParallelizable]
public class ClusterNodeTests
{
    private static ClusterOptions Fast(string name) => new()
    {
        Name = name,
        Recovery = new RecoveryOptions
        {
            InitialDelay = TimeSpan.FromMilliseconds(50),
            MaxDelay = TimeSpan.FromSeconds(1),
            // A node's start_app takes several seconds on a busy machine; publishes made meanwhile wait for it.
            ConnectionWaitTimeout = TimeSpan.FromSeconds(60),
        },
    };

    /// <summary>A durable quorum queue (replicated over the cluster's nodes) with a name of its own.</summary>
    private static Queue QuorumQueue(string what) =>
        new(Broker.Unique(what), durable: true, arguments: new FieldTable { ["x-queue-type"] = "quorum" });

    /// <summary>A consumer with manual acks that hands each body (as text) to a channel the test reads.</summary>
    private static async Task<(Consumer Consumer, ChannelReader<string> Bodies)> ConsumeTextAsync(Cluster cluster, Queue queue)
    {
        var bodies = Channel.CreateUnbounded<string>();
        var (consumer, ready) = cluster.Consume(queue, new ConsumerOptions
        {
            NoAck = false,
            PrefetchCount = 10,
            OnMessage = message =>
            {
                bodies.Writer.TryWrite(Encoding.UTF8.GetString(message.Body.Span));
                message.Ack();
            },
        });
        await ready.WaitAsync(TimeSpan.FromSeconds(30));
        return (consumer, bodies.Reader);
    }

    private static async Task<string> NextAsync(ChannelReader<string> bodies, double seconds = 30) =>
        await bodies.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(seconds));

    private static Task PublishAsync(Cluster cluster, Queue queue, string body) =>
        cluster.PublishAsync(new Message(body, new MessageProperties { DeliveryMode = DeliveryModes.Persistent }),
            routingKey: queue.Name, confirm: true).AsTask();

    /// <summary>Deletes a test's queue through a cluster of its own (the test's may be gone or broken by then).</summary>
    private static async Task DeleteAsync(Queue queue)
    {
        await using var cluster = new Cluster(Broker.ClusterNodes(), new ClusterOptions { Name = "cleanup" });
        await cluster.StartAsync(timeout: TimeSpan.FromSeconds(30));
        await cluster.DeleteQueueAsync(queue.Name);
    }

    /// <summary>All three nodes given: stop_app of the node the cluster is on makes it reconnect to another (the
    /// event and <see cref="Cluster.ConnectedNode"/> name it), where a confirmed publish to the quorum queue succeeds
    /// and the consumer receives it; after start_app the node is back in the cluster and traffic goes on.</summary>
    [Test]
    [CancelAfter(180_000)]
    public async Task When_the_connected_node_stops_the_cluster_fails_over_to_another_and_its_quorum_queue_goes_on()
    {
        NodeDefinition[] nodes = Broker.ClusterNodes();
        string name = Broker.Unique("failover");
        var queue = QuorumQueue("failover-q");
        await using var cluster = new Cluster(nodes, Fast(name));
        await cluster.StartAsync(timeout: TimeSpan.FromSeconds(30));
        NodeDefinition first = cluster.ConnectedNode!;
        Assert.That(first, Is.EqualTo(nodes[0]), "the first node of the list");
        string stopped = Broker.ClusterNodeName(first);

        // Declared on the first node, the queue's leader is there: stopping it also makes the queue elect another.
        await cluster.DeclareAsync(queue, persistent: true);
        try
        {
            var (consumer, bodies) = await ConsumeTextAsync(cluster, queue);
            await PublishAsync(cluster, queue, "before");
            Assert.That(await NextAsync(bodies), Is.EqualTo("before"));

            var clock = Stopwatch.StartNew();
            try
            {
                await Broker.StopAppAsync(stopped);
                TestContext.Progress.WriteLine($"stop_app {stopped}: {clock.ElapsedMilliseconds} ms");
                List<ClusterEvent> events = await Broker.EventsUntilAsync<Reconnected>(cluster, 30);
                TestContext.Progress.WriteLine($"events: {string.Join(", ", events.Select(e => e.GetType().Name))} " +
                    $"({clock.ElapsedMilliseconds} ms)");
                var reconnected = (Reconnected)events[^1];
                Assert.Multiple(() =>
                {
                    Assert.That(events[0], Is.TypeOf<ConnectionLost>());
                    Assert.That(reconnected.Node, Is.Not.EqualTo(first), "another node");
                    Assert.That(nodes, Does.Contain(reconnected.Node));
                    Assert.That(cluster.ConnectedNode, Is.EqualTo(reconnected.Node));
                    Assert.That(events.OfType<TopologyRecoveryFailed>(), Is.Empty);
                    Assert.That(cluster.IsConnected, Is.True);
                });

                // The quorum queue has a majority without the stopped node: a confirmed publish goes through, and the
                // consumer, re-established on the new node, gets it.
                await PublishAsync(cluster, queue, "after").WaitAsync(TimeSpan.FromSeconds(30));
                Assert.That(await NextAsync(bodies), Is.EqualTo("after"), "the consumer goes on after the failover");
                Assert.That(consumer.State, Is.EqualTo(ConsumerState.Online));
                TestContext.Progress.WriteLine($"published and consumed on {reconnected.Node.Port}: {clock.ElapsedMilliseconds} ms");
            }
            finally
            {
                await Broker.StartAppAsync(stopped);
                await Broker.WaitForFullClusterAsync(TimeSpan.FromSeconds(60));
                TestContext.Progress.WriteLine($"start_app {stopped}, full cluster: {clock.ElapsedMilliseconds} ms");
            }

            // And the node that came back takes the queue's traffic as before.
            await PublishAsync(cluster, queue, "back").WaitAsync(TimeSpan.FromSeconds(30));
            Assert.That(await NextAsync(bodies), Is.EqualTo("back"));
            await consumer.CancelAsync();
        }
        finally
        {
            await DeleteAsync(queue);
        }
    }

    /// <summary>One node given: after its stop_app every attempt fails (reported, retried), a confirmed publish made
    /// meanwhile waits; after start_app the cluster is back on that node, the waiting publish completes and the
    /// consumer receives it and the next one.</summary>
    [Test]
    [CancelAfter(180_000)]
    public async Task With_one_node_given_the_cluster_waits_for_it_and_comes_back_after_start_app()
    {
        NodeDefinition node = Broker.ClusterNodes()[1];
        string nodeName = Broker.ClusterNodeNames[1];
        string name = Broker.Unique("wait");
        var queue = QuorumQueue("wait-q");
        await using var cluster = new Cluster(node, Fast(name));
        await cluster.StartAsync(timeout: TimeSpan.FromSeconds(30));
        await cluster.DeclareAsync(queue, persistent: true);
        try
        {
            var (consumer, bodies) = await ConsumeTextAsync(cluster, queue);
            await PublishAsync(cluster, queue, "before");
            Assert.That(await NextAsync(bodies), Is.EqualTo("before"));

            var clock = Stopwatch.StartNew();
            bool started = false;
            try
            {
                await Broker.StopAppAsync(nodeName);
                // Its listener is closed: every attempt fails, and the cluster keeps trying the one node it has.
                List<ClusterEvent> refused = await Broker.EventsUntilAsync<ReconnectFailed>(cluster, 30);
                Assert.Multiple(() =>
                {
                    Assert.That(refused[0], Is.TypeOf<ConnectionLost>());
                    // The node says why before it goes (connection.close 320 CONNECTION_FORCED): that, not the reset after it.
                    Assert.That(((ConnectionLost)refused[0]).Reason, Is.TypeOf<AmqpException>()
                        .With.Property(nameof(AmqpException.ReplyCode)).EqualTo(320));
                    Assert.That(((ReconnectFailed)refused[^1]).Node, Is.EqualTo(node));
                    Assert.That(((ReconnectFailed)refused[^1]).NextDelay, Is.Not.Null, "retried");
                    Assert.That(cluster.IsConnected, Is.False);
                });

                // A confirmed publish made while the node is down waits for it.
                Task during = PublishAsync(cluster, queue, "during");
                await Task.Delay(500);
                Assert.That(during.IsCompleted, Is.False, "waits for the connection");

                await Broker.StartAppAsync(nodeName);
                started = true;
                TestContext.Progress.WriteLine($"stop_app and start_app {nodeName}: {clock.ElapsedMilliseconds} ms");
                List<ClusterEvent> back = await Broker.EventsUntilAsync<Reconnected>(cluster, 30);
                var reconnected = (Reconnected)back[^1];
                Assert.Multiple(() =>
                {
                    Assert.That(reconnected.Node, Is.EqualTo(node));
                    Assert.That(reconnected.Attempts, Is.GreaterThan(1));
                    Assert.That(cluster.ConnectedNode, Is.EqualTo(node));
                    Assert.That(back.OfType<TopologyRecoveryFailed>(), Is.Empty);
                });
                TestContext.Progress.WriteLine($"reconnected after {reconnected.Attempts} attempts, " +
                    $"{reconnected.Downtime.TotalMilliseconds:0} ms down");

                await during.WaitAsync(TimeSpan.FromSeconds(30));
                await PublishAsync(cluster, queue, "after").WaitAsync(TimeSpan.FromSeconds(30));
                Assert.That(await NextAsync(bodies), Is.EqualTo("during"));
                Assert.That(await NextAsync(bodies), Is.EqualTo("after"));
            }
            finally
            {
                if (!started)
                {
                    await Broker.StartAppAsync(nodeName);
                }

                await Broker.WaitForFullClusterAsync(TimeSpan.FromSeconds(60));
            }

            await consumer.CancelAsync();
        }
        finally
        {
            await DeleteAsync(queue);
        }
    }

    /// <summary>50,000 confirmed persistent publishes (up to 1000 in flight) to a quorum queue, through a TCP proxy in
    /// front of each node (the clusters know only the proxies), while every link is cut every 1 to 3 s and the
    /// publisher's node restarts once; a second cluster consumes with manual acks. Every publish whose task completed
    /// without an exception is consumed at least once (the assertion); failed publishes (the caller's to retry) and
    /// duplicates (deliveries whose ack was cut off) are counted and printed. A publish task that never completes
    /// fails the test. All of it within 3 minutes (about 30 s here, on 2 cores).</summary>
    [Test]
    [CancelAfter(240_000)]
    public async Task No_confirmed_message_is_lost_while_links_are_cut_at_random_and_a_node_restarts(
        [Values(false, true)] bool republish)
    {
        const int count = 50_000;
        const int window = 1000;
        TimeSpan bound = TimeSpan.FromMinutes(3);
        var clock = Stopwatch.StartNew();

        NodeDefinition[] real = Broker.ClusterNodes();
        IReadOnlyList<string> nodeNames = Broker.ClusterNodeNames;
        var proxies = real.Select(n => new TcpProxy(n.Host, n.Port)).ToArray();
        NodeDefinition[] viaProxies = [.. proxies.Select(p => new NodeDefinition($"amqp://guest:guest@127.0.0.1:{p.Port}/"))];
        string NodeNameOf(NodeDefinition? node) => node is null ? "none" : nodeNames[Array.FindIndex(viaProxies, n => n.Port == node.Port)];

        var queue = QuorumQueue("no-loss-q");
        var outcome = new int[count]; // 0 pending, 1 confirmed, 2 failed
        var consumed = new int[count];
        var failures = new Dictionary<string, int>();
        int cuts = 0;
        string restarted = "";
        string restartTimes = "";
        int seed = Random.Shared.Next();
        using var stop = new CancellationTokenSource();
        Task chaos = Task.CompletedTask, restart = Task.CompletedTask;
        try
        {
            ClusterOptions publisherOptions = Fast(Broker.Unique("no-loss-pub"));
            publisherOptions = publisherOptions with
            {
                Recovery = publisherOptions.Recovery with { RepublishUnconfirmed = republish },
            };
            await using var publisher = new Cluster(viaProxies, publisherOptions);
            await using var consumerCluster = new Cluster(viaProxies, Fast(Broker.Unique("no-loss-sub")));
            await publisher.StartAsync(timeout: TimeSpan.FromSeconds(30));
            await consumerCluster.StartAsync(timeout: TimeSpan.FromSeconds(30));
            await publisher.DeclareAsync(queue, persistent: true);
            var (consumer, ready) = consumerCluster.Consume(queue, new ConsumerOptions
            {
                NoAck = false,
                PrefetchCount = 1000,
                OnMessage = message =>
                {
                    Interlocked.Increment(ref consumed[BinaryPrimitives.ReadInt32LittleEndian(message.Body.Span)]);
                    message.Ack();
                },
            });
            await ready.WaitAsync(TimeSpan.FromSeconds(30));

            // Every 1 to 3 s every link (the publisher's and the consumer's, wherever they are) is cut, by RST or FIN.
            chaos = Task.Run(async () =>
            {
                var random = new Random(seed);
                while (!stop.IsCancellationRequested)
                {
                    try
                    {
                        await Task.Delay(random.Next(1000, 3000), stop.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }

                    bool reset = random.Next(2) == 0;
                    foreach (TcpProxy proxy in proxies)
                    {
                        proxy.CutAll(reset);
                    }

                    Interlocked.Increment(ref cuts);
                }
            });

            using var inFlight = new SemaphoreSlim(window);
            var publishes = new Task[count];
            for (int i = 0; i < count; i++)
            {
                await inFlight.WaitAsync();
                if (i == count / 4)
                {
                    // Once, the node the publisher is on stops and comes back a few seconds later.
                    restarted = NodeNameOf(publisher.ConnectedNode);
                    restart = Task.Run(async () =>
                    {
                        double began = clock.Elapsed.TotalSeconds;
                        await Broker.StopAppAsync(restarted);
                        double down = clock.Elapsed.TotalSeconds;
                        await Task.Delay(3000);
                        await Broker.StartAppAsync(restarted);
                        restartTimes = FormattableString.Invariant(
                            $"stop_app {began:0.0}-{down:0.0} s, start_app done {clock.Elapsed.TotalSeconds:0.0} s");
                    });
                }

                publishes[i] = PublishOneAsync(i);
            }

            async Task PublishOneAsync(int id)
            {
                byte[] body = new byte[64];
                BinaryPrimitives.WriteInt32LittleEndian(body, id);
                try
                {
                    await publisher.PublishAsync(new Message(body, new MessageProperties { DeliveryMode = DeliveryModes.Persistent }),
                        routingKey: queue.Name, confirm: true);
                    Volatile.Write(ref outcome[id], 1);
                }
#pragma warning disable CA1031 // A failed publish is counted, by its kind.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    Volatile.Write(ref outcome[id], 2);
                    lock (failures)
                    {
                        string kind = ex.GetType().Name;
                        failures[kind] = failures.GetValueOrDefault(kind) + 1;
                    }
                }
                finally
                {
                    inFlight.Release();
                }
            }

            Task all = Task.WhenAll(publishes);
            if (await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(90))) != all)
            {
                int[] pending = [.. Enumerable.Range(0, count).Where(i => Volatile.Read(ref outcome[i]) == 0)];
                Assert.Fail($"{pending.Length} publishes never completed (first ids: {string.Join(", ", pending.Take(20))}); " +
                    $"the publisher is {(publisher.IsConnected ? "connected" : "not connected")}");
            }

            TimeSpan published = clock.Elapsed;
            stop.Cancel();
            await chaos;
            await restart;

            // With the links left alone, everything confirmed arrives (again, for what was delivered but not acked).
            int Missing() => Enumerable.Range(0, count).Count(i => outcome[i] == 1 && Volatile.Read(ref consumed[i]) == 0);
            await Broker.EventuallyAsync(() => Task.FromResult(Missing() == 0), TimeSpan.FromSeconds(30));

            int succeeded = outcome.Count(o => o == 1);
            int failed = outcome.Count(o => o == 2);
            int[] lost = [.. Enumerable.Range(0, count).Where(i => outcome[i] == 1 && consumed[i] == 0)];
            int duplicated = consumed.Count(c => c > 1);
            int failedButConsumed = Enumerable.Range(0, count).Count(i => outcome[i] == 2 && consumed[i] > 0);
            string figures =
                $"no-loss{(republish ? " (republishing)" : "")}: published {count}, succeeded {succeeded}, failed {failed} ({string.Join(", ", failures.Select(f => $"{f.Key} {f.Value}"))}), " +
                $"lost {lost.Length}, duplicated {duplicated}, failed but consumed {failedButConsumed}; {cuts} cuts (seed {seed}), " +
                $"restarted {restarted} ({restartTimes}); publishing took {published.TotalSeconds:0.0} s, all {clock.Elapsed.TotalSeconds:0.0} s";
            // Progress shows at once on the console; Out keeps it in the test's result (the TRX file).
            TestContext.Progress.WriteLine(figures);
            TestContext.Out.WriteLine(figures);
            Assert.That(lost, Is.Empty, "confirmed but never consumed (ids)");
            Assert.That(succeeded, Is.GreaterThan(0));
            if (republish)
            {
                Assert.That(failures, Is.Empty, "with republishing every publish is confirmed in the end");
            }

            Assert.That(clock.Elapsed, Is.LessThan(bound));
            await consumer.CancelAsync();
        }
        finally
        {
            stop.Cancel();
            await chaos;
            try
            {
                await restart;
            }
            finally
            {
                if (restarted.Length > 0)
                {
                    // The restart may have failed half way; start_app of a running node does nothing.
                    await Broker.StartAppAsync(restarted);
                    await Broker.WaitForFullClusterAsync(TimeSpan.FromSeconds(60));
                }

                foreach (TcpProxy proxy in proxies)
                {
                    await proxy.DisposeAsync();
                }

                await DeleteAsync(queue);
            }
        }
    }
}
