using System;
using System.Diagnostics;
using System.Threading.Tasks;
using CoolAmqp.Framing;
using NUnit.Framework;

namespace CoolAmqp.Tests.Faults;

/// <summary>What the real broker will not do with connection.update-secret: RabbitMQ's internal user store takes any
/// new secret, so a refusal (what an OAuth 2 backend does with a bad token: connection.close 530), a broker that never
/// answers, and an answer nobody asked for are scripted.</summary>
[TestFixture]
[Category("Faults")]
[CancelAfter(20_000)]
public class UpdateSecretTests : FaultTest
{
    [Test]
    public async Task A_refused_secret_fails_UpdateSecretAsync_with_the_brokers_reason()
    {
        await using var server = new ScriptedServer();
        var (cluster, connection) = await OpenAsync(server);
        await using var _ = cluster;
        connection.On(ConnectionCloseOk.CommandIdValue, _ => Task.CompletedTask);
        connection.On(ConnectionUpdateSecret.CommandIdValue, _ => connection.SendMethodAsync(0, new ConnectionClose(
            (ushort)ReplyCode.NotAllowed, "NOT_ALLOWED - access refused: token expired",
            ConnectionUpdateSecret.ClassIndex, ConnectionUpdateSecret.MethodIndex)));

        Exception error = await FailureOf(cluster.UpdateSecretAsync("bad-token", "refresh"), 5, "UpdateSecretAsync");
        AssertNoProgrammingErrors(error);
        Assert.That(error, Is.TypeOf<ConnectionDeadException>(), error.ToString());
        Assert.That(error.InnerException, Is.InstanceOf<AmqpException>());
        Assert.That(((AmqpException)error.InnerException!).ReplyCode, Is.EqualTo((ushort)ReplyCode.NotAllowed));
        Assert.That(error.Message, Does.Contain("token expired"));
        InboundFrame sent = await Within(connection.WaitForMethodAsync(ConnectionUpdateSecret.CommandIdValue, Deadline), 2,
            "update-secret");
        ConnectionUpdateSecret.Reader update = ConnectionUpdateSecret.Read(sent.Arguments);
        Assert.That(update.NewSecret.ToArray(), Is.EqualTo("bad-token"u8.ToArray()));
        Assert.That(update.Reason, Is.EqualTo("refresh"));
        await AssertConnectionLostAsync(cluster, reason => Assert.That(reason, Is.InstanceOf<AmqpException>()));
    }

    [Test]
    public async Task An_unanswered_update_secret_fails_after_RpcTimeout_and_the_connection_stays()
    {
        await using var server = new ScriptedServer();
        var (cluster, connection) = await OpenAsync(server, options: Options() with { RpcTimeout = TimeSpan.FromSeconds(1) });
        await using var _ = cluster;
        connection.Ignore(ConnectionUpdateSecret.CommandIdValue);

        var clock = Stopwatch.StartNew();
        Exception error = await FailureOf(cluster.UpdateSecretAsync("token", "refresh"), 5, "UpdateSecretAsync");
        Assert.That(error, Is.TypeOf<AmqpTimeoutException>(), error.ToString());
        Assert.That(error.Message, Does.Contain("update-secret"));
        Assert.That(clock.Elapsed, Is.GreaterThan(TimeSpan.FromSeconds(0.9)).And.LessThan(TimeSpan.FromSeconds(3)));
        Assert.That(cluster.IsConnected, Is.True);

        // The broker answers in order: the first answer after the timeout is the late one, not the next call's.
        connection.On(ConnectionUpdateSecret.CommandIdValue, async _ =>
        {
            await connection.SendMethodAsync(0, new ConnectionUpdateSecretOk());
            await Task.Delay(300);
            await connection.SendMethodAsync(0, new ConnectionUpdateSecretOk());
        });
        var second = Stopwatch.StartNew();
        await Within(cluster.UpdateSecretAsync("token-2", "refresh"), 5, "the second UpdateSecretAsync");
        Assert.That(second.Elapsed, Is.GreaterThan(TimeSpan.FromMilliseconds(250)), "completed by its own answer, the second");
        Assert.That(cluster.IsConnected, Is.True, "the late answer did not break the connection");
    }

    [Test]
    public async Task An_update_secret_ok_nobody_asked_for_is_a_protocol_violation()
    {
        await using var server = new ScriptedServer();
        var (cluster, connection) = await OpenAsync(server);
        await using var _ = cluster;
        await connection.SendMethodAsync(0, new ConnectionUpdateSecretOk());

        await AssertConnectionLostAsync(cluster, reason => Assert.That(reason.ToString(), Does.Contain("update-secret-ok")));
        await AssertClientSentCloseAsync(connection, ReplyCode.UnexpectedFrame);
    }
}
