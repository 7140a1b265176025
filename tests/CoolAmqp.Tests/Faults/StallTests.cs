using System;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using CoolAmqp.Framing;
using NUnit.Framework;

namespace CoolAmqp.Tests.Faults;

/// <summary>
/// A server that stops answering: in the handshake (StartAsync's timeout ends it), after open with heartbeats
/// negotiated (the heartbeat monitor ends it, and everything pending fails), and mid-RPC (a cancelled call
/// leaves the channel consistent); and a server that holds the client back (connection.blocked, channel.flow).
/// </summary>
[TestFixture]
[Category("Faults")]
[CancelAfter(20_000)]
public class StallTests : FaultTest
{
    [Test]
    public async Task A_stalled_handshake_fails_StartAsync_after_its_timeout(
        [Values(HandshakeStall.BeforeStart, HandshakeStall.BeforeTune, HandshakeStall.BeforeOpenOk)] HandshakeStall stall)
    {
        TimeSpan timeout = TimeSpan.FromSeconds(1);
        await using var server = new ScriptedServer();
        await using var cluster = new Cluster(server.Node(), Options());
        var clock = Stopwatch.StartNew();
        var (start, connection) = await StartStalledAsync(cluster, server, stall, timeout);

        Exception error = await FailureOf(start, 5, "StartAsync");
        TimeSpan took = clock.Elapsed;
        AssertConnectionDead(error);
        Assert.That(took, Is.GreaterThan(timeout * 0.9).And.LessThan(timeout + TimeSpan.FromSeconds(1.5)),
            "StartAsync should give up after about its timeout");
        Assert.That(error.Message, Does.Contain("did not finish in time"));
        await AssertNoEventAfterFailedStartAsync(cluster);
        await Within(connection.ClientGone, 5, "the client closing its socket");
    }

    [Test]
    public async Task A_handshake_frame_cut_off_halfway_fails_StartAsync_after_its_timeout_naming_the_step(
        [Values(HandshakeStall.BeforeStart, HandshakeStall.BeforeTune, HandshakeStall.BeforeOpenOk)] HandshakeStall stall)
    {
        TimeSpan timeout = TimeSpan.FromSeconds(1);
        await using var server = new ScriptedServer();
        await using var cluster = new Cluster(server.Node(), Options());
        var clock = Stopwatch.StartNew();
        var (start, connection) = await StartStalledAsync(cluster, server, stall, timeout);
        var (frame, step) = stall switch
        {
            HandshakeStall.BeforeStart => (ServerConnection.ConnectionStartFrame(), "connection.start"),
            HandshakeStall.BeforeTune => (Frames.Method(0, new ConnectionTune(2047, 131072, 0)), "connection.tune"),
            _ => (Frames.Method(0, new ConnectionOpenOk()), "connection.open-ok"),
        };

        // The first half of the frame the client waits for, then nothing: the read loop holds a partial frame.
        await connection.SendAsync(frame.AsMemory(0, frame.Length / 2));

        Exception error = await FailureOf(start, 5, "StartAsync");
        TimeSpan took = clock.Elapsed;
        AssertConnectionDead(error);
        Assert.That(error.InnerException, Is.TypeOf<TimeoutException>(), error.ToString());
        Assert.That(error.Message, Does.Contain("did not finish in time").And.Contain("no " + step));
        Assert.That(took, Is.GreaterThan(timeout * 0.9).And.LessThan(timeout + TimeSpan.FromSeconds(1.5)),
            "StartAsync should give up after about its timeout");
        await AssertNoEventAfterFailedStartAsync(cluster);
        await Within(connection.ClientGone, 5, "the client closing its socket");
    }

    [Test]
    public async Task A_TLS_handshake_that_stops_halfway_fails_with_HandshakeTimeout_within_the_connection_timeout()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        await using var cluster = new Cluster(new NodeDefinition($"amqps://guest:guest@127.0.0.1:{port}/?connection_timeout=1000"),
            Options());
        var clock = Stopwatch.StartNew();
        Task start = cluster.StartAsync();
        using Socket peer = await listener.AcceptSocketAsync(Deadline);

