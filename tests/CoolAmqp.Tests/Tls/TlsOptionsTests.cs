using System;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using NUnit.Framework;

namespace CoolAmqp.Tests.Tls;

/// <summary>TLS settings without a broker: amqps:// URIs and their TLS parameters, the UseTls shorthand, equality,
/// and what ToString never shows.</summary>
[TestFixture]
public class TlsOptionsTests
{
    [Test]
    public void Amqps_without_TLS_parameters_is_TLS_with_every_default()
    {
        NodeDefinition node = NodeDefinition.Parse("amqps://u:p@rabbit/");
        Assert.Multiple(() =>
        {
            Assert.That(node.Tls, Is.SameAs(TlsOptions.Default));
            Assert.That(node.UseTls, Is.True);
            Assert.That(node.Port, Is.EqualTo(5671));
            Assert.That(NodeDefinition.Parse("amqp://u:p@rabbit/").Tls, Is.Null);
        });
    }

    [Test]
    public void The_defaults_verify_the_server()
    {
        TlsOptions tls = TlsOptions.Default;
        Assert.Multiple(() =>
        {
            Assert.That(tls.EnabledProtocols, Is.EqualTo(SslProtocols.None), "the system's protocols");
            Assert.That(tls.ServerName, Is.Null, "the host is the name checked");
            Assert.That(tls.DangerousAcceptAnyServerCertificate, Is.False);
            Assert.That(tls.CheckCertificateRevocation, Is.False);
            Assert.That(tls.RemoteCertificateValidationCallback, Is.Null);
            Assert.That(tls.TrustedCertificates, Is.Null);
            Assert.That(tls.CaCertificatePath, Is.Null);
        });
    }

    [Test]
    public void Amqps_TLS_parameters_are_parsed()
    {
        NodeDefinition node = NodeDefinition.Parse(
            "amqps://u:p@10.0.0.5:5700/v?heartbeat=5&cacertfile=%2Fetc%2Fca.pem&certfile=/etc/client.pem&keyfile=/etc/client.key" +
            "&server_name_indication=rabbit.example&verify=verify_none");
        Assert.Multiple(() =>
        {
            Assert.That(node.Port, Is.EqualTo(5700));
            Assert.That(node.Heartbeat, Is.EqualTo((ushort)5));
            Assert.That(node.Tls!.CaCertificatePath, Is.EqualTo("/etc/ca.pem"));
            Assert.That(node.Tls.ClientCertificatePath, Is.EqualTo("/etc/client.pem"));
            Assert.That(node.Tls.ClientKeyPath, Is.EqualTo("/etc/client.key"));
            Assert.That(node.Tls.ServerName, Is.EqualTo("rabbit.example"));
            Assert.That(node.Tls.DangerousAcceptAnyServerCertificate, Is.True, "verify=verify_none is the opt-out");
        });
        Assert.That(NodeDefinition.Parse("amqps://h/?verify=verify_peer").Tls!.DangerousAcceptAnyServerCertificate, Is.False);
    }

    [Test]
    public void TLS_parameters_round_trip_through_ToString()
    {
        NodeDefinition node = NodeDefinition.Parse(
            "amqps://u:secret@host/v?cacertfile=/a%20b/ca.pem&certfile=/c.pem&keyfile=/k.pem&server_name_indication=n&verify=verify_none");
        string text = node.ToString();
        Assert.That(text, Does.StartWith("amqps://u@host:5671/v?cacertfile=%2Fa%20b%2Fca.pem&certfile=%2Fc.pem&keyfile=%2Fk.pem" +
            "&server_name_indication=n&verify=verify_none"));
        Assert.That(new NodeDefinition(text, password: "secret"), Is.EqualTo(node));
    }

    [TestCase("amqp://h/?cacertfile=/ca.pem", "amqps://")]
    [TestCase("amqp://h/?verify=verify_none", "amqps://")]
    [TestCase("amqps://h/?verify=maybe", "verify_peer or verify_none")]
    [TestCase("amqps://h/?keyfile=/k.pem", "keyfile needs certfile")]
    [TestCase("amqps://h/?cacertfile=", "needs a value")]
    [TestCase("amqps://h/?tls_magic=1", "cacertfile")]
    public void Bad_TLS_parameters_are_refused(string uri, string message)
    {
        FormatException error = Assert.Throws<FormatException>(() => NodeDefinition.Parse(uri))!;
        Assert.That(error.Message, Does.Contain(message));
    }

