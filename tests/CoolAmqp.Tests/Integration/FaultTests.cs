using System;
using System.Diagnostics;
using System.Threading.Tasks;
using CoolAmqp.Framing;
using NUnit.Framework;

namespace CoolAmqp.Tests.Integration;

/// <summary>Faults from a scripted server: missed heartbeats, blocking, flow control, a broker that closes,
/// drops the socket mid-handshake or sends garbage.</summary>
[TestFixture]
[Category("Integration")]
public class FaultTests
{
    private static async Task<(Cluster Cluster, ScriptedBroker.Peer Peer)> ConnectAsync(ScriptedBroker broker,
        ushort heartbeat = 0, ClusterOptions? options = null)
    {
        var cluster = new Cluster([broker.Node(heartbeat)], options);
        Task start = cluster.StartAsync(timeout: TimeSpan.FromSeconds(10));
        ScriptedBroker.Peer peer = await broker.AcceptAsync();
        await peer.HandshakeAsync(heartbeat);
        await start;
        return (cluster, peer);
    }

    [Test]
    public async Task A_silent_broker_is_declared_dead_after_two_heartbeat_intervals()
    {
        await using var broker = new ScriptedBroker();
        var (cluster, peer) = await ConnectAsync(broker, heartbeat: 1);
        await using var _ = cluster;
        await using var __ = peer;
        var clock = Stopwatch.StartNew();

        ClusterEvent e = await cluster.DrainAsync(TimeSpan.FromSeconds(10));
        Assert.Multiple(() =>
        {
            Assert.That(e, Is.TypeOf<ConnectionLost>());
            Assert.That(((ConnectionLost)e).Reason, Is.TypeOf<ConnectionDeadException>());
            Assert.That(((ConnectionLost)e).Reason!.Message, Does.Contain("heartbeat"));
            Assert.That(clock.Elapsed, Is.GreaterThan(TimeSpan.FromSeconds(1.5)));
            Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(4.5)));
            Assert.That(cluster.IsConnected, Is.False);
        });
    }

    [Test]
    public async Task An_idle_client_sends_heartbeats_and_stays_up_while_the_broker_does()
    {
        await using var broker = new ScriptedBroker();
        var (cluster, peer) = await ConnectAsync(broker, heartbeat: 1);
        await using var _ = cluster;
        await using var __ = peer;
        for (int i = 0; i < 6; i++)
        {
            await Task.Delay(500);
            peer.SendRaw([8, 0, 0, 0, 0, 0, 0, 0xCE]);
        }

        Assert.That(await peer.StaysQuietAsync(TimeSpan.FromMilliseconds(100)), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(peer.HeartbeatsReceived, Is.GreaterThanOrEqualTo(3), "one every half interval when idle");
            Assert.That(cluster.IsConnected, Is.True);
        });
    }

    [Test]
    public async Task Blocked_and_unblocked_reach_OnBlocked()
    {
        await using var broker = new ScriptedBroker();
        var states = new System.Collections.Concurrent.BlockingCollection<bool>();
        var (cluster, peer) = await ConnectAsync(broker, options: new ClusterOptions { OnBlocked = states.Add });
        await using var _ = cluster;
        await using var __ = peer;

        peer.Send(0, new ConnectionBlocked("low on memory"));
        Assert.That(states.TryTake(out bool blocked, TimeSpan.FromSeconds(5)), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(blocked, Is.True);
            Assert.That(cluster.IsBlocked, Is.True);
        });
        peer.Send(0, new ConnectionUnblocked());
        Assert.That(states.TryTake(out bool unblocked, TimeSpan.FromSeconds(5)), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(unblocked, Is.False);
            Assert.That(cluster.IsBlocked, Is.False);
        });
    }

    [Test]
    public async Task Channel_flow_pauses_publishing_until_resumed()
    {
        await using var broker = new ScriptedBroker();
        var (cluster, peer) = await ConnectAsync(broker);
        await using var _ = cluster;
        await using var __ = peer;

        ValueTask first = cluster.PublishAsync(new Message("1"), routingKey: "q");
        ScriptedBroker.Frame open = await peer.ExpectAsync(ChannelOpen.CommandIdValue);
        peer.Send(open.Channel, new ChannelOpenOk());
        await first;
        await peer.ExpectAsync(BasicPublish.CommandIdValue);
        Assert.That((await peer.ReceiveAsync())!.Type, Is.EqualTo(FrameType.Header));
        Assert.That((await peer.ReceiveAsync())!.Type, Is.EqualTo(FrameType.Body));

        peer.Send(open.Channel, new ChannelFlow(false));
        ScriptedBroker.Frame flowOk = await peer.ExpectAsync(ChannelFlowOk.CommandIdValue);
        Assert.That(ChannelFlowOk.Read(flowOk.Arguments).Active, Is.False);

        Task second = cluster.PublishAsync(new Message("2"), routingKey: "q").AsTask();
        Assert.That(await peer.StaysQuietAsync(TimeSpan.FromMilliseconds(300)), Is.True, "no publish while flow is off");
        Assert.That(second.IsCompleted, Is.False);

        peer.Send(open.Channel, new ChannelFlow(true));
        await peer.ExpectAsync(ChannelFlowOk.CommandIdValue);
        await peer.ExpectAsync(BasicPublish.CommandIdValue);
        await second;
    }

    [Test]
    public async Task A_socket_dropped_after_start_ok_is_an_authentication_failure()
    {
        await using var broker = new ScriptedBroker();
        await using var cluster = new Cluster([broker.Node()]);
        Task start = cluster.StartAsync(timeout: TimeSpan.FromSeconds(10));
        await using ScriptedBroker.Peer peer = await broker.AcceptAsync();
        await peer.ExpectProtocolHeaderAsync();
        peer.Send(0, new ConnectionStart(0, 9, null, "PLAIN"u8.ToArray(), "en_US"u8.ToArray()));
        await peer.ExpectAsync(ConnectionStartOk.CommandIdValue);
        peer.Drop();
        Assert.ThrowsAsync<AuthenticationFailedException>(() => start);
    }

    [Test]
    public async Task A_broker_without_a_mechanism_we_allow_is_refused_clearly()
    {
        await using var broker = new ScriptedBroker();
        await using var cluster = new Cluster([broker.Node()]);
        Task start = cluster.StartAsync(timeout: TimeSpan.FromSeconds(10));
        await using ScriptedBroker.Peer peer = await broker.AcceptAsync();
        await peer.ExpectProtocolHeaderAsync();
        peer.Send(0, new ConnectionStart(0, 9, null, "SCRAM-SHA-256"u8.ToArray(), "en_US"u8.ToArray()));
        var error = Assert.ThrowsAsync<AuthenticationFailedException>(() => start);
        Assert.That(error!.Message, Does.Contain("SCRAM-SHA-256").And.Contain("PLAIN"));
    }

    [Test]
    public async Task Connection_close_from_the_broker_is_acknowledged_and_fails_pending_operations()
    {
        await using var broker = new ScriptedBroker();
        var (cluster, peer) = await ConnectAsync(broker);
        await using var _ = cluster;
        await using var __ = peer;

        Task declare = cluster.DeclareAsync(new Queue("q"));
        ScriptedBroker.Frame open = await peer.ExpectAsync(ChannelOpen.CommandIdValue);
        peer.Send(open.Channel, new ChannelOpenOk());
        await peer.ExpectAsync(QueueDeclare.CommandIdValue);
        peer.Send(0, new ConnectionClose(320, "CONNECTION_FORCED - broker shutting down", 0, 0));
        await peer.ExpectAsync(ConnectionCloseOk.CommandIdValue);

        var error = Assert.ThrowsAsync<AmqpException>(() => declare);
        Assert.Multiple(() =>
        {
            Assert.That(error!.ReplyCode, Is.EqualTo(320));
            Assert.That(error.IsHardError, Is.True);
        });
    }

    [Test]
    public async Task A_malformed_frame_breaks_the_connection_with_a_clear_reason()
    {
        await using var broker = new ScriptedBroker();
        var (cluster, peer) = await ConnectAsync(broker);
        await using var _ = cluster;
        await using var __ = peer;

        peer.SendRaw([1, 0, 0, 0, 0, 0, 4, 0, 10, 0, 10, 0x42]); // a method frame whose frame-end is 0x42
        ClusterEvent e = await cluster.DrainAsync(TimeSpan.FromSeconds(5));
        Assert.That(e, Is.TypeOf<ConnectionLost>());
        Assert.That(((ConnectionLost)e).Reason!.Message, Does.Contain("malformed").And.Contain("frame-end"));
        ScriptedBroker.Frame close = await peer.ExpectAsync(ConnectionClose.CommandIdValue, TimeSpan.FromSeconds(2));
        Assert.That(ConnectionClose.Read(close.Arguments).ReplyCode, Is.EqualTo((ushort)ReplyCode.FrameError),
            "the client says why before it goes");
    }

    [Test]
    public async Task A_response_nobody_asked_for_is_a_protocol_error()
    {
        await using var broker = new ScriptedBroker();
        var (cluster, peer) = await ConnectAsync(broker);
        await using var _ = cluster;
        await using var __ = peer;

        Task declare = cluster.DeclareAsync(new Queue("q"));
        ScriptedBroker.Frame open = await peer.ExpectAsync(ChannelOpen.CommandIdValue);
        peer.Send(open.Channel, new ChannelOpenOk());
        await peer.ExpectAsync(QueueDeclare.CommandIdValue);
        peer.Send(open.Channel, new ExchangeDeclareOk());

        Assert.ThrowsAsync<ConnectionDeadException>(() => declare);
        ClusterEvent e = await cluster.DrainAsync(TimeSpan.FromSeconds(5));
        Assert.That(((ConnectionLost)e).Reason!.Message, Does.Contain("exchange.declare-ok"));
        ScriptedBroker.Frame close = await peer.ExpectAsync(ConnectionClose.CommandIdValue);
        Assert.That(ConnectionClose.Read(close.Arguments).ReplyCode, Is.EqualTo((ushort)ReplyCode.UnexpectedFrame));
    }
}
