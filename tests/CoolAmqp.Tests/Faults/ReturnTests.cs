using System;
using System.Threading.Tasks;
using CoolAmqp.Framing;
using NUnit.Framework;

namespace CoolAmqp.Tests.Faults;

/// <summary>
/// basic.return and the confirms after it, for mandatory publishes in flight to the same exchange and routing key,
/// in the orders RabbitMQ sends them (see ConfirmTracker's remarks): the server writes the return, its acks and the
/// later confirms in one burst, so the client's read loop sees them back to back.
/// </summary>
[TestFixture]
[Category("Faults")]
[CancelAfter(20_000)]
public class ReturnTests : FaultTest
{
    private const string Key = "faults-same-key";

    /// <summary>basic.return with its content header and body, as the broker sends a message back.</summary>
    private static byte[] ReturnFrames(ushort channel, string body, uint frameMax) =>
        Frames.Concat(
            Frames.Method(channel, new BasicReturn((ushort)ReplyCode.NoRoute, "NO_ROUTE", string.Empty, Key)),
            Frames.Header(channel, (ulong)body.Length),
            Frames.Bodies(channel, System.Text.Encoding.UTF8.GetBytes(body), frameMax));

    /// <summary>Two mandatory publishes to <see cref="Key"/>, both sent and unconfirmed.</summary>
    private async Task<(Task First, Task Second, ushort Channel)> PublishTwoAsync(Cluster cluster, ServerConnection connection)
    {
        Task first = cluster.PublishAsync(new Message("first"), routingKey: Key, mandatory: true).AsTask();
        Task second = cluster.PublishAsync(new Message("second"), routingKey: Key, mandatory: true).AsTask();
        InboundFrame body = await Within(connection.WaitForAsync(f => f.Type == FrameType.Body, Deadline, 2), 5,
            "both publishes");
        Assert.That(first.IsCompleted || second.IsCompleted, Is.False, "nothing is confirmed yet");
        return (first, second, body.Channel);
    }

    private static void AssertReturned(Exception error)
    {
        AssertNoProgrammingErrors(error);
        Assert.That(error, Is.TypeOf<MessageReturnedException>(), error.ToString());
        var returned = (MessageReturnedException)error;
        Assert.That(returned.ReplyCode, Is.EqualTo((ushort)ReplyCode.NoRoute));
        Assert.That(returned.RoutingKey, Is.EqualTo(Key));
    }

    [Test]
    public async Task The_second_of_two_publishes_to_one_key_is_returned_while_the_first_waits_for_its_queue()
    {
        // The first routed to a queue that has not confirmed it when the second routed nowhere: the broker returns
        // the second and acks it alone (it cannot ack multiple past the unconfirmed first), then the first.
        await using var server = new ScriptedServer();
        var (cluster, connection) = await OpenAsync(server);
        await using var _ = cluster;
        var (first, second, channel) = await PublishTwoAsync(cluster, connection);

        await connection.SendAsync(Frames.Concat(
            ReturnFrames(channel, "second", connection.FrameMax),
            Frames.Method(channel, new BasicAck(2, false)),
            Frames.Method(channel, new BasicAck(1, false))));

        AssertReturned(await FailureOf(second, 5, "the returned publish"));
        await Within(first, 5, "the routed publish");
        Assert.That(connection.ClientErrors, Is.Empty);
    }

    [Test]
    public async Task A_multiple_ack_after_a_return_confirms_the_routed_publish_below_the_returned_one()
    {
        // The first's queue confirmed before the second routed nowhere: one ack, multiple, up to the second.
        await using var server = new ScriptedServer();
        var (cluster, connection) = await OpenAsync(server);
        await using var _ = cluster;
        var (first, second, channel) = await PublishTwoAsync(cluster, connection);

        await connection.SendAsync(Frames.Concat(
            ReturnFrames(channel, "second", connection.FrameMax),
            Frames.Method(channel, new BasicAck(2, true))));

        AssertReturned(await FailureOf(second, 5, "the returned publish"));
        await Within(first, 5, "the routed publish");
    }

    [Test]
    public async Task The_first_of_two_publishes_to_one_key_is_returned_and_the_second_routes()
    {
        // The first routed nowhere (return, ack 1); a binding appeared before the second, which routes.
        await using var server = new ScriptedServer();
        var (cluster, connection) = await OpenAsync(server);
        await using var _ = cluster;
        var (first, second, channel) = await PublishTwoAsync(cluster, connection);

        await connection.SendAsync(Frames.Concat(
            ReturnFrames(channel, "first", connection.FrameMax),
            Frames.Method(channel, new BasicAck(1, false)),
            Frames.Method(channel, new BasicAck(2, false))));

        AssertReturned(await FailureOf(first, 5, "the returned publish"));
        await Within(second, 5, "the routed publish");
    }

    [Test]
    public async Task A_routed_publish_acked_alone_in_the_returns_flush_is_told_apart_by_its_body()
    {
        // Three publishes to one key: the first waits for its queue, the second's queue confirmed, the third routed
        // nowhere. The flush after the third acks the second, then the third, singly: the order alone fits either.
        await using var server = new ScriptedServer();
        var (cluster, connection) = await OpenAsync(server);
        await using var _ = cluster;
        var (first, second, channel) = await PublishTwoAsync(cluster, connection);
        Task third = cluster.PublishAsync(new Message("third"), routingKey: Key, mandatory: true).AsTask();
        await Within(connection.WaitForAsync(f => f.Type == FrameType.Body, Deadline, 3), 5, "the third publish");

        await connection.SendAsync(Frames.Concat(
            ReturnFrames(channel, "third", connection.FrameMax),
            Frames.Method(channel, new BasicAck(2, false)),
            Frames.Method(channel, new BasicAck(3, false)),
            Frames.Method(channel, new BasicAck(1, false))));

        AssertReturned(await FailureOf(third, 5, "the returned publish"));
        await Within(Task.WhenAll(first, second), 5, "the routed publishes");
    }

    [Test]
    public async Task A_channel_that_closes_after_a_return_but_before_its_ack_fails_both_publishes_with_the_channel_error()
    {
        await using var server = new ScriptedServer();
        var (cluster, connection) = await OpenAsync(server);
        await using var _ = cluster;
        var (first, second, channel) = await PublishTwoAsync(cluster, connection);

        await connection.SendAsync(Frames.Concat(
            ReturnFrames(channel, "first", connection.FrameMax),
            Frames.Method(channel, new ChannelClose((ushort)ReplyCode.PreconditionFailed, "PRECONDITION_FAILED - scripted", 0, 0))));

        foreach (Task publish in new[] { first, second })
        {
            Exception error = await FailureOf(publish, 5, "an unconfirmed publish");
            AssertNoProgrammingErrors(error);
            Assert.That(error, Is.TypeOf<AmqpException>(), error.ToString());
            Assert.That(((AmqpException)error).ReplyCode, Is.EqualTo((ushort)ReplyCode.PreconditionFailed));
        }

        // The next mandatory publish uses a new channel, where nothing is held.
        connection.AckPublishes = true;
        await Within(cluster.PublishAsync(new Message("after"), routingKey: Key, mandatory: true).AsTask(), 5,
            "a mandatory publish on the new channel");
    }
}
