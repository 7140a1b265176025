using System;
using System.Diagnostics;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Threading.Tasks;
using CoolAmqp.Tests.Integration;
using NUnit.Framework;

namespace CoolAmqp.Tests.Tls;

/// <summary>Every way TLS can fail, each with its own <see cref="TlsFailureReason"/>, each fast: well inside the
/// connection timeout (10 s unless the test says otherwise).</summary>
[TestFixture]
[Category("Integration")]
public class TlsFailureTests
{
    private static readonly TimeSpan Fast = TimeSpan.FromSeconds(5);

    /// <summary>Starts a cluster of one node and returns the TLS error its start failed with, and how long that took.</summary>
    private static async Task<(TlsHandshakeException Error, TimeSpan Elapsed)> FailingStartAsync(NodeDefinition node)
    {
        await using var cluster = new Cluster(node, new ClusterOptions { Name = Broker.Unique("tls-fail") });
        var clock = Stopwatch.StartNew();
        TlsHandshakeException error = Assert.ThrowsAsync<TlsHandshakeException>(() => cluster.StartAsync())!;
        clock.Stop();
        TestContext.Out.WriteLine($"{clock.ElapsedMilliseconds} ms: {error.Reason}: {error.Message}");
        return (error, clock.Elapsed);
    }

    /// <summary>Connects to a test server whose certificate the client should take: the handshake completes, then the
    /// server (which speaks no AMQP) closes and the start fails, but not on TLS.</summary>
    private static async Task AcceptedHandshakeAsync(TlsTestServer server, NodeDefinition node)
    {
        await using var cluster = new Cluster(node, new ClusterOptions { Name = Broker.Unique("tls-pass") });
        ConnectionDeadException error = Assert.CatchAsync<ConnectionDeadException>(() => cluster.StartAsync())!;
        Assert.That(error, Is.Not.InstanceOf<TlsHandshakeException>(), error.Message);
        Assert.That(server.CompletedHandshakes, Is.EqualTo(1));
    }

    [Test]
    public async Task A_server_signed_by_an_untrusted_CA_is_refused()
    {
        // The broker's certificate is signed by the test CA; this client trusts only the rogue one.
        var (error, elapsed) = await FailingStartAsync(TlsBroker.Node(TlsBroker.Trusting("rogue-ca.pem")));
        Assert.Multiple(() =>
        {
            Assert.That(error.Reason, Is.EqualTo(TlsFailureReason.UntrustedRoot));
            Assert.That(error.SslPolicyErrors & SslPolicyErrors.RemoteCertificateChainErrors, Is.Not.EqualTo(SslPolicyErrors.None));
            Assert.That(error.ChainStatus & (X509ChainStatusFlags.UntrustedRoot | X509ChainStatusFlags.PartialChain),
                Is.Not.EqualTo(X509ChainStatusFlags.NoError));
            Assert.That(error.Message, Does.Contain("localhost:5671").And.Contain("not signed by a trusted CA"));
            Assert.That(error, Is.InstanceOf<ConnectionDeadException>());
            Assert.That(elapsed, Is.LessThan(Fast));
        });
    }

    [Test]
    public async Task A_server_signed_by_a_CA_the_system_does_not_know_is_refused_by_default()
    {
        // TlsOptions.Default: the system's roots, where the test CA is not.
        var (error, elapsed) = await FailingStartAsync(new NodeDefinition(TlsBroker.Uri));
        Assert.That(error.Reason, Is.EqualTo(TlsFailureReason.UntrustedRoot));
        Assert.That(elapsed, Is.LessThan(Fast));
    }

    [Test]
    public async Task A_rogue_server_for_the_right_name_is_refused()
    {
        await using TlsTestServer server = TlsTestServer.Serving("rogue-server");
        var (error, elapsed) = await FailingStartAsync(server.Node());
        Assert.That(error.Reason, Is.EqualTo(TlsFailureReason.UntrustedRoot));
        Assert.That(elapsed, Is.LessThan(Fast));
    }

    [Test]
    public async Task A_certificate_for_another_name_is_refused()
    {
        await using TlsTestServer server = TlsTestServer.Serving("other");
        var (error, elapsed) = await FailingStartAsync(server.Node());
        Assert.Multiple(() =>
        {
            Assert.That(error.Reason, Is.EqualTo(TlsFailureReason.NameMismatch));
            Assert.That(error.SslPolicyErrors, Is.EqualTo(SslPolicyErrors.RemoteCertificateNameMismatch));
            Assert.That(error.Message, Does.Contain("other.invalid").And.Contain("'localhost'"));
            Assert.That(elapsed, Is.LessThan(Fast));
        });
    }

    [Test]
    public async Task The_server_name_to_check_can_be_given()
    {
        // The same certificate passes when the name it carries is the one asked for.
        await using TlsTestServer server = TlsTestServer.Serving("other");
        await AcceptedHandshakeAsync(server, server.Node(TlsBroker.Trusting() with { ServerName = "other.invalid" }));
    }

    [Test]
    public async Task The_broker_certificate_checked_against_another_name_is_refused()
    {
        var (error, elapsed) = await FailingStartAsync(TlsBroker.Node(TlsBroker.Trusting() with { ServerName = "other.invalid" }));
        Assert.That(error.Reason, Is.EqualTo(TlsFailureReason.NameMismatch));
        Assert.That(elapsed, Is.LessThan(Fast));
    }