        // Take the ClientHello (one handshake record), answer with the start of a ServerHello record, then nothing.
        byte[] record = new byte[5];
        await ReadExactlyAsync(peer, record);
        Assert.That(record[0], Is.EqualTo(0x16), "a TLS handshake record");
        await ReadExactlyAsync(peer, new byte[(record[3] << 8) | record[4]]);
        try
        {
            await peer.SendAsync(new byte[] { 0x16, 0x03, 0x03, 0x00, 0x5A, 0x02, 0x00, 0x00, 0x56, 0x03, 0x03 }, SocketFlags.None, Deadline);
        }
        catch (SocketException)
        {
            // A loaded machine took longer than the client's timeout to get here: it gave up (and closed) first, which
            // is still a handshake that stalled; what it reported is checked below.
        }

        Exception error = await FailureOf(start, 5, "StartAsync");
        TimeSpan took = clock.Elapsed;
        AssertNoProgrammingErrors(error);
        Assert.That(error, Is.TypeOf<TlsHandshakeException>(), error.ToString());
        Assert.That(((TlsHandshakeException)error).Reason, Is.EqualTo(TlsFailureReason.HandshakeTimeout));
        Assert.That(took, Is.GreaterThan(TimeSpan.FromSeconds(0.9)).And.LessThan(TimeSpan.FromSeconds(3)),
            "the connection timeout (1 s), and not much more");
        await AssertNoEventAfterFailedStartAsync(cluster);
    }

    private async Task ReadExactlyAsync(Socket socket, byte[] into)
    {
        int read = 0;
        while (read < into.Length)
        {
            int n = await socket.ReceiveAsync(into.AsMemory(read), SocketFlags.None, Deadline);
            if (n == 0)
            {
                throw new AssertionException("The client closed the socket during the TLS handshake.");
            }

            read += n;
        }
    }

    [Test]
    public async Task Cancelling_StartAsync_during_a_stalled_handshake_throws_OperationCanceledException()
    {
        await using var server = new ScriptedServer();
        await using var cluster = new Cluster(server.Node(), Options());
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        var (start, connection) = await StartStalledAsync(cluster, server, HandshakeStall.BeforeTune, TimeSpan.FromSeconds(10),
            cancel.Token);

        Exception error = await FailureOf(start, 3, "StartAsync");
        Assert.That(error, Is.InstanceOf<OperationCanceledException>(), error.ToString());
        await Within(connection.ClientGone, 5, "the client closing its socket");

        // The cluster did not connect: operations fail rather than wait.
        AssertConnectionDead(await FailureOf(cluster.DeclareAsync(new Queue("faults-never")), 2, "DeclareAsync"));
    }

    [Test]
    public async Task Nothing_listening_fails_StartAsync_at_once_with_the_socket_error()
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        await using var cluster = new Cluster(new NodeDefinition("127.0.0.1", port: port), Options());
        Exception error = await FailureOf(cluster.StartAsync(timeout: TimeSpan.FromSeconds(10)), 3, "StartAsync");
        AssertConnectionDead(error);
        Assert.That(error.InnerException, Is.InstanceOf<SocketException>(), error.ToString());
        await AssertNoEventAfterFailedStartAsync(cluster);
    }

    [Test]
    public async Task A_server_that_goes_silent_is_declared_dead_after_two_heartbeat_intervals()
    {
        const ushort heartbeat = 1;
        await using var server = new ScriptedServer();
        var (cluster, connection) = await OpenAsync(server, heartbeat: heartbeat);
        await using var _ = cluster;
        connection.AckPublishes = true;
        Assert.That(connection.Heartbeat, Is.EqualTo(heartbeat), "the client takes the server's heartbeat proposal");

        // Open the RPC and the confirm channel while the server still answers.
        await Within(cluster.DeclareAsync(new Queue("faults-hb")), 5, "DeclareAsync");
        await Within(cluster.PublishAsync(new Message("one"u8.ToArray()), routingKey: "faults-hb", confirm: true).AsTask(), 5,
            "a confirmed publish");

        // Alive for longer than two intervals as long as the server's heartbeats come, even with nothing else;
        // meanwhile the idle client sends heartbeats and nothing else.
        int sentBeforeIdle = connection.Count(f => f.Type != FrameType.Heartbeat);
        long idleSince = Environment.TickCount64;
        await Task.Delay(TimeSpan.FromSeconds(3.0 * heartbeat), Deadline);
        Assert.That(cluster.IsConnected, Is.True, "the server's heartbeats should keep the connection alive");
        Assert.That(connection.Count(f => f.Type == FrameType.Heartbeat && f.At >= idleSince), Is.GreaterThanOrEqualTo(3),
            "client heartbeats while idle: one every half interval");
        Assert.That(connection.Count(f => f.Type != FrameType.Heartbeat), Is.EqualTo(sentBeforeIdle),
            "an idle client sends nothing but heartbeats");

        connection.Silent = true;
        long silentSince = connection.LastSentTicks;
        Task declare = cluster.DeclareAsync(new Queue("faults-hb-pending"));
        Task publish = cluster.PublishAsync(new Message("two"u8.ToArray()), routingKey: "faults-hb", confirm: true).AsTask();

        Exception error = await FailureOf(declare, 6, "the pending DeclareAsync");
        double deadAfter = (Environment.TickCount64 - silentSince) / 1000.0;
        AssertConnectionDead(error);
        Assert.That(error.Message, Does.Contain("heartbeat"));
        AssertOutcomeUnknown(await FailureOf(publish, 2, "the pending confirmed publish"));
        ConnectionLost lost = await AssertConnectionLostAsync(cluster, AssertConnectionDead);
        Assert.That(lost.Reason!.Message, Does.Contain("heartbeat"));
        Assert.That(cluster.IsConnected, Is.False);

        // Spec 4.2.7: dead after two intervals of silence; the check runs every half interval, plus some slack.
        Assert.That(deadAfter, Is.GreaterThanOrEqualTo(2.0 * heartbeat * 0.9).And.LessThan(2.0 * heartbeat + 1.5),
            "seconds from the server's last byte to the break");

        // Meanwhile the client kept sending its own heartbeats.
        int sentWhileSilent = connection.Count(f => f.Type == FrameType.Heartbeat && f.At >= silentSince);
        // About four in the two seconds; a loaded machine delays the timer's ticks, so only two are asked for.
        Assert.That(sentWhileSilent, Is.GreaterThanOrEqualTo(2), "client heartbeats while the server was silent");
        await Within(connection.ClientGone, 5, "the client closing its socket");
    }

    [Test]
    public async Task A_cancelled_RPC_leaves_the_channel_consistent_and_the_late_answer_is_not_taken_for_the_next()
    {
        await using var server = new ScriptedServer();
        var (cluster, connection) = await OpenAsync(server);
        await using var _ = cluster;

        // The first declare gets no answer for now.
        var held = new TaskCompletionSource<InboundFrame>(TaskCreationOptions.RunContinuationsAsynchronously);
        connection.On(QueueDeclare.CommandIdValue, f =>
        {
            held.TrySetResult(f);
            return Task.CompletedTask;
        });
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        Exception error = await FailureOf(cluster.DeclareAsync(new Queue("faults-first"), cancellationToken: cancel.Token), 3,
            "the stalled DeclareAsync");
        Assert.That(error, Is.InstanceOf<OperationCanceledException>(), error.ToString());
        InboundFrame first = await Within(held.Task, 2, "the first queue.declare");

        // The second waits for the first's answer (which must not be taken for its own) and then gets its own.
        connection.On(QueueDeclare.CommandIdValue, f => connection.SendMethodAsync(f.Channel,
            new QueueDeclareOk(QueueDeclare.Read(f.Arguments).Queue, 7, 0)));
        Task<QueueDeclareResult> second = cluster.DeclareAsync(new Queue("faults-second"));
        await Task.Delay(200, Deadline);
        Assert.That(second.IsCompleted, Is.False, "the second call must wait until the first one's answer is in");
        await connection.SendMethodAsync(first.Channel, new QueueDeclareOk("faults-first", 1, 0));

        QueueDeclareResult result = await Within(second, 5, "the second DeclareAsync");
        Assert.That(result, Is.EqualTo(new QueueDeclareResult("faults-second", 7, 0)));
        Assert.That(cluster.IsConnected, Is.True);
    }

    [Test]
    public async Task A_cancelled_RPC_whose_connection_then_dies_leaves_nothing_unobserved()
    {
        await using var server = new ScriptedServer();
        var (cluster, connection) = await OpenAsync(server);
        await using var _ = cluster;
        connection.Ignore(QueueDeclare.CommandIdValue);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        Exception error = await FailureOf(cluster.DeclareAsync(new Queue("faults-cancelled"), cancellationToken: cancel.Token), 3,
            "the stalled DeclareAsync");
        Assert.That(error, Is.InstanceOf<OperationCanceledException>(), error.ToString());

        // The answer never comes: the connection dies with the call still pending inside the channel.
        connection.Drop(reset: true);
        await AssertConnectionLostAsync(cluster, AssertConnectionDead);
        AssertConnectionDead(await FailureOf(cluster.DeclareAsync(new Queue("faults-after")), 2, "a DeclareAsync after the break"));

        // The teardown's forced collection fails the test if the pending call's failure went unobserved.
    }
    [Test]
    public async Task An_RPC_the_broker_never_answers_fails_after_RpcTimeout_closes_its_channel_and_the_next_call_uses_a_new_one()
    {
        await using var server = new ScriptedServer();
        var (cluster, connection) = await OpenAsync(server, options: Options() with { RpcTimeout = TimeSpan.FromSeconds(1) });
        await using var _ = cluster;
        int declares = 0;
        connection.On(QueueDeclare.CommandIdValue, async frame =>
        {
            // The first goes unanswered (heartbeats are off: nothing else would end the wait); the next is answered.
            if (Interlocked.Increment(ref declares) > 1)
            {
                await connection.SendMethodAsync(frame.Channel, new QueueDeclareOk("faults-answered", 0, 0));
            }
        });

        var clock = Stopwatch.StartNew();
        Exception error = await FailureOf(cluster.DeclareAsync(new Queue("faults-unanswered")), 5, "the unanswered DeclareAsync");
        Assert.That(error, Is.TypeOf<AmqpTimeoutException>(), error.ToString());
        Assert.That(error.Message, Does.Contain("queue.declare").And.Contain("within 1 s"));
        Assert.That(clock.Elapsed, Is.GreaterThan(TimeSpan.FromSeconds(0.9)).And.LessThan(TimeSpan.FromSeconds(3)));
        InboundFrame declare = await Within(connection.WaitForMethodAsync(QueueDeclare.CommandIdValue, Deadline), 2, "queue.declare");
        InboundFrame close = await Within(connection.WaitForMethodAsync(ChannelClose.CommandIdValue, Deadline), 2,
            "channel.close of the channel whose call timed out");
        Assert.That(close.Channel, Is.EqualTo(declare.Channel));

        // The connection stays up; the next call opens a channel of its own, so a late answer cannot reach it.
        Assert.That(cluster.IsConnected, Is.True);
        QueueDeclareResult result = await Within(cluster.DeclareAsync(new Queue("faults-answered")), 5, "the next DeclareAsync");
        Assert.That(result.QueueName, Is.EqualTo("faults-answered"));
        InboundFrame second = await Within(connection.WaitForMethodAsync(QueueDeclare.CommandIdValue, Deadline, occurrence: 2), 2,
            "the second queue.declare");
        InboundFrame reopened = await Within(connection.WaitForMethodAsync(ChannelOpen.CommandIdValue, Deadline, occurrence: 2), 2,
            "a second channel.open");
        Assert.That(reopened.At, Is.GreaterThanOrEqualTo(close.At), "the channel was opened anew after the close");
        Assert.That(second.Channel, Is.EqualTo(reopened.Channel));
        Assert.That(second.At, Is.GreaterThanOrEqualTo(reopened.At));
    }

    [Test]
    public async Task A_call_cancelled_while_its_channel_is_opening_leaves_nothing_unobserved_when_the_connection_dies(
        [Values("declare", "publish")] string operation)
    {
        await using var server = new ScriptedServer();
        var (cluster, connection) = await OpenAsync(server);
        await using var _ = cluster;
        connection.Ignore(ChannelOpen.CommandIdValue);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        Task call = operation == "declare"
            ? cluster.DeclareAsync(new Queue("faults-opening"), cancellationToken: cancel.Token)
            : cluster.PublishAsync(new Message("x"u8.ToArray()), routingKey: "faults", confirm: true, cancellationToken: cancel.Token).AsTask();
        Exception error = await FailureOf(call, 3, operation);
        Assert.That(error, Is.InstanceOf<OperationCanceledException>(), error.ToString());
        await Within(connection.WaitForMethodAsync(ChannelOpen.CommandIdValue, Deadline), 5, "channel.open");

        // The channel never opens: the opening fails with the connection, and nobody is left to await it.
        connection.Drop();
        await AssertConnectionLostAsync(cluster, AssertConnectionDead);
    }

    [Test]
    public async Task Connection_blocked_and_unblocked_reach_OnBlocked_and_IsBlocked()
    {
        using var states = new BlockingCollection<bool>();
        await using var server = new ScriptedServer();
        var (cluster, connection) = await OpenAsync(server, options: Options() with { OnBlocked = states.Add });
        await using var _ = cluster;

        await connection.SendMethodAsync(0, new ConnectionBlocked("low on memory"));
        Assert.That(states.TryTake(out bool blocked, TimeSpan.FromSeconds(5)), Is.True, "OnBlocked after connection.blocked");
        Assert.Multiple(() =>
        {
            Assert.That(blocked, Is.True);
            Assert.That(cluster.IsBlocked, Is.True);
        });

        await connection.SendMethodAsync(0, new ConnectionUnblocked());
        Assert.That(states.TryTake(out bool unblocked, TimeSpan.FromSeconds(5)), Is.True, "OnBlocked after connection.unblocked");
        Assert.Multiple(() =>
        {
            Assert.That(unblocked, Is.False);
            Assert.That(cluster.IsBlocked, Is.False);
            Assert.That(cluster.IsConnected, Is.True);
        });
    }

    [Test]
    public async Task Channel_flow_off_holds_publishes_until_flow_is_on_again([Values] bool confirm)
    {
        await using var server = new ScriptedServer();
        var (cluster, connection) = await OpenAsync(server);
        await using var _ = cluster;
        ushort channel = await PublishThenFlowOffAsync(cluster, connection, confirm);

        int sent = connection.Count(f => f.Type != FrameType.Heartbeat);
        Task held = cluster.PublishAsync(new Message("2"u8.ToArray()), routingKey: "faults", confirm: confirm).AsTask();
        await Task.Delay(300, Deadline);
        Assert.That(held.IsCompleted, Is.False);
        Assert.That(connection.Count(f => f.Type != FrameType.Heartbeat), Is.EqualTo(sent),
            "nothing may be published while flow is off");

        await connection.SendMethodAsync(channel, new ChannelFlow(true));
        InboundFrame flowOk = await Within(connection.WaitForMethodAsync(ChannelFlowOk.CommandIdValue, Deadline, occurrence: 2), 5,
            "the client's second channel.flow-ok");
        Assert.That(ChannelFlowOk.Read(flowOk.Arguments).Active, Is.True);
        await Within(held, 5, "the held publish");
        await Within(connection.WaitForMethodAsync(BasicPublish.CommandIdValue, Deadline, occurrence: 2), 5, "the held basic.publish");
    }

    [Test]
    public async Task Channel_flow_off_then_a_dead_connection_fails_held_publishes_and_leaves_nothing_unobserved(
        [Values(0, 1)] int waiting)
    {
        await using var server = new ScriptedServer();
        var (cluster, connection) = await OpenAsync(server);
        await using var _ = cluster;
        await PublishThenFlowOffAsync(cluster, connection, confirm: true);
        Task? held = waiting == 1
            ? cluster.PublishAsync(new Message("2"u8.ToArray()), routingKey: "faults", confirm: true).AsTask()
            : null;

        connection.Drop();
        await AssertConnectionLostAsync(cluster, AssertConnectionDead);
        if (held is not null)
        {
            AssertConnectionDead(await FailureOf(held, 3, "the held publish"));
        }
    }

    /// <summary>Publishes once (which opens the publishing channel), then turns flow off on that channel.</summary>
    /// <returns>The publishing channel.</returns>
    private async Task<ushort> PublishThenFlowOffAsync(Cluster cluster, ServerConnection connection, bool confirm)
    {
        connection.AckPublishes = true;
        await Within(cluster.PublishAsync(new Message("1"u8.ToArray()), routingKey: "faults", confirm: confirm).AsTask(), 5,
            "a first publish");
        ushort channel = (await Within(connection.WaitForMethodAsync(BasicPublish.CommandIdValue, Deadline), 5, "basic.publish")).Channel;
        await Within(connection.WaitForAsync(f => f.Type == FrameType.Body && f.Channel == channel, Deadline), 5, "the first body");

        await connection.SendMethodAsync(channel, new ChannelFlow(false));
        InboundFrame flowOk = await Within(connection.WaitForMethodAsync(ChannelFlowOk.CommandIdValue, Deadline), 5,
            "the client's channel.flow-ok");
        Assert.That(ChannelFlowOk.Read(flowOk.Arguments).Active, Is.False);
        return channel;
    }
}
