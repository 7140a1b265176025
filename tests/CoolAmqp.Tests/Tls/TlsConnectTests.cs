using System;
using System.Diagnostics;
using System.Linq;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using CoolAmqp.Tests.Integration;
using NUnit.Framework;

namespace CoolAmqp.Tests.Tls;

/// <summary>Connections over TLS to the TLS node that work: TLS 1.2 and 1.3 with the test CA as the only root, mutual
/// TLS with SASL EXTERNAL, and messages of every size through it.</summary>
[TestFixture]
[Category("Integration")]
public class TlsConnectTests
{
    [TestCase(SslProtocols.Tls12, "tlsv1.2")]
    [TestCase(SslProtocols.Tls13, "tlsv1.3")]
    public async Task Connects_with_the_trusted_CA_over(SslProtocols protocol, string brokerName)
    {
        string name = Broker.Unique("tls-" + brokerName);
        NodeDefinition node = TlsBroker.Node(TlsBroker.Trusting() with { EnabledProtocols = protocol });
        await using var cluster = new Cluster(node, new ClusterOptions { Name = name });
        await cluster.StartAsync(timeout: TimeSpan.FromSeconds(10));

        Assert.That(cluster.TlsProtocol, Is.EqualTo(protocol), "the protocol the client negotiated");
        JsonElement row = await TlsBroker.ConnectionNamedAsync(name, "ssl", "ssl_protocol", "user");
        Assert.Multiple(() =>
        {
            Assert.That(row.GetProperty("ssl").GetBoolean(), Is.True);
            Assert.That(row.GetProperty("ssl_protocol").GetString(), Is.EqualTo(brokerName), "the protocol the broker saw");
            Assert.That(row.GetProperty("user").GetString(), Is.EqualTo("guest"), "PLAIN over TLS");
        });
    }

    [Test]
    public async Task The_amqps_uri_with_cacertfile_connects()
    {
        string uri = $"{TlsBroker.Uri}?cacertfile={Uri.EscapeDataString(TlsBroker.Cert("ca.pem"))}";
        await using var cluster = new Cluster(NodeDefinition.Parse(uri), new ClusterOptions { Name = Broker.Unique("tls-uri") });
        await cluster.StartAsync(timeout: TimeSpan.FromSeconds(10));
        Assert.That(cluster.TlsProtocol, Is.Not.Null);
    }

    [Test]
    public async Task An_IP_address_is_checked_against_the_certificate_IP_entries()
    {
        NodeDefinition byName = new(TlsBroker.Uri);
        var node = new NodeDefinition("127.0.0.1", port: byName.Port) { Tls = TlsBroker.Trusting() };
        await using var cluster = new Cluster(node, new ClusterOptions { Name = Broker.Unique("tls-ip") });
        await cluster.StartAsync(timeout: TimeSpan.FromSeconds(10));
        Assert.That(cluster.TlsProtocol, Is.Not.Null);
    }

    [Test]
    public async Task An_amqps_uri_with_certfile_keyfile_and_auth_mechanism_external_logs_in_as_the_certificate()
    {
        string name = Broker.Unique("tls-uri-external");
        string uri = $"{TlsBroker.Uri}?auth_mechanism=external&cacertfile={Uri.EscapeDataString(TlsBroker.Cert("ca.pem"))}" +
            $"&certfile={Uri.EscapeDataString(TlsBroker.Cert("client.pem"))}&keyfile={Uri.EscapeDataString(TlsBroker.Cert("client.key"))}";
        await using var cluster = new Cluster(NodeDefinition.Parse(uri), new ClusterOptions { Name = name });
        await cluster.StartAsync(timeout: TimeSpan.FromSeconds(10));
        JsonElement row = await TlsBroker.ConnectionNamedAsync(name, "user");
        Assert.That(row.GetProperty("user").GetString(), Is.EqualTo(TlsBroker.ClientUser));
    }

    [Test]
    public async Task A_plain_connection_reports_no_TLS_protocol()
    {
        await using var cluster = new Cluster(new NodeDefinition(TlsBroker.PlainUri), new ClusterOptions { Name = Broker.Unique("plain") });
        await cluster.StartAsync(timeout: TimeSpan.FromSeconds(10));
        Assert.That(cluster.TlsProtocol, Is.Null);
    }

    [TestCase("pem")]
    [TestCase("pkcs12")]
    [TestCase("certificate")]
    public async Task Mutual_TLS_logs_in_with_EXTERNAL_as_the_certificate_name(string form)
    {
        TlsOptions tls = form switch
        {
            "pem" => TlsBroker.Trusting() with { ClientCertificatePath = TlsBroker.Cert("client.pem"), ClientKeyPath = TlsBroker.Cert("client.key") },
            "pkcs12" => TlsBroker.Trusting() with { ClientPkcs12Path = TlsBroker.Cert("client.p12"), ClientPkcs12Password = TlsBroker.Pkcs12Password },
            _ => TlsBroker.Trusting() with
            {
                ClientCertificate = X509Certificate2.CreateFromPemFile(TlsBroker.Cert("client.pem"), TlsBroker.Cert("client.key")),
            },
        };
        string name = Broker.Unique("tls-external-" + form);
        // No user or password: EXTERNAL takes the identity from the certificate (the broker's ssl_cert_login_from).
        NodeDefinition node = new NodeDefinition(TlsBroker.Uri, user: "ignored", password: "")
        {
            Tls = tls,
            AuthMechanisms = ["EXTERNAL"],
        };
        await using var cluster = new Cluster(node, new ClusterOptions { Name = name });
        await cluster.StartAsync(timeout: TimeSpan.FromSeconds(10));

        JsonElement row = await TlsBroker.ConnectionNamedAsync(name, "user", "auth_mechanism", "peer_cert_subject");
        Assert.Multiple(() =>
        {
            Assert.That(row.GetProperty("user").GetString(), Is.EqualTo(TlsBroker.ClientUser));
            Assert.That(row.GetProperty("auth_mechanism").GetString(), Is.EqualTo("EXTERNAL"));
            Assert.That(row.GetProperty("peer_cert_subject").GetString(), Does.Contain("CN=" + TlsBroker.ClientUser));
        });
        var queue = new Queue(Broker.Unique("tls-external"), exclusive: true);
        await cluster.DeclareAsync(queue);
        await cluster.PublishAsync(new Message("as the certificate's user"), routingKey: queue.Name, confirm: true);
        Assert.That((await cluster.GetAsync(queue))?.Body.Length, Is.EqualTo(25));
    }

