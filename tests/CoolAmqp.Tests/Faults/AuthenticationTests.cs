using System;
using System.Threading.Tasks;
using CoolAmqp.Framing;
using NUnit.Framework;

namespace CoolAmqp.Tests.Faults;

/// <summary>The login fails: the server offers no mechanism the client allows, or (what RabbitMQ does on bad
/// credentials) closes the socket right after connection.start-ok. StartAsync fails at once with
/// <see cref="AuthenticationFailedException"/>, not after its timeout.</summary>
[TestFixture]
[Category("Faults")]
[CancelAfter(20_000)]
public class AuthenticationTests : FaultTest
{
    [Test]
    public async Task A_socket_closed_after_start_ok_fails_StartAsync_as_an_authentication_failure()
    {
        await using var server = new ScriptedServer();
        await using var cluster = new Cluster(server.Node(), Options());
        var (start, connection) = await StartStalledAsync(cluster, server, HandshakeStall.BeforeTune, TimeSpan.FromSeconds(10));
        connection.Drop();

        Exception error = await FailureOf(start, 3, "StartAsync");
        AssertNoProgrammingErrors(error);
        Assert.That(error, Is.TypeOf<AuthenticationFailedException>(), error.ToString());
        Assert.That(cluster.IsConnected, Is.False);
    }

    [Test]
    public async Task A_server_without_a_mechanism_the_client_allows_is_refused_naming_both()
    {
        await using var server = new ScriptedServer();
        await using var cluster = new Cluster(server.Node(), Options());
        var (start, connection) = await StartStalledAsync(cluster, server, HandshakeStall.BeforeStart, TimeSpan.FromSeconds(10));
        await connection.SendMethodAsync(0, new ConnectionStart(0, 9, null, "SCRAM-SHA-256"u8.ToArray(), "en_US"u8.ToArray()));

        Exception error = await FailureOf(start, 3, "StartAsync");
        AssertNoProgrammingErrors(error);
        Assert.That(error, Is.TypeOf<AuthenticationFailedException>(), error.ToString());
        Assert.That(error.Message, Does.Contain("SCRAM-SHA-256").And.Contain("PLAIN"));
        await Within(connection.ClientGone, 5, "the client closing its socket");
        Assert.That(connection.Count(f => f.CommandId == ConnectionStartOk.CommandIdValue), Is.Zero,
            "no credentials are sent with a mechanism the client does not allow");
    }
}
