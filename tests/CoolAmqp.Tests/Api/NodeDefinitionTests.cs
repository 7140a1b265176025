using System;
using System.Collections.Generic;
using CoolAmqp;
using CsCheck;
using NUnit.Framework;

namespace CoolAmqp.Tests.Api;

[TestFixture]
public sealed class NodeDefinitionTests
{
    [Test]
    public void Named_arguments_form()
    {
        var node = new NodeDefinition(host: "192.168.0.1", user: "admin", password: "password", virtualHost: "vhost", heartbeat: 20, port: 5673);
        Assert.Multiple(() =>
        {
            Assert.That(node.Host, Is.EqualTo("192.168.0.1"));
            Assert.That(node.User, Is.EqualTo("admin"));
            Assert.That(node.Password, Is.EqualTo("password"));
            Assert.That(node.VirtualHost, Is.EqualTo("vhost"));
            Assert.That(node.Heartbeat, Is.EqualTo((ushort)20));
            Assert.That(node.Port, Is.EqualTo(5673));
            Assert.That(node.UseTls, Is.False);
        });
    }

    [Test]
    public void Positional_form_uses_defaults()
    {
        var node = new NodeDefinition("192.168.0.1", "admin", "password");
        Assert.Multiple(() =>
        {
            Assert.That(node.Host, Is.EqualTo("192.168.0.1"));
            Assert.That(node.User, Is.EqualTo("admin"));
            Assert.That(node.Password, Is.EqualTo("password"));
            Assert.That(node.VirtualHost, Is.EqualTo("/"));
            Assert.That(node.Port, Is.EqualTo(5672));
            Assert.That(node.Heartbeat, Is.Null);
            Assert.That(node.FrameMax, Is.Zero);
            Assert.That(node.ChannelMax, Is.Zero);
            Assert.That(node.ConnectionTimeout, Is.EqualTo(TimeSpan.FromSeconds(10)));
            Assert.That(node.AuthMechanisms, Is.EqualTo(new[] { "PLAIN" }));
        });
    }

    [Test]
    public void Host_only_defaults_to_guest()
    {
        var node = new NodeDefinition("localhost");
        Assert.That((node.User, node.Password, node.VirtualHost), Is.EqualTo(("guest", "guest", "/")));
    }

    [Test]
    public void Uri_form_with_heartbeat_argument()
    {
        var node = new NodeDefinition("amqp://user:password@host:5999/virtual_host", heartbeat: 20);
        Assert.Multiple(() =>
        {
            Assert.That(node.Host, Is.EqualTo("host"));
            Assert.That(node.Port, Is.EqualTo(5999));
            Assert.That(node.User, Is.EqualTo("user"));
            Assert.That(node.Password, Is.EqualTo("password"));
            Assert.That(node.VirtualHost, Is.EqualTo("virtual_host"));
            Assert.That(node.Heartbeat, Is.EqualTo((ushort)20));
        });
    }

    [Test]
    public void Uri_without_port_uses_5672_and_amqps_uses_5671()
    {
        Assert.Multiple(() =>
        {
            Assert.That(NodeDefinition.Parse("amqp://u:p@host/v").Port, Is.EqualTo(5672));
            NodeDefinition tls = NodeDefinition.Parse("amqps://u:p@host/v");
            Assert.That(tls.UseTls, Is.True);
            Assert.That(tls.Port, Is.EqualTo(5671));
            Assert.That(NodeDefinition.Parse("AMQPS://host:1234").Port, Is.EqualTo(1234));
        });
    }

    [Test]
    public void UseTls_init_changes_default_port_only()
    {
        Assert.That(new NodeDefinition("h") { UseTls = true }.Port, Is.EqualTo(5671));
        Assert.That(new NodeDefinition("h", port: 7000) { UseTls = true }.Port, Is.EqualTo(7000));
    }

