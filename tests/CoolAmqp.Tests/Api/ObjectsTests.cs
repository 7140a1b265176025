using System;
using System.Text;
using CoolAmqp;
using NUnit.Framework;

namespace CoolAmqp.Tests.Api;

[TestFixture]
public sealed class ObjectsTests
{
    [Test]
    public void Message_defaults_to_empty_properties()
    {
        var m = new Message(new byte[] { 1, 2 });
        Assert.That(m.Properties, Is.SameAs(MessageProperties.Empty));
        Assert.That(m.Body.Length, Is.EqualTo(2));
        var text = new Message("zażółć", new MessageProperties { ContentType = "text/plain" });
        Assert.That(Encoding.UTF8.GetString(text.Body.Span), Is.EqualTo("zażółć"));
        Assert.That(text.Properties.ContentType, Is.EqualTo("text/plain"));
        Assert.Throws<ArgumentNullException>(() => _ = new Message((string)null!));
    }

    [Test]
    public void Message_properties_presence_and_with()
    {
        var p = new MessageProperties { Priority = 0, DeliveryMode = DeliveryModes.Persistent };
        Assert.That(p.Priority, Is.EqualTo((byte)0));
        Assert.That(p.IsPersistent, Is.True);
        Assert.That(p.IsEmpty, Is.False);
        Assert.That(MessageProperties.Empty.IsEmpty, Is.True);
        MessageProperties q = p with { Priority = 5 };
        Assert.That((q.Priority, q.DeliveryMode, p.Priority), Is.EqualTo(((byte?)5, (byte?)2, (byte?)0)));
        MessageProperties a1 = new() { AppId = "a" }, a2 = new() { AppId = "a" };
        Assert.That(a1, Is.EqualTo(a2));
    }

    [Test]
    public void Exchange_defaults_and_equality()
    {
        Assert.That(Exchange.Default.Name, Is.Empty);
        Assert.That(Exchange.Default.IsDefault, Is.True);
        Assert.That(Exchange.Default.Type, Is.EqualTo("direct"));
        var e = new Exchange("logs", ExchangeType.Topic, durable: true);
        Assert.That(e, Is.EqualTo(new Exchange("logs", "topic", durable: true)));
        Assert.That(e.GetHashCode(), Is.EqualTo(new Exchange("logs", "topic", durable: true).GetHashCode()));
        Assert.That(e, Is.Not.EqualTo(new Exchange("logs", "topic")));
        Assert.That(e, Is.Not.EqualTo(new Exchange("logs", "fanout", durable: true)));
        Assert.That(e.ToString(), Is.EqualTo("Exchange('logs', topic, durable)"));
        Assert.That(new[] { ExchangeType.Direct, ExchangeType.Fanout, ExchangeType.Topic, ExchangeType.Headers },
            Is.EqualTo(new[] { "direct", "fanout", "topic", "headers" }));
        Assert.Throws<ArgumentException>(() => _ = new Exchange("x", ""));
    }

    [Test]
    public void Queue_anonymous_and_named()
    {
        var anon = new Queue();
        Assert.That(anon.IsAnonymous, Is.True);
        Assert.That(anon.Name, Is.Empty);
        anon.Name = "amq.gen-123";
        Assert.That(anon.Name, Is.EqualTo("amq.gen-123"));
        Assert.That(anon.IsAnonymous, Is.True, "stays anonymous: redeclared without a name after a reconnect");

        var q = new Queue("my_queue", autoDelete: true, exclusive: true);
        Assert.That((q.Name, q.IsAnonymous, q.AutoDelete, q.Exclusive, q.Durable), Is.EqualTo(("my_queue", false, true, true, false)));
        var bound = new Queue("b", exchange: new Exchange("x", ExchangeType.Fanout), routingKey: "rk");
        Assert.That(bound.Exchange!.Name, Is.EqualTo("x"));
        Assert.That(bound.RoutingKey, Is.EqualTo("rk"));
        Assert.That(bound.ToString(), Does.Contain("bound to 'x'"));
    }

    [Test]
    public void Events()
    {
        ClusterEvent nothing = NothingMuch.Instance;
        Assert.That(nothing, Is.InstanceOf<NothingMuch>());
        var reason = new ConnectionDeadException("gone");
        Assert.That(new ConnectionLost(reason).Reason, Is.SameAs(reason));
        Assert.That(new ConnectionLost(null).Reason, Is.Null);
        var m = new ReceivedMessage(null, 1, false, "c", default, default, default, default, true, null);
        Assert.That(new MessageReceived(m).Message, Is.SameAs(m));
        Assert.That(new MessageReceived(m), Is.InstanceOf<ClusterEvent>());
        Assert.Throws<ArgumentNullException>(() => _ = new MessageReceived(null!));
    }

    [Test]
    public void A_cluster_refuses_timeouts_that_are_zero_or_negative_and_names_the_option()
    {
        var node = new NodeDefinition("localhost");
        var rpc = Assert.Throws<ArgumentOutOfRangeException>(() => _ = new Cluster(node, new ClusterOptions { RpcTimeout = TimeSpan.Zero }));
        Assert.That(rpc!.ParamName, Is.EqualTo("RpcTimeout"));
        var blocked = Assert.Throws<ArgumentOutOfRangeException>(() =>
            _ = new Cluster(node, new ClusterOptions { BlockedPublishTimeout = TimeSpan.FromSeconds(-2) }));
        Assert.That(blocked!.ParamName, Is.EqualTo("BlockedPublishTimeout"));
        var wait = Assert.Throws<ArgumentOutOfRangeException>(() => _ = new Cluster(node,
            new ClusterOptions { Recovery = new RecoveryOptions { ConnectionWaitTimeout = TimeSpan.Zero } }));
        Assert.That(wait!.ParamName, Is.EqualTo("ConnectionWaitTimeout"));
        Assert.DoesNotThrow(() => _ = new Cluster(node, new ClusterOptions
        {
            RpcTimeout = System.Threading.Timeout.InfiniteTimeSpan,
            BlockedPublishTimeout = System.Threading.Timeout.InfiniteTimeSpan,
            Recovery = new RecoveryOptions { ConnectionWaitTimeout = System.Threading.Timeout.InfiniteTimeSpan },
        }));
    }
}
