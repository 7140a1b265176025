using System;
using System.Linq;
using System.Threading.Tasks;
using CoolAmqp.Connections;
using CoolAmqp.Framing;
using NUnit.Framework;

namespace CoolAmqp.Tests.Faults;

/// <summary>Limits the server imposes in connection.tune, and the client's own (<see cref="ProtocolLimits"/>): a message
/// over a limit is refused before anything is buffered for it (rejected without requeue, reported, the connection
/// stays), a handshake over a limit fails the connect, and lengths that point past their frame are frame errors.</summary>
[TestFixture]
[Category("Faults")]
[CancelAfter(20_000)]
public class LimitTests : FaultTest
{
    [Test]
    public async Task A_consumer_beyond_channel_max_fails_its_ready_task_instead_of_hanging()
    {
        await using var server = new ScriptedServer();
        var (cluster, connection) = await OpenAsync(server, channelMax: 2);
        await using var _ = cluster;

        var (_, first) = cluster.Consume(new Queue("faults-1"));
        var (_, second) = cluster.Consume(new Queue("faults-2"));
        await Within(Task.WhenAll(first, second), 5, "two consumers going online");

        var (third, ready) = cluster.Consume(new Queue("faults-3"));
        Exception error = await FailureOf(ready, 5, "the third consumer's ready task");
        AssertNoProgrammingErrors(error);
        Assert.That(error, Is.TypeOf<InvalidOperationException>(), error.ToString());
        Assert.That(error.Message, Does.Contain("channels"));
        Assert.That(third.State, Is.EqualTo(ConsumerState.Cancelled));
        Assert.That(connection.Count(f => f.CommandId == ChannelOpen.CommandIdValue), Is.EqualTo(2),
            "no channel number above channel-max is ever used");
        Assert.That(cluster.IsConnected, Is.True);
    }

    [Test]
    public async Task Frames_up_to_the_negotiated_frame_max_are_accepted()
    {
        // The positive side of the frame-max check: a frame of exactly frame-max bytes is fine.
        const uint frameMax = 4096;
        await using var server = new ScriptedServer();
        var (cluster, connection) = await OpenAsync(server, frameMax: frameMax);
        await using var _ = cluster;
        var (_, channel) = await ConsumeAsync(cluster, connection, "faults-exact");

        byte[] body = new byte[3 * (frameMax - 8)];
        Random.Shared.NextBytes(body);
        byte[] delivery = Frames.Delivery(channel, connection.ConsumerTagOf(channel), 1, body, frameMax);
        await connection.SendAsync(delivery);

        await AssertReceivesAsync(cluster, body);
    }
    [Test]
    public async Task A_consumer_of_a_queue_name_that_does_not_fit_AMQP_fails_its_ready_task()
    {
        await using var server = new ScriptedServer();
        var (cluster, connection) = await OpenAsync(server);
        await using var _ = cluster;
        var (consumer, ready) = cluster.Consume(new Queue(new string('q', 256)));

        Exception error = await FailureOf(ready, 5, "the consumer's ready task");
        AssertNoProgrammingErrors(error);
        Assert.That(error, Is.InstanceOf<ArgumentException>(), error.ToString());
        Assert.That(consumer.State, Is.EqualTo(ConsumerState.Cancelled));
        Assert.That(connection.Count(f => f.CommandId == QueueDeclare.CommandIdValue), Is.Zero, "nothing half-written was sent");

        Exception declare = await FailureOf(cluster.DeclareAsync(new Queue(new string('q', 256))), 5, "DeclareAsync");
        Assert.That(declare, Is.InstanceOf<ArgumentException>(), declare.ToString());
        await Within(cluster.DeclareAsync(new Queue("faults-fits")), 5, "a DeclareAsync with a name that fits");
        Assert.That(connection.ClientErrors, Is.Empty);
    }

    // ---- ProtocolLimits ----

    private const uint SmallFrameMax = 4096;

    private ClusterOptions WithLimits(ProtocolLimits limits) => Options() with { Limits = limits };

    private static byte[] DeliverAndHeader(ushort channel, string tag, ulong deliveryTag, ulong bodySize,
        BasicProperties properties = default) => Frames.Concat(
        Frames.Method(channel, new BasicDeliver(tag, deliveryTag, false, "faults-ex", "faults-key")),
        Frames.Header(channel, bodySize, properties));

