using System;
using System.Threading.Tasks;
using CoolAmqp.Connections;
using CoolAmqp.Framing;
using NUnit.Framework;

namespace CoolAmqp.Tests.Faults;

/// <summary>
/// A server that sends bytes that are not AMQP: the connection tells the server why (connection.close 501
/// FRAME_ERROR, or 505 UNEXPECTED_FRAME for well-formed frames out of order) and breaks with
/// <see cref="ConnectionDeadException"/> (inner <see cref="AmqpFrameFormatException"/> or
/// <see cref="ProtocolViolationException"/>), and every waiter hears it — StartAsync, a pending RPC, pending confirmed publishes, and the event stream — without a hang,
/// an unobserved task or an IndexOutOfRangeException. Each broken frame is built from the very frame the client
/// is waiting for, so a client that skipped a check would take it for its answer.
/// </summary>
[TestFixture]
[Category("Faults")]
[CancelAfter(20_000)]
public class MalformedInputTests : FaultTest
{
    private const uint FrameMax = 4096;

    private static readonly Malformation[] All = Enum.GetValues<Malformation>();

    /// <summary>What the break looks like: bytes that do not parse are a frame error; well-formed frames where
    /// the protocol does not allow them (content without its method; any content on channel 0, which is all there
    /// is during the handshake) are a protocol violation. Either way the reason names what was wrong.</summary>
    private static (Action<Exception> Assert, ReplyCode Code) Expected(Malformation kind, bool handshake)
    {
        var (kindOf, code) = kind switch
        {
            Malformation.HeaderWithoutDeliver or Malformation.BodyWithoutHeader => (AssertProtocolViolation, ReplyCode.UnexpectedFrame),
            Malformation.BodyLargerThanAnnounced or Malformation.HugeBodySize when handshake =>
                (AssertProtocolViolation, ReplyCode.UnexpectedFrame),
            _ => ((Action<Exception>)AssertFrameError, ReplyCode.FrameError),
        };
        string named = Named(kind, handshake);
        return (error =>
        {
            kindOf(error);
            Assert.That(error.Message, Does.Contain(named), "the reason names what was wrong");
        }, code);
    }