    [TestCase("amqp://host", "/")]
    [TestCase("amqp://host/", "/")]
    [TestCase("amqp://host/%2F", "/")]
    [TestCase("amqp://host/%2f", "/")]
    [TestCase("amqp://host/foo", "foo")]
    [TestCase("amqp://host/%2Ffoo%20bar", "/foo bar")]
    [TestCase("amqp://host?heartbeat=3", "/")]
    [TestCase("amqp://host/x?heartbeat=3", "x")]
    public void Virtual_host_from_uri(string uri, string expected)
    {
        Assert.That(NodeDefinition.Parse(uri).VirtualHost, Is.EqualTo(expected));
    }

    [Test]
    public void Percent_decoding_of_user_and_password()
    {
        NodeDefinition node = NodeDefinition.Parse("amqp://us%40er:p%3Ass%2Fw%C3%B3rd@host/");
        Assert.That(node.User, Is.EqualTo("us@er"));
        Assert.That(node.Password, Is.EqualTo("p:ss/wórd"));
    }

    [Test]
    public void User_without_password_and_no_userinfo()
    {
        NodeDefinition userOnly = NodeDefinition.Parse("amqp://bob@host");
        Assert.That(userOnly.User, Is.EqualTo("bob"));
        Assert.That(userOnly.Password, Is.EqualTo("guest"));
        NodeDefinition none = NodeDefinition.Parse("amqp://host");
        Assert.That((none.User, none.Password), Is.EqualTo(("guest", "guest")));
        NodeDefinition empty = NodeDefinition.Parse("amqp://:@host");
        Assert.That((empty.User, empty.Password), Is.EqualTo(("", "")));
    }

    [Test]
    public void Empty_host_is_localhost()
    {
        Assert.That(NodeDefinition.Parse("amqp://").Host, Is.EqualTo("localhost"));
        Assert.That(NodeDefinition.Parse("amqp://u:p@/v").Host, Is.EqualTo("localhost"));
    }

    [Test]
    public void Ipv6_literal_hosts()
    {
        NodeDefinition withPort = NodeDefinition.Parse("amqp://u:p@[::1]:5673/v");
        Assert.That(withPort.Host, Is.EqualTo("::1"));
        Assert.That(withPort.Port, Is.EqualTo(5673));
        NodeDefinition noPort = NodeDefinition.Parse("amqp://[fe80::1%25eth0]");
        Assert.That(noPort.Host, Is.EqualTo("fe80::1%eth0"), "RFC 6874 zone id");
        Assert.That(noPort.ToString(), Does.StartWith("amqp://guest@[fe80::1%25eth0]:5672/"));
        Assert.That(noPort.Port, Is.EqualTo(5672));
        Assert.That(new NodeDefinition("[::1]").Host, Is.EqualTo("::1"));
        Assert.That(withPort.ToString(), Does.StartWith("amqp://u@[::1]:5673/"));
    }

    [Test]
    public void Query_parameters()
    {
        NodeDefinition node = NodeDefinition.Parse(
            "amqp://host/v?heartbeat=5&frame_max=131072&channel_max=64&connection_timeout=2500&auth_mechanism=AMQPLAIN&auth_mechanism=plain");
        Assert.Multiple(() =>
        {
            Assert.That(node.Heartbeat, Is.EqualTo((ushort)5));
            Assert.That(node.FrameMax, Is.EqualTo(131072u));
            Assert.That(node.ChannelMax, Is.EqualTo((ushort)64));
            Assert.That(node.ConnectionTimeout, Is.EqualTo(TimeSpan.FromMilliseconds(2500)));
            Assert.That(node.AuthMechanisms, Is.EqualTo(new[] { "AMQPLAIN", "PLAIN" }));
        });
    }

    [Test]
    public void Explicit_arguments_override_the_uri()
    {
        var node = new NodeDefinition("amqp://u:p@host:1000/v?heartbeat=5", user: "other", heartbeat: 0, port: 2000, virtualHost: "w");
        Assert.That((node.User, node.Password, node.Heartbeat, node.Port, node.VirtualHost), Is.EqualTo(("other", "p", (ushort?)0, 2000, "w")));
    }