    private async Task<(ulong DeliveryTag, bool Requeue)> RejectOfAsync(ServerConnection server, ushort channel)
    {
        InboundFrame reject = await Within(server.WaitForMethodAsync(BasicReject.CommandIdValue, Deadline), 5, "basic.reject");
        Assert.That(reject.Channel, Is.EqualTo(channel));
        BasicReject.Reader read = BasicReject.Read(reject.Arguments);
        return (read.DeliveryTag, read.Requeue);
    }

    private static async Task<DeliveryRefused> NextRefusalAsync(Cluster cluster)
    {
        ClusterEvent e = await Within(cluster.DrainAsync(TimeSpan.FromSeconds(5)).AsTask(), 10, "DrainAsync");
        Assert.That(e, Is.TypeOf<DeliveryRefused>(), "the refusal is reported as an event");
        return (DeliveryRefused)e;
    }

    private static async Task<ReceivedMessage> NextMessageAsync(Cluster cluster)
    {
        ClusterEvent e = await Within(cluster.DrainAsync(TimeSpan.FromSeconds(5)).AsTask(), 10, "DrainAsync");
        Assert.That(e, Is.TypeOf<MessageReceived>());
        return ((MessageReceived)e).Message;
    }

    [Test]
    public async Task A_delivery_over_MaxBodySize_is_rejected_before_its_body_arrives_and_the_next_one_gets_through(
        [Values(BodyReceiveMode.Copied, BodyReceiveMode.Pooled)] BodyReceiveMode mode)
    {
        await using var server = new ScriptedServer();
        var (cluster, connection) = await OpenAsync(server, frameMax: SmallFrameMax,
            options: WithLimits(new ProtocolLimits { MaxBodySize = 1000 }));
        await using var _ = cluster;
        var (consumer, channel, tag) = await ConsumeWithAsync(cluster, connection, "faults-big",
            new ConsumerOptions { NoAck = false, BodyReceiveMode = mode });

        // Method and header only: the refusal comes before a single body byte was sent, so nothing waited for the body.
        await connection.SendAsync(DeliverAndHeader(channel, tag, 1, 50_000));
        var reject = await RejectOfAsync(connection, channel);
        Assert.That(reject.DeliveryTag, Is.EqualTo(1UL));
        Assert.That(reject.Requeue, Is.False, "requeued, the broker would deliver it again at once");

        // The announced body is read and dropped; what follows parses as usual.
        await connection.SendAsync(Frames.Bodies(channel, new byte[50_000], SmallFrameMax));
        await connection.SendAsync(Frames.Delivery(channel, tag, 2, "fits"u8, SmallFrameMax));

        DeliveryRefused refused = await NextRefusalAsync(cluster);
        Assert.That(refused.Consumer, Is.SameAs(consumer));
        Assert.That(refused.DeliveryTag, Is.EqualTo(1UL));
        Assert.That(refused.Exchange, Is.EqualTo("faults-ex"));
        Assert.That(refused.RoutingKey, Is.EqualTo("faults-key"));
        Assert.That(refused.Rejected, Is.True);
        Assert.That(refused.Error.Limit, Is.EqualTo(nameof(ProtocolLimits.MaxBodySize)));
        Assert.That(refused.Error.Actual, Is.EqualTo(50_000));
        Assert.That(refused.Error.Allowed, Is.EqualTo(1000));
        Assert.That(refused.Error.Message, Does.Contain("50000 bytes").And.Contain("MaxBodySize (1000 bytes)")
            .And.Contain("rejected without requeue"));

        using (ReceivedMessage next = await NextMessageAsync(cluster))
        {
            Assert.That(next.DeliveryTag, Is.EqualTo(2UL));
            Assert.That(next.Body.ToArray(), Is.EqualTo("fits"u8.ToArray()));
            Assert.That(next.Ack(), Is.True);
        }

        InboundFrame ack = await Within(connection.WaitForMethodAsync(BasicAck.CommandIdValue, Deadline), 5, "basic.ack");
        Assert.That(BasicAck.Read(ack.Arguments).DeliveryTag, Is.EqualTo(2UL));
        Assert.That(connection.Count(f => f.CommandId == BasicReject.CommandIdValue), Is.EqualTo(1));
        Assert.That(LogLines.Any(l => l.Contains("Warning", StringComparison.Ordinal) && l.Contains("50000 bytes", StringComparison.Ordinal)),
            Is.True, "a warning names the size and the limit");
        Assert.That(cluster.IsConnected, Is.True);
        Assert.That(consumer.State, Is.EqualTo(ConsumerState.Online));
        Assert.That(connection.ClientErrors, Is.Empty);
    }

