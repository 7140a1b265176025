using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using CoolAmqp.Connections;
using CoolAmqp.Framing;
using NUnit.Framework;

namespace CoolAmqp.Tests.Faults;

/// <summary>
/// An ack at the lowest unsettled tag goes out with multiple set, and the writer raises the tag of such an ack that
/// has not left yet instead of appending another: a run of in-order acks costs the broker one frame. The scripted
/// server replays the acks it receives as RabbitMQ does (a multiple ack settles every unsettled tag up to one that
/// must itself be unsettled), so a merge that settled a tag twice, skipped one or named a settled tag fails here.
/// </summary>
[TestFixture]
[Category("Faults")]
[CancelAfter(20_000)]
public class AckMergeTests : FaultTest
{
    [Test]
    public async Task A_burst_acked_in_order_is_settled_exactly_once_in_fewer_frames_than_messages()
    {
        const int Count = 500;
        await using var server = new ScriptedServer();
        var (cluster, connection) = await OpenAsync(server);
        await using var _ = cluster;
        var acked = 0;
        var (consumer, channel, tag) = await ConsumeWithAsync(cluster, connection, "faults-ack-merge", new ConsumerOptions
        {
            NoAck = false,
            PrefetchCount = Count,
            OnDelivery = d =>
            {
                Assert.That(d.Ack(), Is.True);
                Interlocked.Increment(ref acked);
            },
        });

        var burst = new byte[Count][];
        for (var i = 0; i < Count; i++)
        {
            burst[i] = Frames.Delivery(channel, tag, (ulong)i + 1, "m"u8, connection.FrameMax);
        }

        await connection.SendAsync(Frames.Concat(burst));
        await Within(connection.WaitForAsync(f => IsAck(f) && BasicAck.Read(f.Arguments).DeliveryTag == Count, Deadline),
            5, "the ack of the last delivery");

        List<InboundFrame> acks = connection.Received(IsAck);
        AssertSettledOnceEach(acks, Count);
        Assert.That(acks.TrueForAll(f => f.Channel == channel && BasicAck.Read(f.Arguments).Multiple), Is.True,
            "every ack was at the lowest unsettled tag, so every frame has multiple set");
        Assert.That(acks.Count, Is.LessThan(Count), "acks appended while the writer was busy left merged");
        Assert.That(Volatile.Read(ref acked), Is.EqualTo(Count));
        Assert.That(consumer.State, Is.EqualTo(ConsumerState.Online));
        Assert.That(connection.ClientErrors, Is.Empty);
    }

    [Test]
    public async Task An_ack_above_an_unsettled_tag_is_sent_alone_and_the_lower_ones_then_settle_with_multiple()
    {
        await using var server = new ScriptedServer();
        var (cluster, connection) = await OpenAsync(server);
        await using var _ = cluster;
        var deliveries = new List<Delivery>();
        var allThree = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var (_, channel, tag) = await ConsumeWithAsync(cluster, connection, "faults-ack-order", new ConsumerOptions
        {
            NoAck = false,
            OnDelivery = d =>
            {
                lock (deliveries)
                {
                    deliveries.Add(d);
                    if (deliveries.Count == 3)
                    {
                        allThree.TrySetResult();
                    }
                }
            },
        });
        await connection.SendAsync(Frames.Concat(Frames.Delivery(channel, tag, 1, "a"u8, connection.FrameMax),
            Frames.Delivery(channel, tag, 2, "b"u8, connection.FrameMax), Frames.Delivery(channel, tag, 3, "c"u8, connection.FrameMax)));
        await Within(allThree.Task, 5, "three deliveries");

        Assert.That(deliveries[1].Ack(), Is.True);
        InboundFrame first = await Within(connection.WaitForMethodAsync(BasicAck.CommandIdValue, Deadline), 5, "the first ack");
        BasicAck.Reader alone = BasicAck.Read(first.Arguments);
        Assert.That((alone.DeliveryTag, alone.Multiple), Is.EqualTo((2UL, false)), "tag 1 is unsettled: tag 2 must go alone");

        Assert.That(deliveries[0].Ack(), Is.True);
        Assert.That(deliveries[2].Ack(), Is.True);
        Assert.That(deliveries[2].Ack(), Is.False, "a settled delivery is not settled again");
        await Within(connection.WaitForAsync(f => IsAck(f) && BasicAck.Read(f.Arguments).DeliveryTag == 3, Deadline),
            5, "the ack of tag 3");

        List<InboundFrame> acks = connection.Received(IsAck);
        AssertSettledOnceEach(acks, 3);
        Assert.That(acks.Count, Is.InRange(2, 3), "tag 2 alone, then tags 1 and 3 (merged or not)");
        Assert.That(connection.ClientErrors, Is.Empty);
    }

    private static bool IsAck(InboundFrame frame) => frame.CommandId == BasicAck.CommandIdValue;

    /// <summary>Replays the acks as RabbitMQ settles them: the named tag must be unsettled; multiple also settles
    /// every unsettled tag below it. At the end tags 1 to <paramref name="count"/> must all be settled.</summary>
    private static void AssertSettledOnceEach(List<InboundFrame> acks, int count)
    {
        var unsettled = new SortedSet<ulong>();
        for (ulong t = 1; t <= (ulong)count; t++)
        {
            unsettled.Add(t);
        }

        foreach (InboundFrame frame in acks)
        {
            BasicAck.Reader ack = BasicAck.Read(frame.Arguments);
            Assert.That(unsettled.Contains(ack.DeliveryTag), Is.True,
                $"basic.ack names tag {ack.DeliveryTag}, which is settled already or unknown (RabbitMQ closes the channel)");
            ulong named = ack.DeliveryTag;
            if (ack.Multiple)
            {
                unsettled.RemoveWhere(t => t <= named);
            }
            else
            {
                unsettled.Remove(named);
            }
        }

        Assert.That(unsettled, Is.Empty, "tags never settled");
    }
}