    [Test]
    public async Task An_expired_certificate_is_refused()
    {
        await using TlsTestServer server = TlsTestServer.Serving("expired");
        var (error, elapsed) = await FailingStartAsync(server.Node());
        Assert.Multiple(() =>
        {
            Assert.That(error.Reason, Is.EqualTo(TlsFailureReason.Expired));
            Assert.That(error.ChainStatus & X509ChainStatusFlags.NotTimeValid, Is.EqualTo(X509ChainStatusFlags.NotTimeValid));
            Assert.That(error.Message, Does.Contain("expired").And.Contain("2020-01-02"));
            Assert.That(elapsed, Is.LessThan(Fast));
        });
    }

    [Test]
    public async Task The_loud_opt_out_accepts_an_expired_certificate()
    {
        await using TlsTestServer server = TlsTestServer.Serving("expired");
        await AcceptedHandshakeAsync(server, server.Node(TlsOptions.Default with { DangerousAcceptAnyServerCertificate = true }));
    }

    [Test]
    public async Task A_validation_callback_decides_instead()
    {
        SslPolicyErrors seen = SslPolicyErrors.None;
        await using TlsTestServer server = TlsTestServer.Serving("other");
        await AcceptedHandshakeAsync(server, server.Node(TlsBroker.Trusting() with
        {
            RemoteCertificateValidationCallback = (_, _, _, errors) =>
            {
                seen = errors;
                return errors == SslPolicyErrors.RemoteCertificateNameMismatch; // this test's special case only
            },
        }));
        Assert.That(seen, Is.EqualTo(SslPolicyErrors.RemoteCertificateNameMismatch), "the callback got validation's findings");
    }

    [TestCase(SslProtocols.Tls12)]
    [TestCase(SslProtocols.Tls13)]
    public async Task A_client_certificate_from_an_untrusted_CA_is_refused_by_the_broker(SslProtocols protocol)
    {
        var (error, elapsed) = await FailingStartAsync(TlsBroker.Node(TlsBroker.Trusting() with
        {
            EnabledProtocols = protocol,
            ClientCertificatePath = TlsBroker.Cert("rogue-client.pem"),
            ClientKeyPath = TlsBroker.Cert("rogue-client.key"),
        }));
        Assert.Multiple(() =>
        {
            Assert.That(error.Reason, Is.EqualTo(TlsFailureReason.ClientCertificateRefused));
            Assert.That(error.Message, Does.Contain("refused the client certificate").And.Contain("unknown ca"));
            Assert.That(elapsed, Is.LessThan(Fast));
        });
    }

    [Test]
    public async Task TLS_to_a_plain_port_says_it_is_not_TLS()
    {
        NodeDefinition plain = new(TlsBroker.PlainUri);
        var (error, elapsed) = await FailingStartAsync(
            new NodeDefinition(plain.Host, port: plain.Port) { Tls = TlsBroker.Trusting() });
        Assert.Multiple(() =>
        {
            Assert.That(error.Reason, Is.EqualTo(TlsFailureReason.NotTls));
            Assert.That(error.Message, Does.Contain("AMQP protocol header").And.Contain($":{plain.Port}"));
            Assert.That(elapsed, Is.LessThan(Fast));
        });
    }

    [Test]
    public async Task Plain_AMQP_to_a_TLS_port_says_it_is_a_TLS_port()
    {
        NodeDefinition tls = new(TlsBroker.Uri);
        var (error, elapsed) = await FailingStartAsync(new NodeDefinition(tls.Host, port: tls.Port));
        Assert.Multiple(() =>
        {
            Assert.That(error.Reason, Is.EqualTo(TlsFailureReason.PlainToTls));
            Assert.That(error.Message, Does.Contain("TLS port").And.Contain("amqps://"));
            Assert.That(elapsed, Is.LessThan(Fast));
        });
    }

    [Test]
    public async Task A_handshake_that_stalls_fails_with_a_timeout_within_the_connection_timeout()
    {
        await using TlsTestServer server = TlsTestServer.Stalling();
        NodeDefinition node = new($"amqps://guest:guest@localhost:{server.Port}/?connection_timeout=1500") { Tls = TlsBroker.Trusting() };
        var (error, elapsed) = await FailingStartAsync(node);
        Assert.Multiple(() =>
        {
            Assert.That(error.Reason, Is.EqualTo(TlsFailureReason.HandshakeTimeout));
            Assert.That(error.InnerException, Is.InstanceOf<TimeoutException>());
            Assert.That(elapsed, Is.GreaterThan(TimeSpan.FromSeconds(1.3)).And.LessThan(TimeSpan.FromSeconds(3.5)),
                "the connection timeout (1.5 s), and not much more");
        });
    }

    [Test]
    public async Task Revocation_checking_on_refuses_a_certificate_whose_revocation_cannot_be_checked()
    {
        // The test certificates name no CRL or OCSP responder: with the check on, their status is unknown, and unknown
        // is not good enough.
        var (error, elapsed) = await FailingStartAsync(TlsBroker.Node(TlsBroker.Trusting() with { CheckCertificateRevocation = true }));
        Assert.Multiple(() =>
        {
            Assert.That(error.Reason, Is.EqualTo(TlsFailureReason.Other));
            Assert.That(error.ChainStatus & X509ChainStatusFlags.RevocationStatusUnknown, Is.EqualTo(X509ChainStatusFlags.RevocationStatusUnknown));
            Assert.That(error.Message, Does.Contain("RevocationStatusUnknown"));
            Assert.That(elapsed, Is.LessThan(Fast));
        });
    }

    [Test]
    public async Task A_missing_CA_file_fails_the_connect_and_names_it()
    {
        var (error, elapsed) = await FailingStartAsync(TlsBroker.Node(new TlsOptions { CaCertificatePath = "/nonexistent/ca.pem" }));
        Assert.That(error.Message, Does.Contain("/nonexistent/ca.pem"));
        Assert.That(elapsed, Is.LessThan(Fast));
    }
}
