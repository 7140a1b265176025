using System;
using System.Threading.Tasks;
using CoolAmqp.Framing;
using NUnit.Framework;

namespace CoolAmqp.Tests.Faults;

/// <summary>The server closes the connection (a hard error) or one channel (a soft error) on its own.</summary>
[TestFixture]
[Category("Faults")]
[CancelAfter(20_000)]
public class BrokerCloseTests : FaultTest
{
    private static void AssertForced(Exception error)
    {
        AssertNoProgrammingErrors(error);
        Assert.That(error, Is.TypeOf<AmqpException>(), error.ToString());
        var amqp = (AmqpException)error;
        Assert.That(amqp.ReplyCode, Is.EqualTo((ushort)ReplyCode.ConnectionForced));
        Assert.That(amqp.IsHardError, Is.True);
        Assert.That(amqp.ReplyText, Does.Contain("operator"));
    }

    /// <summary>An operation that met the closed connection: <see cref="ConnectionDeadException"/>, the broker's
    /// reason inside.</summary>
    private static void AssertDeadBecauseForced(Exception error)
    {
        AssertNoProgrammingErrors(error);
        Assert.That(error, Is.TypeOf<ConnectionDeadException>(), error.ToString());
        AssertForced(error.InnerException!);
    }

    [Test]
    public async Task Connection_close_320_is_acknowledged_and_reported_with_its_reply_code()
    {
        await using var server = new ScriptedServer();
        var (cluster, connection) = await OpenAsync(server);
        await using var _ = cluster;
        connection.Ignore(QueueDeclare.CommandIdValue);
        Task declare = cluster.DeclareAsync(new Queue("faults-forced"));
        await Within(connection.WaitForMethodAsync(QueueDeclare.CommandIdValue, Deadline), 5, "queue.declare");

        // What RabbitMQ sends when an operator closes the connection; the server then waits for close-ok.
        connection.On(ConnectionCloseOk.CommandIdValue, _ => Task.CompletedTask);
        await connection.SendMethodAsync(0, new ConnectionClose((ushort)ReplyCode.ConnectionForced,
            "CONNECTION_FORCED - Closed via management plugin (operator)", 0, 0));

        InboundFrame closeOk = await Within(connection.WaitForMethodAsync(ConnectionCloseOk.CommandIdValue, Deadline), 5,
            "the client's connection.close-ok");
        Assert.That(closeOk.Channel, Is.EqualTo(0));
        AssertDeadBecauseForced(await FailureOf(declare, 5, "the pending DeclareAsync"));
        await AssertConnectionLostAsync(cluster, AssertForced);
        Assert.That(cluster.IsConnected, Is.False);

        // The client closes the socket itself after close-ok (spec 4.2.2: the peer that sent close-ok may close).
        await Within(connection.ClientGone, 5, "the client closing its socket");
        Assert.That(connection.ClientErrors, Is.Empty);
        AssertDeadBecauseForced(await FailureOf(cluster.DeclareAsync(new Queue("faults-after")), 2, "a DeclareAsync after the close"));
    }

    [Test]
    public async Task Channel_close_in_answer_to_basic_consume_fails_that_consumer_and_the_connection_stays_usable()
    {
        await using var server = new ScriptedServer();
        var (cluster, connection) = await OpenAsync(server);
        await using var _ = cluster;
        connection.On(BasicConsume.CommandIdValue, f => connection.SendMethodAsync(f.Channel, new ChannelClose(
            (ushort)ReplyCode.AccessRefused, "ACCESS_REFUSED - queue 'faults-refused' in vhost '/' in exclusive use",
            BasicConsume.ClassIndex, BasicConsume.MethodIndex)));

        var (consumer, ready) = cluster.Consume(new Queue("faults-refused"));
        Exception error = await FailureOf(ready, 5, "the consumer's ready task");
        AssertNoProgrammingErrors(error);
        Assert.That(error, Is.TypeOf<AmqpException>(), error.ToString());
        var amqp = (AmqpException)error;
        Assert.Multiple(() =>
        {
            Assert.That(amqp.ReplyCode, Is.EqualTo((ushort)ReplyCode.AccessRefused));
            Assert.That(amqp.MethodName, Is.EqualTo("basic.consume"));
            Assert.That(amqp.IsHardError, Is.False);
        });

        InboundFrame consume = await connection.WaitForMethodAsync(BasicConsume.CommandIdValue, Deadline);
        InboundFrame closeOk = await Within(connection.WaitForMethodAsync(ChannelCloseOk.CommandIdValue, Deadline), 5,
            "the client's channel.close-ok");
        Assert.That(closeOk.Channel, Is.EqualTo(consume.Channel));
        Assert.That(await Within(WaitForStateAsync(consumer, ConsumerState.Cancelled), 5, "the consumer cancelling"), Is.True);

        // Only that channel closed.
        connection.On(BasicConsume.CommandIdValue, f => connection.SendMethodAsync(f.Channel, new BasicConsumeOk("ctag-ok")));
        QueueDeclareResult declared = await Within(cluster.DeclareAsync(new Queue("faults-usable")), 5, "DeclareAsync");
        Assert.That(declared.QueueName, Is.EqualTo("faults-usable"));
        var (_, readyAgain) = cluster.Consume(new Queue("faults-other"));
        await Within(readyAgain, 5, "another consumer going online");
        Assert.That(cluster.IsConnected, Is.True);
        Assert.That(connection.ClientErrors, Is.Empty);
    }

