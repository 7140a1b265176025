using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Threading.Tasks;
using CoolAmqp.Framing;
using NUnit.Framework;

namespace CoolAmqp.Tests.Faults;

/// <summary>
/// Well-formed frames that make no sense where they come: an answer to a question not asked, a close-ok for a
/// close not sent, a handshake method after the handshake (each a protocol violation: connection.close 505), a
/// hostile server-properties table (a frame error: 501); a confirm for a message never published is ignored.
/// </summary>
[TestFixture]
[Category("Faults")]
[CancelAfter(20_000)]
public class ProtocolViolationTests : FaultTest
{
    public enum WrongAnswer
    {
        /// <summary>queue.bind-ok in answer to queue.declare.</summary>
        OtherMethodsResponse,

        /// <summary>channel.close-ok on a channel that is not closing.</summary>
        CloseOkWithoutClose,

        /// <summary>connection.tune on an open connection.</summary>
        TuneAfterOpen,

        /// <summary>connection.start on an open connection.</summary>
        StartAfterOpen,

        /// <summary>A connection-class method on channel 1.</summary>
        ConnectionMethodOnAChannel,
    }

    [Test]
    public async Task A_nonsensical_answer_breaks_the_connection_with_a_frame_error([Values] WrongAnswer answer)
    {
        await using var server = new ScriptedServer();
        var (cluster, connection) = await OpenAsync(server);
        await using var _ = cluster;
        connection.On(QueueDeclare.CommandIdValue, f => connection.SendAsync(answer switch
        {
            WrongAnswer.OtherMethodsResponse => Frames.Method(f.Channel, new QueueBindOk()),
            WrongAnswer.CloseOkWithoutClose => Frames.Method(f.Channel, new ChannelCloseOk()),
            WrongAnswer.TuneAfterOpen => Frames.Method(0, new ConnectionTune(2047, 131072, 0)),
            WrongAnswer.StartAfterOpen => ServerConnection.ConnectionStartFrame(),
            WrongAnswer.ConnectionMethodOnAChannel => Frames.Method(f.Channel, new ConnectionBlocked("low on memory")),
            _ => throw new ArgumentOutOfRangeException(nameof(answer)),
        }));

        string sent = answer switch
        {
            WrongAnswer.OtherMethodsResponse => "queue.bind-ok",
            WrongAnswer.CloseOkWithoutClose => "channel.close-ok",
            WrongAnswer.TuneAfterOpen => "connection.tune",
            WrongAnswer.StartAfterOpen => "connection.start",
            WrongAnswer.ConnectionMethodOnAChannel => "connection.blocked",
            _ => throw new ArgumentOutOfRangeException(nameof(answer)),
        };

        AssertProtocolViolation(await FailureOf(cluster.DeclareAsync(new Queue("faults-wrong")), 5, "DeclareAsync"));
        ConnectionLost lost = await AssertConnectionLostAsync(cluster, AssertProtocolViolation);
        Assert.That(lost.Reason!.Message, Does.Contain(sent), "the reason names the method that did not belong");
        await AssertClientSentCloseAsync(connection, ReplyCode.UnexpectedFrame);
        await Within(connection.ClientGone, 5, "the client closing its socket");
        Assert.That(connection.ClientErrors, Is.Empty);
    }

    [Test]
    public async Task A_confirm_for_a_message_never_published_is_ignored()
    {
        await using var server = new ScriptedServer();
        var (cluster, connection) = await OpenAsync(server);
        await using var _ = cluster;
        connection.AckPublishes = true;
        await Within(cluster.PublishAsync(new Message("1"u8.ToArray()), routingKey: "faults", confirm: true).AsTask(), 5,
            "a confirmed publish");
        ushort channel = (await connection.WaitForMethodAsync(BasicPublish.CommandIdValue, Deadline)).Channel;

        // Tags 1 (again), 999 and a multiple nack up to 1000: none of them is a pending publish.
        await connection.SendMethodAsync(channel, new BasicAck(1, false));
        await connection.SendMethodAsync(channel, new BasicAck(999, false));
        await connection.SendMethodAsync(channel, new BasicNack(1000, true, false));
        await Within(cluster.PublishAsync(new Message("2"u8.ToArray()), routingKey: "faults", confirm: true).AsTask(), 5,
            "the next confirmed publish");
        Assert.That(cluster.IsConnected, Is.True);
    }

