using System;
using System.Collections.Concurrent;
using System.Threading.Tasks;
using CoolAmqp.Framing;
using NUnit.Framework;

namespace CoolAmqp.Tests.Faults;

/// <summary>The server's socket goes away in the middle of things: the connection is reported lost, and nothing
/// half-received is handed out as a message.</summary>
[TestFixture]
[Category("Faults")]
[CancelAfter(20_000)]
public class DisconnectTests : FaultTest
{
    private const uint FrameMax = 16 * 1024;

    [Test]
    public async Task A_disconnect_in_the_middle_of_a_large_delivery_delivers_nothing_partial(
        [Values(false, true)] bool reset, [Values] BodyReceiveMode bodyMode)
    {
        await using var server = new ScriptedServer();
        var (cluster, connection) = await OpenAsync(server, frameMax: FrameMax);
        await using var _ = cluster;

        // No callback: messages and the loss come through the one ordered event stream.
        var (consumer, channel) = await ConsumeAsync(cluster, connection, "faults-big", bodyReceiveMode: bodyMode);
        string tag = connection.ConsumerTagOf(channel);

        // One whole message first, so we know deliveries do get through.
        byte[] small = "whole message"u8.ToArray();
        await connection.SendAsync(Frames.Delivery(channel, tag, 1, small, FrameMax));
        await AssertReceivesAsync(cluster, small);

        // Then 1 MiB announced, and the connection ends after half of it and half a frame more.
        byte[] big = new byte[1024 * 1024];
        Random.Shared.NextBytes(big);
        byte[] delivery = Frames.Delivery(channel, tag, 2, big, FrameMax);
        int cut = delivery.Length / 2 + (int)FrameMax / 3;
        await connection.SendAsync(delivery.AsMemory(0, cut));
        await Task.Delay(100, Deadline);
        connection.Drop(reset);

        ConnectionLost lost = await AssertConnectionLostAsync(cluster, AssertConnectionDead);
        Assert.That(lost.Reason!.InnerException, Is.Not.InstanceOf<AmqpFrameFormatException>(),
            "a cut stream is a dead connection, not a malformed one");
        ClusterEvent next = await Within(cluster.DrainAsync(TimeSpan.FromMilliseconds(300)).AsTask(), 5, "DrainAsync");
        Assert.That(next, Is.SameAs(NothingMuch.Instance), "nothing may follow the loss, least of all a partial message");
        // Without recovery the loss is final: the consumer cannot come back.
        Assert.That(consumer.State, Is.EqualTo(ConsumerState.Cancelled));
    }

    [Test]
    public async Task A_disconnect_in_the_middle_of_a_large_delivery_never_calls_the_callback_with_it()
    {
        await using var server = new ScriptedServer();
        var (cluster, connection) = await OpenAsync(server, frameMax: FrameMax);
        await using var _ = cluster;
        var received = new ConcurrentQueue<int>();
        var (_, channel) = await ConsumeAsync(cluster, connection, "faults-big-callback", m => received.Enqueue(m.Body.Length));

        byte[] delivery = Frames.Delivery(channel, connection.ConsumerTagOf(channel), 1, new byte[512 * 1024], FrameMax);
        await connection.SendAsync(delivery.AsMemory(0, delivery.Length - 10));
        connection.Drop();

        await AssertConnectionLostAsync(cluster, AssertConnectionDead);
        await Task.Delay(200, Deadline);
        Assert.That(received, Is.Empty);
    }

    [Test]
    public async Task A_disconnect_with_RPCs_consumers_and_publishes_pending_fails_them_all()
    {
        await using var server = new ScriptedServer();
        var (cluster, connection) = await OpenAsync(server);
        await using var _ = cluster;

        // Everything stalls: the consumer's basic.consume, a declare, and confirms.
        connection.Ignore(BasicConsume.CommandIdValue);
        connection.Ignore(QueueDelete.CommandIdValue);
        var (_, ready) = cluster.Consume(new Queue("faults-pending"));
        Task delete = cluster.DeleteQueueAsync("faults-pending");
        Task publish = cluster.PublishAsync(new Message("x"u8.ToArray()), routingKey: "faults-pending", confirm: true).AsTask();
        await Within(connection.WaitForMethodAsync(BasicConsume.CommandIdValue, Deadline), 5, "basic.consume");
        await Within(connection.WaitForMethodAsync(QueueDelete.CommandIdValue, Deadline), 5, "queue.delete");
        await Within(connection.WaitForAsync(f => f.Type == FrameType.Body, Deadline), 5, "the publish");

        connection.Drop();
        AssertConnectionDead(await FailureOf(ready, 3, "the consumer's ready task"));
        AssertConnectionDead(await FailureOf(delete, 3, "DeleteQueueAsync"));
        AssertOutcomeUnknown(await FailureOf(publish, 3, "the confirmed publish"));
        await AssertConnectionLostAsync(cluster, AssertConnectionDead);
    }

    /// <summary>Threads of this process whose (kernel) name says they are a consumer's dispatch thread.</summary>
    private static int ConsumerThreads()
    {
        int count = 0;
        foreach (string task in System.IO.Directory.GetDirectories("/proc/self/task"))
        {
            try
            {
                // Linux keeps 15 characters of a thread's name.
                if (System.IO.File.ReadAllText(System.IO.Path.Combine(task, "comm")).StartsWith("CoolAmqp consum", StringComparison.Ordinal))
                {
                    count++;
                }
            }
            catch (System.IO.IOException)
            {
                // The thread ended while we looked.
            }
        }

        return count;
    }

    [Test]
    public async Task A_consumer_whose_connection_dies_while_it_goes_online_with_CancelOnFailure_ends_entirely()
    {
        await using var server = new ScriptedServer();
        var (cluster, connection) = await OpenAsync(server);
        await using var _ = cluster;
        int before = ConsumerThreads();
        // The connection dies at the consumer's queue.declare.
        connection.On(QueueDeclare.CommandIdValue, frame =>
        {
            connection.Drop();
            return Task.CompletedTask;
        });

        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var (consumer, ready) = cluster.Consume(new Queue("faults-setup-dies"), new ConsumerOptions
        {
            OnMessage = _ => { },
            CancelOnFailure = true,
            OnCancel = _ => cancelled.TrySetResult(),
        });

        AssertConnectionDead(await FailureOf(ready, 5, "the consumer's ready task"));
        await Within(cancelled.Task, 5, "OnCancel");
        Assert.That(consumer.State, Is.EqualTo(ConsumerState.Cancelled));
        Assert.That(cluster.Consumers, Does.Not.Contain(consumer), "a cancelled consumer is forgotten by its cluster");
        Assert.That(ConsumerThreads(), Is.EqualTo(before), "no thread is left behind for the consumer");
    }
}