    [Test]
    public async Task Channel_close_under_a_running_consumer_is_acknowledged_and_the_consumer_consumes_again()
    {
        const uint frameMax = 131072;
        await using var server = new ScriptedServer();
        var (cluster, connection) = await OpenAsync(server, frameMax: frameMax);
        await using var _ = cluster;
        var (consumer, channel) = await ConsumeAsync(cluster, connection, "faults-running");

        await connection.SendMethodAsync(channel, new ChannelClose((ushort)ReplyCode.PreconditionFailed,
            "PRECONDITION_FAILED - unknown delivery tag 42", 60, 80));
        InboundFrame closeOk = await Within(connection.WaitForMethodAsync(ChannelCloseOk.CommandIdValue, Deadline), 5,
            "the client's channel.close-ok");
        Assert.That(closeOk.Channel, Is.EqualTo(channel));

        // It consumes again, on a fresh channel, and messages flow there.
        InboundFrame again = await Within(connection.WaitForMethodAsync(BasicConsume.CommandIdValue, Deadline, occurrence: 2), 5,
            "a second basic.consume");
        Assert.That(await Within(WaitForStateAsync(consumer, ConsumerState.Online), 5, "the consumer going online again"), Is.True);
        await connection.SendAsync(Frames.Delivery(again.Channel, connection.ConsumerTagOf(again.Channel), 1, "after"u8, frameMax));
        await AssertReceivesAsync(cluster, "after"u8.ToArray());
        Assert.That(cluster.IsConnected, Is.True);
        Assert.That(connection.ClientErrors, Is.Empty);
    }

    [Test]
    public async Task Channel_close_in_answer_to_a_declare_fails_only_that_call()
    {
        await using var server = new ScriptedServer();
        var (cluster, connection) = await OpenAsync(server);
        await using var _ = cluster;
        connection.On(QueueDeclare.CommandIdValue, f => connection.SendMethodAsync(f.Channel, new ChannelClose(
            (ushort)ReplyCode.PreconditionFailed, "PRECONDITION_FAILED - inequivalent arg 'durable'",
            QueueDeclare.ClassIndex, QueueDeclare.MethodIndex)));

        Exception error = await FailureOf(cluster.DeclareAsync(new Queue("faults-inequivalent")), 5, "DeclareAsync");
        Assert.That(error, Is.TypeOf<AmqpException>(), error.ToString());
        Assert.That(((AmqpException)error).ReplyCode, Is.EqualTo((ushort)ReplyCode.PreconditionFailed));
        await Within(connection.WaitForMethodAsync(ChannelCloseOk.CommandIdValue, Deadline), 5, "the client's channel.close-ok");

        connection.On(QueueDeclare.CommandIdValue, f => connection.SendMethodAsync(f.Channel, new QueueDeclareOk("faults-fine", 3, 1)));
        QueueDeclareResult result = await Within(cluster.DeclareAsync(new Queue("faults-fine")), 5, "the next DeclareAsync");
        Assert.That(result, Is.EqualTo(new QueueDeclareResult("faults-fine", 3, 1)));
        Assert.That(connection.Count(f => f.CommandId == ChannelOpen.CommandIdValue), Is.EqualTo(2),
            "the next call runs on a fresh channel");
    }

    [Test]
    public async Task Channel_close_on_the_publishing_channel_fails_its_unconfirmed_publishes_and_the_next_publish_works()
    {
        await using var server = new ScriptedServer();
        var (cluster, connection) = await OpenAsync(server);
        await using var _ = cluster;
        var pending = new Task[5];
        for (int i = 0; i < pending.Length; i++)
        {
            pending[i] = cluster.PublishAsync(new Message("x"u8.ToArray()), "faults-missing", "rk", confirm: true).AsTask();
        }

        InboundFrame body = await Within(connection.WaitForAsync(f => f.Type == FrameType.Body, Deadline, pending.Length), 5,
            "the publishes");
        await connection.SendMethodAsync(body.Channel, new ChannelClose((ushort)ReplyCode.NotFound,
            "NOT_FOUND - no exchange 'faults-missing' in vhost '/'", BasicPublish.ClassIndex, BasicPublish.MethodIndex));

        foreach (Task publish in pending)
        {
            Exception error = await FailureOf(publish, 5, "an unconfirmed publish");
            Assert.That(error, Is.TypeOf<AmqpException>(), error.ToString());
            Assert.That(((AmqpException)error).ReplyCode, Is.EqualTo((ushort)ReplyCode.NotFound));
        }

        connection.AckPublishes = true;
        await Within(cluster.PublishAsync(new Message("y"u8.ToArray()), routingKey: "rk", confirm: true).AsTask(), 5,
            "the next confirmed publish");
        Assert.That(cluster.IsConnected, Is.True);
    }

    private async Task<bool> WaitForStateAsync(Consumer consumer, ConsumerState state)
    {
        while (consumer.State != state)
        {
            await Task.Delay(20, Deadline);
        }

        return true;
    }
}