    private static string Named(Malformation kind, bool handshake) => kind switch
    {
        Malformation.BadFrameEnd => "frame-end",
        Malformation.UnknownFrameType => "frame type 9",
        Malformation.FrameOverFrameMax => "frame-max",
        Malformation.TruncatedArguments => "Truncated input",
        Malformation.UnknownClass => "Unknown AMQP method (99,",
        Malformation.UnknownMethod => ", 99)",
        Malformation.HeaderWithoutDeliver => "content header",

        // During the handshake the basic.deliver before the content is already on the wrong channel.
        Malformation.BodyWithoutHeader or Malformation.BodyLargerThanAnnounced or Malformation.HugeBodySize when handshake =>
            "basic.deliver",
        Malformation.BodyWithoutHeader => "content body",
        Malformation.BodyLargerThanAnnounced => "more body bytes than the 4 announced",
        Malformation.HugeBodySize => "a body of 9223372036854775807 bytes",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    [Test]
    public async Task In_the_handshake_StartAsync_fails_with_a_frame_error([ValueSource(nameof(All))] Malformation kind)
    {
        await using var server = new ScriptedServer();
        await using var cluster = new Cluster(server.Node(), Options());
        var (start, connection) = await StartStalledAsync(cluster, server, HandshakeStall.BeforeStart, TimeSpan.FromSeconds(10));

        // Before tune the client accepts frames up to its pre-tune limit; channel 0 is all there is.
        await connection.SendAsync(Malformed.Build(kind, ServerConnection.ConnectionStartFrame(), Frames.PreTuneFrameMax));

        // Well before the 10 s connection timeout: the broken frame itself ends the handshake.
        var (assert, code) = Expected(kind, handshake: true);
        assert(await FailureOf(start, 3, "StartAsync"));
        Assert.That(cluster.IsConnected, Is.False);
        await AssertNoEventAfterFailedStartAsync(cluster);
        await AssertClientSentCloseAsync(connection, code);
        await Within(connection.ClientGone, 5, "the client closing its socket");
    }

    [Test]
    public async Task During_an_RPC_DeclareAsync_fails_with_a_frame_error([ValueSource(nameof(All))] Malformation kind)
    {
        await using var server = new ScriptedServer();
        var (cluster, connection) = await OpenAsync(server, frameMax: FrameMax);
        await using var _ = cluster;
        connection.On(QueueDeclare.CommandIdValue, f => connection.SendAsync(
            Malformed.Build(kind, Frames.Method(f.Channel, new QueueDeclareOk("faults-declared", 0, 0)), FrameMax)));

        var (assert, code) = Expected(kind, handshake: false);
        assert(await FailureOf(cluster.DeclareAsync(new Queue("faults-declared")), 5, "DeclareAsync"));
        await AssertConnectionLostAsync(cluster, assert);
        await AssertClientSentCloseAsync(connection, code);

        // Later calls fail at once with the same cause rather than waiting for a connection that is gone.
        assert(await FailureOf(cluster.DeclareAsync(new Queue("faults-after")), 2, "a DeclareAsync after the break"));
        await Within(connection.ClientGone, 5, "the client closing its socket");
        Assert.That(connection.ClientErrors, Is.Empty);
    }

    [Test]
    public async Task With_confirms_pending_every_publish_fails_with_a_frame_error([ValueSource(nameof(All))] Malformation kind)
    {
        const int count = 20;
        await using var server = new ScriptedServer();
        var (cluster, connection) = await OpenAsync(server, frameMax: FrameMax);
        await using var _ = cluster;

        var publishes = new Task[count];
        for (int i = 0; i < count; i++)
        {
            publishes[i] = cluster.PublishAsync(new Message(new[] { (byte)i }), routingKey: "faults", confirm: true).AsTask();
        }

        // Every publish is on the wire (and unconfirmed: this server does not ack) before the broken frame comes.
        InboundFrame lastBody = await Within(connection.WaitForAsync(f => f.Type == FrameType.Body, Deadline, count), 5,
            "the publishes reaching the server");
        await connection.SendAsync(Malformed.Build(kind, Frames.Method(lastBody.Channel, new BasicAck(count, true)), FrameMax));

        var (assert, code) = Expected(kind, handshake: false);
        foreach (Task publish in publishes)
        {
            // Sent and not confirmed: of unknown outcome, because of the broken frame.
            Exception error = await FailureOf(publish, 5, "a confirmed publish");
            Assert.That(error, Is.TypeOf<PublishOutcomeUnknownException>(), error.ToString());
            assert(error.InnerException!);
        }

        await AssertConnectionLostAsync(cluster, assert);
        await AssertClientSentCloseAsync(connection, code);
        assert(await FailureOf(cluster.PublishAsync(new Message("late"u8.ToArray()), confirm: true).AsTask(), 2,
            "a publish after the break"));
        Assert.That(connection.ClientErrors, Is.Empty);
    }

    [Test]
    public async Task A_content_header_for_a_channel_that_is_not_open_is_dropped_and_the_connection_stays_up()
    {
        // Frames for a channel the client already closed can legitimately cross its close; they are not an error.
        await using var server = new ScriptedServer();
        var (cluster, connection) = await OpenAsync(server, frameMax: FrameMax);
        await using var _ = cluster;
        await connection.SendAsync(Frames.Concat(Frames.Header(77, 5), Frames.Raw((byte)FrameType.Body, 77, "12345"u8)));

        QueueDeclareResult declared = await Within(cluster.DeclareAsync(new Queue("faults-still-up")), 5, "DeclareAsync");
        Assert.That(declared.QueueName, Is.EqualTo("faults-still-up"));
        Assert.That(cluster.IsConnected, Is.True);
    }
}
