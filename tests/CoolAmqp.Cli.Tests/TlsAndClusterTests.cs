using System;
using System.IO;
using System.Text.Json.Nodes;
using System.Threading.Tasks;
using NUnit.Framework;

namespace CoolAmqp.Cli.Tests;

/// <summary>The tool over TLS (the TLS node of <c>tools/broker.sh tls</c>, trust and client certificate given as
/// the URI's <c>cacertfile</c>/<c>certfile</c>/<c>keyfile</c>) and against a list of cluster nodes (the three-node
/// cluster of <c>tools/broker.sh cluster 3</c>). Like the library's TLS and cluster tests these fail, never skip,
/// without those brokers.</summary>
[TestFixture]
public sealed class TlsAndClusterTests
{
    private static string Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value
        ? value
        : throw new AssertionException(
            $"{name} is not set: run through dotnet cake --target=Test, or start the brokers with tools/broker.sh "
            + "(tls, cluster 3) and export what env-tls and env-cluster print.");

    private static string Certs => Env("COOLAMQP_TLS_CERTS");

    /// <summary>The TLS listener as amqps://, trusting the test CA.</summary>
    private static string TlsUri(string userInfo = "guest:guest@", string extra = "") =>
        $"{new Uri(Env("COOLAMQP_TLS_BROKER")).GetLeftPart(UriPartial.Scheme)}{userInfo}localhost:"
        + $"{new Uri(Env("COOLAMQP_TLS_BROKER")).Port}/?cacertfile={Path.Combine(Certs, "ca.pem")}{extra}";

    [Test]
    public async Task Publish_and_get_over_tls_with_the_ca_from_the_uri()
    {
        var queue = Cli.UniqueName("tls");
        var uri = TlsUri();
        try
        {
            var declare = await Cli.RunAsync("declare", "queue", queue, "--uri", uri);
            Assert.That(declare.Code, Is.Zero, declare.ToString());
            var publish = await Cli.RunAsync("publish", "-k", queue, "-b", "over tls", "--uri", uri);
            Assert.That(publish.Code, Is.Zero, publish.ToString());
            Assert.That(publish.Out, Does.Contain("(confirmed)"));

            var get = await Cli.RunAsync("get", queue, "--json", "--uri", uri);
            Assert.That(get.Code, Is.Zero, get.ToString());
            var messages = JsonNode.Parse(get.Out)!.AsArray();
            Assert.That(messages, Has.Count.EqualTo(1), get.ToString());
            Assert.That((string?)messages[0]!["body"], Is.EqualTo("over tls"));
        }
        finally
        {
            await Cli.RunAsync("delete", "queue", queue, "--uri", uri);
        }
    }

    [Test]
    public async Task An_untrusted_server_certificate_is_one_line_naming_the_cause()
    {
        // No cacertfile: only the system's CAs are trusted, and the test CA is not one of them.
        var uri = $"amqps://guest:guest@localhost:{new Uri(Env("COOLAMQP_TLS_BROKER")).Port}/";
        var run = await Cli.RunAsync("declare", "queue", Cli.UniqueName("untrusted"), "--uri", uri);
        Cli.AssertOneLineError(run, 1, "not signed by a trusted CA");
        Assert.That(run.Err, Does.Not.Contain("guest:guest"), "the password is not printed back");
    }

    [Test]
    public async Task Mutual_tls_with_external_login_takes_the_user_from_the_certificate()
    {
        var queue = Cli.UniqueName("external");
        var plain = TlsUri();
        // No user or password in this URI: the broker takes the user from the client certificate (SASL EXTERNAL).
        var external = TlsUri(userInfo: "", extra:
            $"&certfile={Path.Combine(Certs, "client.pem")}&keyfile={Path.Combine(Certs, "client.key")}&auth_mechanism=external");
        try
        {
            Assert.That((await Cli.RunAsync("declare", "queue", queue, "--uri", plain)).Code, Is.Zero);
            var publish = await Cli.RunAsync("publish", "-k", queue, "-b", "from a certificate", "--uri", external);
            Assert.That(publish.Code, Is.Zero, publish.ToString());

            var get = await Cli.RunAsync("get", queue, "--json", "--uri", plain);
            Assert.That((string?)JsonNode.Parse(get.Out)!.AsArray()[0]!["body"], Is.EqualTo("from a certificate"), get.ToString());
        }
        finally
        {
            await Cli.RunAsync("delete", "queue", queue, "--uri", plain);
        }
    }

    [Test]
    public async Task A_uri_list_skips_a_dead_node_and_reaches_the_cluster()
    {
        var nodes = Env("COOLAMQP_CLUSTER").Split(',');
        Assert.That(nodes, Has.Length.GreaterThanOrEqualTo(2));
        var queue = Cli.UniqueName("cluster");
        // Port 1 refuses at once: the tool goes on to the next node of the list.
        var list = "amqp://guest:guest@127.0.0.1:1/," + string.Join(',', nodes);
        var last = nodes[^1];
        try
        {
            var declare = await Cli.RunAsync("declare", "queue", queue, "--json", "--uri", list);
            Assert.That(declare.Code, Is.Zero, declare.ToString());
            var publish = await Cli.RunAsync("publish", "-k", queue, "-b", "across the cluster", "-n", "3", "--uri", list);
            Assert.That(publish.Code, Is.Zero, publish.ToString());

            // Read back through another member only: the queue and its messages are the cluster's.
            var get = await Cli.RunAsync("get", queue, "-n", "5", "--json", "--uri", last);
            Assert.That(get.Code, Is.Zero, get.ToString());
            var messages = JsonNode.Parse(get.Out)!.AsArray();
            Assert.That(messages, Has.Count.EqualTo(3), get.ToString());
            Assert.That((string?)messages[2]!["body"], Is.EqualTo("across the cluster"));
        }
        finally
        {
            await Cli.RunAsync("delete", "queue", queue, "--uri", last);
        }
    }

    [Test]
    public async Task A_uri_list_with_no_live_node_fails_in_one_line()
    {
        var run = await Cli.RunAsync("declare", "queue", Cli.UniqueName("nobody"), "--uri",
            "amqp://guest:guest@127.0.0.1:1/,amqp://guest:guest@127.0.0.1:2/");
        Cli.AssertOneLineError(run, 1, "cannot connect");
        Assert.That(run.Err, Does.Not.Contain("guest:guest"));
    }
}