    [Test]
    public async Task A_pooled_record_consumer_refuses_an_oversized_delivery_and_keeps_its_settlement_in_step()
    {
        await using var server = new ScriptedServer();
        var (cluster, connection) = await OpenAsync(server, frameMax: SmallFrameMax,
            options: WithLimits(new ProtocolLimits { MaxBodySize = 100 }));
        await using var _ = cluster;
        var delivered = new TaskCompletionSource<(ulong Tag, byte[] Body)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var callback = new TaskCompletionSource<DeliveryRefused>(TaskCreationOptions.RunContinuationsAsynchronously);
        var (_, channel, tag) = await ConsumeWithAsync(cluster, connection, "faults-records", new ConsumerOptions
        {
            NoAck = false,
            OnDelivery = d =>
            {
                delivered.TrySetResult((d.DeliveryTag, d.Body.ToArray()));
                d.Ack();
            },
            OnDeliveryRefused = e => callback.TrySetResult(e),
        });

        await connection.SendAsync(Frames.Concat(DeliverAndHeader(channel, tag, 1, 101),
            Frames.Bodies(channel, new byte[101], SmallFrameMax), Frames.Delivery(channel, tag, 2, "ok"u8, SmallFrameMax)));

        Assert.That((await RejectOfAsync(connection, channel)).DeliveryTag, Is.EqualTo(1UL));
        DeliveryRefused refused = await Within(callback.Task, 5, "OnDeliveryRefused");
        Assert.That(refused.Error.Actual, Is.EqualTo(101));
        var (deliveredTag, body) = await Within(delivered.Task, 5, "the next delivery");
        Assert.That(deliveredTag, Is.EqualTo(2UL));
        Assert.That(body, Is.EqualTo("ok"u8.ToArray()));
        InboundFrame ack = await Within(connection.WaitForMethodAsync(BasicAck.CommandIdValue, Deadline), 5, "basic.ack");
        BasicAck.Reader acked = BasicAck.Read(ack.Arguments);
        // Tag 1 was settled by the reject, so tag 2 is the lowest unsettled: multiple set names it alone.
        Assert.That((acked.DeliveryTag, acked.Multiple), Is.EqualTo((2UL, true)), "the refused tag is settled once, by the reject");
        Assert.That(connection.Count(f => f.CommandId == BasicAck.CommandIdValue), Is.EqualTo(1));
        Assert.That(await NextRefusalAsync(cluster), Is.SameAs(refused), "the callback and the event carry the same report");
        Assert.That(connection.ClientErrors, Is.Empty);
    }

    [Test]
    public async Task A_no_ack_consumer_is_told_of_an_oversized_delivery_and_nothing_is_rejected()
    {
        await using var server = new ScriptedServer();
        var (cluster, connection) = await OpenAsync(server, frameMax: SmallFrameMax,
            options: WithLimits(new ProtocolLimits { MaxBodySize = 10 }));
        await using var _ = cluster;
        var (_, channel, tag) = await ConsumeWithAsync(cluster, connection, "faults-noack", new ConsumerOptions { NoAck = true });

        await connection.SendAsync(Frames.Concat(DeliverAndHeader(channel, tag, 1, 11), Frames.Bodies(channel, new byte[11], SmallFrameMax),
            Frames.Delivery(channel, tag, 2, "ten bytes!"u8, SmallFrameMax)));

        DeliveryRefused refused = await NextRefusalAsync(cluster);
        Assert.That(refused.Rejected, Is.False);
        Assert.That(refused.Error.Message, Does.Contain("no-ack"));
        using (ReceivedMessage next = await NextMessageAsync(cluster))
        {
            Assert.That(next.Body.Length, Is.EqualTo(10), "exactly the limit is accepted");
        }

        Assert.That(connection.Count(f => f.CommandId == BasicReject.CommandIdValue), Is.Zero, "a no-ack delivery cannot be rejected");
        Assert.That(cluster.IsConnected, Is.True);
    }