    [Test]
    public async Task A_client_certificate_with_PLAIN_still_logs_in_as_the_user_given()
    {
        string name = Broker.Unique("tls-cert-plain");
        NodeDefinition node = TlsBroker.Node(TlsBroker.Trusting() with
        {
            ClientCertificatePath = TlsBroker.Cert("client.pem"),
            ClientKeyPath = TlsBroker.Cert("client.key"),
        });
        await using var cluster = new Cluster(node, new ClusterOptions { Name = name });
        await cluster.StartAsync(timeout: TimeSpan.FromSeconds(10));
        JsonElement row = await TlsBroker.ConnectionNamedAsync(name, "user", "auth_mechanism");
        Assert.That((row.GetProperty("user").GetString(), row.GetProperty("auth_mechanism").GetString()), Is.EqualTo(("guest", "PLAIN")));
    }

    [Test]
    public async Task After_the_broker_closes_the_connection_it_reconnects_over_mutual_TLS_as_the_certificate_user()
    {
        string name = Broker.Unique("tls-reconnect");
        NodeDefinition node = new NodeDefinition(TlsBroker.Uri, user: "ignored", password: "")
        {
            Tls = TlsBroker.Trusting() with { ClientCertificatePath = TlsBroker.Cert("client.pem"), ClientKeyPath = TlsBroker.Cert("client.key") },
            AuthMechanisms = ["EXTERNAL"],
        };
        await using var cluster = new Cluster(node, new ClusterOptions
        {
            Name = name,
            Recovery = new RecoveryOptions { InitialDelay = TimeSpan.FromMilliseconds(50), MaxDelay = TimeSpan.FromSeconds(1) },
        });
        await cluster.StartAsync(timeout: TimeSpan.FromSeconds(10));
        var queue = new Queue(Broker.Unique("tls-reconnect"), autoDelete: false);
        await cluster.DeclareAsync(queue, persistent: true);
        long firstPort = (await TlsBroker.ConnectionNamedAsync(name, "peer_port")).GetProperty("peer_port").GetInt64();

        await Broker.CloseConnectionOnAsync(TlsBroker.NodeName, name, "closed by the test");
        var events = await Broker.EventsUntilAsync<Reconnected>(cluster, 20);
        Assert.That(events[0], Is.TypeOf<ConnectionLost>());

        JsonElement row = await TlsBroker.ConnectionNamedAsync(name, "peer_port", "ssl", "user", "auth_mechanism");
        Assert.Multiple(() =>
        {
            Assert.That(row.GetProperty("peer_port").GetInt64(), Is.Not.EqualTo(firstPort), "a new connection");
            Assert.That(row.GetProperty("ssl").GetBoolean(), Is.True);
            Assert.That(row.GetProperty("user").GetString(), Is.EqualTo(TlsBroker.ClientUser));
            Assert.That(row.GetProperty("auth_mechanism").GetString(), Is.EqualTo("EXTERNAL"));
            Assert.That(cluster.TlsProtocol, Is.Not.Null);
        });
        await cluster.PublishAsync(new Message("after"), routingKey: queue.Name, confirm: true);
        Assert.That((await cluster.GetAsync(queue))?.Body.Length, Is.EqualTo(5), "the recovered queue takes it");
        await cluster.DeleteQueueAsync(queue);
    }

    [TestCase(0)]
    [TestCase(1024)]
    [TestCase(1024 * 1024)]
    [TestCase(16 * 1024 * 1024)]
    public async Task Publishes_and_consumes_over_TLS(int size)
    {
        await using var cluster = new Cluster(TlsBroker.Node(TlsBroker.Trusting()), new ClusterOptions { Name = Broker.Unique("tls-body") });
        await cluster.StartAsync(timeout: TimeSpan.FromSeconds(10));
        var queue = new Queue(Broker.Unique("tls-body"), exclusive: true);
        await cluster.DeclareAsync(queue);
        var (consumer, ready) = cluster.Consume(queue, new ConsumerOptions { ReadFromConsumer = true, NoAck = false });
        await ready;

        byte[][] bodies = [.. Enumerable.Range(0, 3).Select(i => Body(size, seed: size + i))];
        foreach (byte[] body in bodies)
        {
            await cluster.PublishAsync(new Message(body), routingKey: queue.Name, confirm: true);
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        int received = 0;
        await foreach (ReceivedMessage message in consumer.ReadAllAsync(timeout.Token))
        {
            Assert.That(message.Body.Span.SequenceEqual(bodies[received]), Is.True, $"body {received} of {size} bytes arrived changed");
            message.Ack();
            if (++received == bodies.Length)
            {
                break;
            }
        }

        Assert.That(received, Is.EqualTo(bodies.Length));
        await consumer.CancelAsync();
    }

    private static byte[] Body(int size, int seed)
    {
        byte[] body = new byte[size];
        new Random(seed).NextBytes(body);
        return body;
    }
}