    [TestCase("http://host/", "scheme")]
    [TestCase("amqp://host:abc/", "port")]
    [TestCase("amqp://host:0/", "port")]
    [TestCase("amqp://host:70000/", "port")]
    [TestCase("amqp://host:-1/", "port")]
    [TestCase("amqp://host/?bogus=1", "bogus")]
    [TestCase("amqp://host/?heartbeat=soon", "heartbeat")]
    [TestCase("amqp://host/?heartbeat=70000", "heartbeat")]
    [TestCase("amqp://host/?heartbeat=", "heartbeat")]
    [TestCase("amqp://host/?frame_max=-5", "frame_max")]
    [TestCase("amqp://host/?channel_max=65536", "channel_max")]
    [TestCase("amqp://host/?frame_max=4095", "frame_max")]
    [TestCase("amqp://host/?connection_timeout=0", "connection_timeout")]
    [TestCase("amqp://host/?auth_mechanism=KERBEROS", "auth_mechanism")]
    [TestCase("amqp://host/a/b", "virtual host")]
    [TestCase("amqp://host/%zz", "percent")]
    [TestCase("amqp://u:p%4@host/", "password")]
    [TestCase("amqp://[::1/", "host")]
    [TestCase("amqp://[::1]x/", "host")]
    [TestCase("amqp://host/#frag", "fragment")]
    public void Invalid_uris_name_the_bad_part(string uri, string part)
    {
        var e = Assert.Throws<FormatException>(() => NodeDefinition.Parse(uri));
        Assert.That(e!.Message, Does.Contain(part).IgnoreCase);
    }

    [Test]
    public void Parse_rejects_a_plain_host_name()
    {
        Assert.Throws<FormatException>(() => NodeDefinition.Parse("localhost"));
        Assert.That(NodeDefinition.TryParse("localhost", out _), Is.False);
        Assert.That(NodeDefinition.TryParse("amqp://h", out NodeDefinition? node), Is.True);
        Assert.That(node!.Host, Is.EqualTo("h"));
    }

    [Test]
    public void Bad_arguments_throw_argument_exceptions()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new NodeDefinition("h", port: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new NodeDefinition("h", port: 65536));
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new NodeDefinition("h", heartbeat: -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new NodeDefinition("h", heartbeat: 65536));
        Assert.Throws<ArgumentException>(() => _ = new NodeDefinition(""));
        Assert.Throws<ArgumentNullException>(() => _ = new NodeDefinition(null!));
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new NodeDefinition("h") { ConnectionTimeout = TimeSpan.Zero });
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new NodeDefinition("h") { FrameMax = 100 });
        Assert.That(new NodeDefinition("h") { FrameMax = 4096 }.FrameMax, Is.EqualTo(4096u));
        Assert.Throws<ArgumentException>(() => _ = new NodeDefinition("h") { AuthMechanisms = Array.Empty<string>() });
        var e = Assert.Throws<ArgumentException>(() => _ = new NodeDefinition("h") { AuthMechanisms = new[] { "CRAM-MD5" } });
        Assert.That(e!.Message, Does.Contain("CRAM-MD5"));
    }

    [Test]
    public void Error_message_for_a_bad_port_does_not_leak_the_password()
    {
        var e = Assert.Throws<FormatException>(() => NodeDefinition.Parse("amqp://user:s3cret@host:xx/"));
        Assert.That(e!.Message, Does.Not.Contain("s3cret"));
    }

    [Test]
    public void Value_equality_and_hash()
    {
        var a = new NodeDefinition("amqp://user:pw@Host:5672/%2F");
        var b = new NodeDefinition(host: "host", user: "user", password: "pw", virtualHost: "/");
        var c = new NodeDefinition(host: "host", user: "user", password: "other", virtualHost: "/");
        var d = new NodeDefinition(host: "host", user: "user", password: "pw", virtualHost: "/", heartbeat: 10);
        Assert.Multiple(() =>
        {
            Assert.That(a, Is.EqualTo(b));
            Assert.That(a == b, Is.True);
            Assert.That(a.GetHashCode(), Is.EqualTo(b.GetHashCode()));
            Assert.That(a, Is.Not.EqualTo(c));
            Assert.That(a != c, Is.True);
            Assert.That(a, Is.Not.EqualTo(d));
            Assert.That(a, Is.Not.EqualTo(new NodeDefinition(host: "host", user: "user", password: "pw") { UseTls = true }));
            Assert.That(a.Equals(null), Is.False);
        });
        var set = new HashSet<NodeDefinition> { a, b, c };
        Assert.That(set, Has.Count.EqualTo(2));
    }

    [Test]
    public void ToString_never_shows_the_password_and_round_trips()
    {
        var node = new NodeDefinition("amqp://us%40er:hunter2@host:5673/v%2Fh?heartbeat=7&frame_max=4096&channel_max=9&connection_timeout=1500&auth_mechanism=EXTERNAL");
        string text = node.ToString();
        Assert.That(text, Does.Not.Contain("hunter2"));
        Assert.That(text, Is.EqualTo("amqp://us%40er@host:5673/v%2Fh?heartbeat=7&frame_max=4096&channel_max=9&connection_timeout=1500&auth_mechanism=EXTERNAL"));
        var reparsed = new NodeDefinition(text, password: "hunter2");
        Assert.That(reparsed, Is.EqualTo(node));
        Assert.That(new NodeDefinition("h", "u", "topsecret").ToString(), Is.EqualTo("amqp://u@h:5672/%2F"));
    }
}

