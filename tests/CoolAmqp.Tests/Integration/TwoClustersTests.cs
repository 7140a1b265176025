using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using CoolAmqp.Tracing;
using NUnit.Framework;

namespace CoolAmqp.Tests.Integration;

/// <summary>Two clusters (two connections) talking through the broker, events as a stream, frame tracing, and
/// concurrent use of one cluster from many threads.</summary>
[TestFixture]
[Category("Integration")]
public class TwoClustersTests
{
    [Test]
    public async Task A_client_and_a_server_cluster_exchange_requests_and_replies()
    {
        string requests = Broker.Unique("requests");
        await using Cluster server = await Broker.StartAsync(new ClusterOptions { Name = "server" });
        await using Cluster client = await Broker.StartAsync(new ClusterOptions { Name = "client" });

        var (serverConsumer, serverReady) = server.Consume(new Queue(requests, autoDelete: true), async request =>
        {
            string question = Encoding.UTF8.GetString(request.Body.Span);
            var reply = new Message("answer to " + question, new MessageProperties { CorrelationId = request.Properties.CorrelationId });
            await server.PublishAsync(reply, routingKey: request.Properties.ReplyTo!, confirm: true);
            request.Ack();
        }, noAck: false);
        await serverReady;

        var replies = new Queue(exclusive: true);
        var answers = new ConcurrentDictionary<string, string>();
        var allAnswered = new TaskCompletionSource();
        var (clientConsumer, clientReady) = client.Consume(replies, reply =>
        {
            answers[reply.Properties.CorrelationId!] = Encoding.UTF8.GetString(reply.Body.Span);
            if (answers.Count == 10)
            {
                allAnswered.TrySetResult();
            }
        });
        await clientReady;

        for (int i = 0; i < 10; i++)
        {
            await client.PublishAsync(new Message($"q{i}", new MessageProperties { ReplyTo = replies.Name, CorrelationId = $"c{i}" }),
                routingKey: requests, confirm: true);
        }

        Assert.That(await Task.WhenAny(allAnswered.Task, Task.Delay(TimeSpan.FromSeconds(10))), Is.SameAs(allAnswered.Task));
        Assert.That(answers, Is.EquivalentTo(Enumerable.Range(0, 10).ToDictionary(i => $"c{i}", i => $"answer to q{i}")));
        await Task.WhenAll(serverConsumer.CancelAsync(), clientConsumer.CancelAsync());
    }

    [Test]
    public async Task Events_can_be_read_as_a_stream()
    {
        await using Cluster cluster = await Broker.StartAsync();
        var queue = new Queue(exclusive: true);
        var (consumer, ready) = cluster.Consume(queue);
        await ready;
        for (int i = 0; i < 3; i++)
        {
            await cluster.PublishAsync(new Message($"e{i}"), routingKey: queue.Name);
        }

        var bodies = new List<string>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await foreach (ClusterEvent e in cluster.ReadEventsAsync(timeout.Token))
        {
            bodies.Add(Encoding.UTF8.GetString(((MessageReceived)e).Message.Body.Span));
            if (bodies.Count == 3)
            {
                break;
            }
        }

        Assert.That(bodies, Is.EqualTo(new[] { "e0", "e1", "e2" }));
        await consumer.CancelAsync();
    }

    [Test]
    public async Task The_tracer_sees_the_handshake_and_traffic_in_both_directions()
    {
        var tracer = new HoldingFrameTracer();
        await using (Cluster cluster = await Broker.StartAsync(new ClusterOptions { FrameTracer = tracer }))
        {
            await cluster.DeclareAsync(new Queue(exclusive: true));
        }

        string[] methods = tracer.Frames.Where(f => f.MethodName is not null)
            .Select(f => (f.Direction == FrameDirection.ToServer ? "> " : "< ") + f.MethodName).ToArray();
        Assert.That(methods, Is.EqualTo(new[]
        {
            "< connection.start", "> connection.start-ok", "< connection.tune", "> connection.tune-ok",
            "> connection.open", "< connection.open-ok", "> channel.open", "< channel.open-ok",
            "> queue.declare", "< queue.declare-ok", "> connection.close", "< connection.close-ok",
        }));
        Assert.That(tracer.Frames.Single(f => f.MethodName == "connection.start-ok").Describe(), Does.Not.Contain(Broker.Node().Password + "\0"));
    }

    [Test]
    public async Task One_cluster_serves_many_threads_at_once()
    {
        await using Cluster cluster = await Broker.StartAsync();
        var queue = new Queue(Broker.Unique("threads"), exclusive: true);
        await cluster.DeclareAsync(queue);
        int received = 0;
        var all = new TaskCompletionSource();
        var (consumer, ready) = cluster.Consume(queue, _ =>
        {
            if (Interlocked.Increment(ref received) == 8 * 250)
            {
                all.TrySetResult();
            }
        });
        await ready;

        await Task.WhenAll(Enumerable.Range(0, 8).Select(t => Task.Run(async () =>
        {
            for (int i = 0; i < 250; i++)
            {
                await cluster.PublishAsync(new Message($"{t}:{i}"), routingKey: queue.Name, confirm: i % 2 == 0);
                if (i % 50 == 0)
                {
                    await cluster.DeclareAsync(queue, passive: true);
                }
            }
        })));

        Assert.That(await Task.WhenAny(all.Task, Task.Delay(TimeSpan.FromSeconds(20))), Is.SameAs(all.Task), $"received {received}");
        await consumer.CancelAsync();
    }
}