    [Test]
    public async Task Headers_over_a_field_table_limit_are_refused_like_an_oversized_body([Values("depth", "entries")] string which)
    {
        await using var server = new ScriptedServer();
        var (cluster, connection) = await OpenAsync(server, frameMax: SmallFrameMax,
            options: WithLimits(new ProtocolLimits { MaxFieldTableDepth = 2, MaxFieldTableEntries = 8 }));
        await using var _ = cluster;
        var (_, channel, tag) = await ConsumeWithAsync(cluster, connection, "faults-headers", new ConsumerOptions { NoAck = false });

        FieldTable within = new() { ["a"] = new FieldTable { ["b"] = new object?[] { 1, 2 } } };
        for (int i = 0; i < 7; i++)
        {
            within["k" + i] = i;
        }

        FieldTable over = which == "depth"
            ? new FieldTable { ["a"] = new FieldTable { ["b"] = new FieldTable { ["c"] = new FieldTable() } } }
            : new FieldTable(within) { ["one-too-many"] = true };
        await connection.SendAsync(Frames.Concat(
            DeliverAndHeader(channel, tag, 1, 3, new BasicProperties { Headers = over }),
            Frames.Bodies(channel, "abc"u8, SmallFrameMax),
            DeliverAndHeader(channel, tag, 2, 3, new BasicProperties { Headers = within }),
            Frames.Bodies(channel, "def"u8, SmallFrameMax)));

        var reject = await RejectOfAsync(connection, channel);
        Assert.That((reject.DeliveryTag, reject.Requeue), Is.EqualTo((1UL, false)));
        DeliveryRefused refused = await NextRefusalAsync(cluster);
        Assert.That(refused.Error.Limit, Is.EqualTo(which == "depth"
            ? nameof(ProtocolLimits.MaxFieldTableDepth)
            : nameof(ProtocolLimits.MaxFieldTableEntries)));
        Assert.That(refused.Error.Actual, Is.EqualTo(which == "depth" ? 3 : 9));
        Assert.That(refused.Error.Message, Does.Contain("headers"));
        using ReceivedMessage next = await NextMessageAsync(cluster);
        Assert.That(next.DeliveryTag, Is.EqualTo(2UL));
        Assert.That(next.Properties.Headers, Is.EqualTo(within), "headers exactly at the limits decode");
        Assert.That(cluster.IsConnected, Is.True);
    }

    [Test]
    public async Task GetAsync_of_an_oversized_message_throws_the_limit_error_rejects_it_and_the_channel_goes_on()
    {
        await using var server = new ScriptedServer();
        var (cluster, connection) = await OpenAsync(server, frameMax: SmallFrameMax,
            options: WithLimits(new ProtocolLimits { MaxBodySize = 1000 }));
        await using var _ = cluster;
        int gets = 0;
        connection.On(BasicGet.CommandIdValue, async f =>
        {
            bool first = System.Threading.Interlocked.Increment(ref gets) == 1;
            byte[] body = first ? new byte[5000] : "small"u8.ToArray();
            await connection.SendAsync(Frames.Concat(
                Frames.Method(f.Channel, new BasicGetOk((ulong)gets, false, "", "faults-get", 0)),
                Frames.Header(f.Channel, (ulong)body.Length),
                Frames.Bodies(f.Channel, body, SmallFrameMax)));
        });

        Exception error = await FailureOf(cluster.GetAsync(new Queue("faults-get"), noAck: false), 5, "GetAsync");
        AssertNoProgrammingErrors(error);
        Assert.That(error, Is.TypeOf<ProtocolLimitExceededException>(), error.ToString());
        var limit = (ProtocolLimitExceededException)error;
        Assert.That((limit.Limit, limit.Actual, limit.Allowed), Is.EqualTo((nameof(ProtocolLimits.MaxBodySize), 5000L, 1000L)));
        Assert.That(limit.Message, Does.Contain("basic.get-ok 1").And.Contain("rejected without requeue"));
        InboundFrame reject = await Within(connection.WaitForMethodAsync(BasicReject.CommandIdValue, Deadline), 5, "basic.reject");
        Assert.That(BasicReject.Read(reject.Arguments).DeliveryTag, Is.EqualTo(1UL));

        using ReceivedMessage? next = await Within(cluster.GetAsync(new Queue("faults-get"), noAck: false), 5, "the next GetAsync");
        Assert.That(next, Is.Not.Null);
        Assert.That(next!.Body.ToArray(), Is.EqualTo("small"u8.ToArray()));
        Assert.That(cluster.IsConnected, Is.True);
    }