    private static IEnumerable<TestCaseData> HostileTables()
    {
        yield return new TestCaseData(Entry("x", (byte)'Z', [1, 2, 3])).SetArgDisplayNames("unknown field type");
        yield return new TestCaseData(Entry("x", (byte)'S', [0, 0, 0x10, 0, 1, 2])).SetArgDisplayNames("string past the end");
        yield return new TestCaseData(Entry("x", (byte)'F', [0x7F, 0xFF, 0xFF, 0xFF])).SetArgDisplayNames("table past the end");
        yield return new TestCaseData(Entry("x", (byte)'A', [0xFF, 0xFF, 0xFF, 0xFF])).SetArgDisplayNames("array length 4 GiB");
        yield return new TestCaseData(new byte[] { 200, (byte)'k' }).SetArgDisplayNames("key past the end");
    }

    [TestCaseSource(nameof(HostileTables))]
    public async Task A_hostile_server_properties_table_fails_StartAsync_with_a_frame_error(byte[] tableBody)
    {
        await using var server = new ScriptedServer();
        await using var cluster = new Cluster(server.Node(), Options());
        var (start, connection) = await StartStalledAsync(cluster, server, HandshakeStall.BeforeStart, TimeSpan.FromSeconds(10));

        // connection.start: version 0-9, the table, mechanisms "PLAIN", locales "en_US".
        var payload = new List<byte> { 0, 10, 0, 10, 0, 9 };
        payload.AddRange(Long(tableBody.Length));
        payload.AddRange(tableBody);
        payload.AddRange(Long(5));
        payload.AddRange("PLAIN"u8.ToArray());
        payload.AddRange(Long(5));
        payload.AddRange("en_US"u8.ToArray());
        await connection.SendAsync(Frames.Raw((byte)FrameType.Method, 0, payload.ToArray()));

        AssertFrameError(await FailureOf(start, 3, "StartAsync"));
        await AssertNoEventAfterFailedStartAsync(cluster);
        await AssertClientSentCloseAsync(connection, ReplyCode.FrameError);
    }

    [Test]
    public async Task A_server_properties_table_nested_past_the_depth_limit_fails_StartAsync_with_the_limit_error()
    {
        // 20,000 levels fit in one pre-tune frame; the scan stops at level 65, before any recursion of that depth.
        await using var server = new ScriptedServer();
        await using var cluster = new Cluster(server.Node(), Options());
        var (start, connection) = await StartStalledAsync(cluster, server, HandshakeStall.BeforeStart, TimeSpan.FromSeconds(10));
        byte[] table = Nested(20_000);
        await connection.SendAsync(Frames.Raw((byte)FrameType.Method, 0,
            Frames.Concat([0, 10, 0, 10, 0, 9], Long(table.Length), table, Long(5), "PLAIN"u8.ToArray(), Long(5), "en_US"u8.ToArray())));

        Exception error = await FailureOf(start, 3, "StartAsync");
        AssertConnectionDead(error);
        Assert.That(error.InnerException, Is.TypeOf<ProtocolLimitExceededException>(), error.ToString());
        Assert.That(((ProtocolLimitExceededException)error.InnerException!).Actual, Is.EqualTo(65));
        Assert.That(error.Message, Does.Contain("MaxFieldTableDepth (64)"));
        await AssertNoEventAfterFailedStartAsync(cluster);
        await AssertClientSentCloseAsync(connection, ReplyCode.ResourceError);
    }

    private static byte[] Long(int value)
    {
        byte[] bytes = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(bytes, value);
        return bytes;
    }

    private static byte[] Entry(string key, byte type, byte[] value) =>
        Frames.Concat([(byte)key.Length], System.Text.Encoding.ASCII.GetBytes(key), [type], value);

    /// <summary>levels tables, each the only value of the one around it: 7 bytes per level (key "t", 'F', length).</summary>
    private static byte[] Nested(int levels)
    {
        byte[] body = new byte[7 * levels];
        for (int i = 0; i < levels; i++)
        {
            Span<byte> entry = body.AsSpan(7 * i);
            entry[0] = 1;
            entry[1] = (byte)'t';
            entry[2] = (byte)'F';
            BinaryPrimitives.WriteInt32BigEndian(entry.Slice(3), 7 * (levels - i - 1));
        }

        return body;
    }
}