[TestFixture]
public sealed class NodeDefinitionPropertyTests
{
    private static readonly Gen<string> Component =
        Gen.String[Gen.Char["abZ09-_.~:/@%?#&=+ é€[]"], 0, 12];

    [Test]
    public void Any_escaped_user_password_and_vhost_round_trip_through_a_uri()
    {
        Gen.Select(Component, Component, Component, Gen.Int[1, 65535]).Sample((user, password, vhost, port) =>
        {
            string uri = $"amqp://{Uri.EscapeDataString(user)}:{Uri.EscapeDataString(password)}@host:{port}/{Uri.EscapeDataString(vhost)}";
            var node = NodeDefinition.Parse(uri);
            string expectedVhost = vhost.Length == 0 ? "/" : vhost;
            return node.User == user && node.Password == password && node.VirtualHost == expectedVhost && node.Port == port
                && new NodeDefinition(node.ToString(), password: password).Equals(node)
                && !node.ToString().Contains(":" + Uri.EscapeDataString(password) + "@", StringComparison.Ordinal);
        }, iter: 2000);
    }

    [Test]
    public void A_comma_separated_uri_list_gives_one_node_per_entry_in_order()
    {
        IReadOnlyList<NodeDefinition> nodes = NodeDefinition.ParseList(
            "amqp://app:s3cret@rabbit1:5673/prod?heartbeat=5 , amqps://app:s3cret@rabbit2/prod,amqp://rabbit3");
        Assert.That(nodes, Has.Count.EqualTo(3));
        Assert.That((nodes[0].Host, nodes[0].Port, nodes[0].VirtualHost, nodes[0].Heartbeat), Is.EqualTo(("rabbit1", 5673, "prod", (int?)5)));
        Assert.That((nodes[1].Host, nodes[1].Port, nodes[1].UseTls), Is.EqualTo(("rabbit2", 5671, true)));
        Assert.That((nodes[2].Host, nodes[2].User), Is.EqualTo(("rabbit3", "guest")));

        var cluster = new Cluster("amqp://a:pw@one/,amqp://a:pw@two/");
        Assert.That(cluster.Nodes, Has.Count.EqualTo(2));
        Assert.That(cluster.Nodes[1].Host, Is.EqualTo("two"));
    }

    [Test]
    public void A_bad_entry_of_a_uri_list_is_named_by_position_without_its_password()
    {
        var empty = Assert.Throws<FormatException>(() => NodeDefinition.ParseList("amqp://one/,,amqp://three/"));
        Assert.That(empty!.Message, Does.Contain("Entry 2").And.Contain("empty"));
        var bad = Assert.Throws<FormatException>(() => NodeDefinition.ParseList("amqp://one/, amqp://app:s3cret@two:notaport/"));
        Assert.That(bad!.Message, Does.StartWith("Entry 2 of the URI list"));
        Assert.That(bad.Message, Does.Not.Contain("s3cret"));
        Assert.Throws<FormatException>(() => _ = new Cluster("rabbit1,rabbit2"));
    }
}