    [Test]
    public async Task Server_properties_over_the_entry_limit_fail_the_connect_with_the_limit_error()
    {
        await using var server = new ScriptedServer();
        await using var cluster = new Cluster(server.Node(), WithLimits(new ProtocolLimits { MaxFieldTableEntries = 10 }));
        var (start, connection) = await StartStalledAsync(cluster, server, HandshakeStall.BeforeStart, TimeSpan.FromSeconds(10));
        var properties = new FieldTable();
        for (int i = 0; i < 11; i++)
        {
            properties["p" + i] = i;
        }

        await connection.SendAsync(Frames.Method(0, new ConnectionStart(0, 9, properties, "PLAIN"u8.ToArray(), "en_US"u8.ToArray())));

        Exception error = await FailureOf(start, 3, "StartAsync");
        AssertConnectionDead(error);
        Assert.That(error.InnerException, Is.TypeOf<ProtocolLimitExceededException>(), error.ToString());
        Assert.That(error.Message, Does.Contain("server-properties").And.Contain("MaxFieldTableEntries (10)"));
        await AssertClientSentCloseAsync(connection, ReplyCode.ResourceError);
        Assert.That(connection.Count(f => f.CommandId == ConnectionStartOk.CommandIdValue), Is.Zero, "the client went no further");
    }

    [Test]
    public async Task When_both_sides_ask_for_no_frame_limit_the_client_sets_128_KiB_and_holds_the_broker_to_it()
    {
        await using var server = new ScriptedServer();
        var (cluster, connection) = await OpenAsync(server, frameMax: 0);
        await using var _ = cluster;
        Assert.That(connection.FrameMax, Is.EqualTo(131072u), "the client's tune-ok");

        // One byte over: refused when the frame header is read, before its payload is buffered.
        await connection.SendAsync(Frames.Raw((byte)FrameType.Method, 0, new byte[131072 - 8 + 1]));
        ConnectionLost lost = await AssertConnectionLostAsync(cluster, AssertFrameError);
        Assert.That(lost.Reason!.Message, Does.Contain("frame-max 131072"));
        await AssertClientSentCloseAsync(connection, ReplyCode.FrameError);
    }

    [Test]
    public async Task A_shortstr_whose_length_points_past_the_frame_is_a_frame_error()
    {
        await using var server = new ScriptedServer();
        var (cluster, connection) = await OpenAsync(server, frameMax: SmallFrameMax);
        await using var _ = cluster;
        var (_, channel) = await ConsumeAsync(cluster, connection, "faults-shortstr");

        // basic.deliver (60, 60) whose consumer-tag claims 200 bytes of a 30-byte frame.
        byte[] payload = [0, 60, 0, 60, 200, .. "faults-ctag"u8, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0];
        await connection.SendAsync(Frames.Raw((byte)FrameType.Method, channel, payload));

        ConnectionLost lost = await AssertConnectionLostAsync(cluster, AssertFrameError);
        Assert.That(lost.Reason!.Message, Does.Contain("basic.deliver consumer-tag").And.Contain("needed 200"));
        await AssertClientSentCloseAsync(connection, ReplyCode.FrameError);
    }

    [Test]
    public async Task A_longstr_whose_length_points_past_the_frame_fails_the_handshake_with_a_frame_error()
    {
        await using var server = new ScriptedServer();
        await using var cluster = new Cluster(server.Node(), Options());
        var (start, connection) = await StartStalledAsync(cluster, server, HandshakeStall.BeforeStart, TimeSpan.FromSeconds(10));

        // connection.start (10, 10), version 0-9, server-properties claiming 1 MiB of a 20-byte frame.
        byte[] payload = [0, 10, 0, 10, 0, 9, 0, 0x10, 0, 0, 1, (byte)'a', (byte)'V', 0, 0, 0, 5, .. "PLAIN"u8];
        await connection.SendAsync(Frames.Raw((byte)FrameType.Method, 0, payload));

        Exception error = await FailureOf(start, 3, "StartAsync");
        AssertFrameError(error);
        Assert.That(error.Message, Does.Contain("server-properties").And.Contain("needed 1048576"));
        await AssertClientSentCloseAsync(connection, ReplyCode.FrameError);
    }
}