    [Test]
    public void UseTls_is_a_shorthand_for_the_default_options()
    {
        var custom = new TlsOptions { ServerName = "x" };
        Assert.Multiple(() =>
        {
            Assert.That(new NodeDefinition("h") { UseTls = true }.Tls, Is.SameAs(TlsOptions.Default));
            Assert.That(new NodeDefinition("h") { Tls = custom }.UseTls, Is.True);
            Assert.That(new NodeDefinition("h") { Tls = custom, UseTls = true }.Tls, Is.SameAs(custom), "keeps options set before");
            Assert.That(new NodeDefinition("amqps://h") { UseTls = false }.Tls, Is.Null);
            Assert.That(new NodeDefinition("amqps://h") { UseTls = false }.Port, Is.EqualTo(5672));
            Assert.That(new NodeDefinition("h") { Tls = custom }.Port, Is.EqualTo(5671));
        });
    }

    [Test]
    public void Nodes_with_equal_TLS_options_are_equal()
    {
        var a = new NodeDefinition("h") { Tls = new TlsOptions { CaCertificatePath = "/ca.pem", EnabledProtocols = SslProtocols.Tls13 } };
        var b = new NodeDefinition("h") { Tls = new TlsOptions { CaCertificatePath = "/ca.pem", EnabledProtocols = SslProtocols.Tls13 } };
        Assert.Multiple(() =>
        {
            Assert.That(a, Is.EqualTo(b));
            Assert.That(a.GetHashCode(), Is.EqualTo(b.GetHashCode()));
            Assert.That(a, Is.Not.EqualTo(new NodeDefinition("h") { Tls = new TlsOptions { CaCertificatePath = "/other.pem" } }));
            Assert.That(a, Is.Not.EqualTo(new NodeDefinition("h", port: 5671)), "TLS against plain on the same port");
            Assert.That(new NodeDefinition("h") { UseTls = true }, Is.EqualTo(NodeDefinition.Parse("amqps://guest:guest@h/")));
        });
    }

    [Test]
    public void Certificates_compare_by_content()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=test root", key, HashAlgorithmName.SHA256);
        using X509Certificate2 root = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        using X509Certificate2 copy = X509CertificateLoader.LoadCertificate(root.RawData);
        var a = new TlsOptions { TrustedCertificates = [root] };
        var b = new TlsOptions { TrustedCertificates = [copy] };
        Assert.That(a, Is.EqualTo(b));
        Assert.That(a.GetHashCode(), Is.EqualTo(b.GetHashCode()));
        Assert.That(a, Is.Not.EqualTo(TlsOptions.Default));
    }

    [Test]
    public void ToString_shows_no_password_and_no_key()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=coolamqp-client", key, HashAlgorithmName.SHA256);
        using X509Certificate2 client = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        string keyPem = key.ExportPkcs8PrivateKeyPem();
        string keyBody = keyPem.Split('\n')[1];
        var tls = new TlsOptions
        {
            ClientPkcs12Path = "/etc/client.p12",
            ClientPkcs12Password = "p12-topsecret",
            TrustedCertificates = [client],
        };
        var withCertificate = new TlsOptions { ClientCertificate = client, ServerName = "rabbit" };
        var node = new NodeDefinition("amqps://u:node-topsecret@h/") { Tls = tls };
        string[] texts = [tls.ToString(), withCertificate.ToString(), node.ToString(), new NodeDefinition("h") { Tls = withCertificate }.ToString()];
        foreach (string text in texts)
        {
            TestContext.Out.WriteLine(text);
            Assert.That(text, Does.Not.Contain("topsecret").And.Not.Contain(keyBody).And.Not.Contain("PRIVATE KEY"));
        }

        Assert.Multiple(() =>
        {
            Assert.That(texts[0], Does.Contain("ClientPkcs12Path = /etc/client.p12").And.Contain("ClientPkcs12Password = ***"));
            Assert.That(texts[1], Does.Contain("ClientCertificate = CN=coolamqp-client").And.Contain("ServerName = rabbit"));
            Assert.That(texts[3], Does.StartWith("amqps://guest@h:5671/"));
        });
    }

    [Test]
    public void Contradicting_client_certificates_are_refused()
    {
        Assert.Multiple(() =>
        {
            Assert.Throws<ArgumentException>(() => _ = new NodeDefinition("h")
            {
                Tls = new TlsOptions { ClientCertificatePath = "/c.pem", ClientPkcs12Path = "/c.p12" },
            });
            Assert.Throws<ArgumentException>(() => _ = new NodeDefinition("h") { Tls = new TlsOptions { ClientKeyPath = "/k.pem" } });
        });
    }

    [Test]
    public void A_missing_TLS_variable_fails_the_test_and_says_what_to_run()
    {
        // The same lookup as COOLAMQP_TLS_BROKER's, on a variable nobody sets (the real ones must stay for other tests).
        AssertionException error = Assert.Throws<AssertionException>(() => _ = TlsBroker.Require("COOLAMQP_TLS_NEVER_SET", "nothing"))!;
        Assert.That(error.Message, Does.Contain("COOLAMQP_TLS_NEVER_SET is not set").And.Contain("tools/broker.sh tls"));
    }
}
