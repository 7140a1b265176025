using System;
using System.Threading.Tasks;
using CoolAmqp.Connections;
using CoolAmqp.Framing;
using NUnit.Framework;

namespace CoolAmqp.Tests.Faults;

/// <summary>Limits the server imposes in connection.tune, and the client's own (<see cref="ProtocolLimits"/>): a
/// handshake over a limit fails the connect.</summary>
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

    private ClusterOptions WithLimits(ProtocolLimits limits) => Options() with { Limits = limits };

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
}
