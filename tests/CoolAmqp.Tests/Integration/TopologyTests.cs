using System;
using System.Linq;
using System.Text.Json;
using System.Threading.Tasks;
using CoolAmqp.Framing;
using NUnit.Framework;

namespace CoolAmqp.Tests.Integration;

/// <summary>Exchanges, bindings, deletion, purge, basic.get, queue types, checked against what the broker reports.</summary>
[TestFixture]
[Category("Integration")]
public class TopologyTests : SharedClusterFixture
{
    private async Task<Queue> BoundQueueAsync(Exchange exchange, string routingKey = "", FieldTable? arguments = null)
    {
        var queue = new Queue(Broker.Unique("bound"), exclusive: true);
        await SharedCluster.DeclareAsync(queue);
        await SharedCluster.BindAsync(queue, exchange, routingKey, arguments);
        return queue;
    }

    private async Task<uint> CountAsync(Queue queue) => (await SharedCluster.DeclareAsync(queue, passive: true)).MessageCount;

    [Test]
    public async Task Exchange_types_route_as_their_type_says()
    {
        var direct = new Exchange(Broker.Unique("direct"), ExchangeType.Direct, autoDelete: true);
        var fanout = new Exchange(Broker.Unique("fanout"), ExchangeType.Fanout, autoDelete: true);
        var topic = new Exchange(Broker.Unique("topic"), ExchangeType.Topic, autoDelete: true);
        var headers = new Exchange(Broker.Unique("headers"), ExchangeType.Headers, autoDelete: true);
        foreach (Exchange exchange in new[] { direct, fanout, topic, headers })
        {
            await SharedCluster.DeclareAsync(exchange);
        }

        var exchanges = (await Broker.ListAsync("list_exchanges", "name", "type")).ToDictionary(
            r => r.GetProperty("name").GetString()!, r => r.GetProperty("type").GetString());
        Assert.Multiple(() =>
        {
            Assert.That(exchanges[direct.Name], Is.EqualTo("direct"));
            Assert.That(exchanges[fanout.Name], Is.EqualTo("fanout"));
            Assert.That(exchanges[topic.Name], Is.EqualTo("topic"));
            Assert.That(exchanges[headers.Name], Is.EqualTo("headers"));
        });

        Queue directQueue = await BoundQueueAsync(direct, "key-a");
        Queue fanoutQueue1 = await BoundQueueAsync(fanout);
        Queue fanoutQueue2 = await BoundQueueAsync(fanout);
        Queue topicQueue = await BoundQueueAsync(topic, "stock.*.nyse");
        Queue headersQueue = await BoundQueueAsync(headers, arguments: new FieldTable { { "x-match", "all" }, { "kind", "report" } });

        await SharedCluster.PublishAsync(new Message("a"), direct, "key-a", confirm: true);
        await SharedCluster.PublishAsync(new Message("b"), direct, "key-b", confirm: true);
        await SharedCluster.PublishAsync(new Message("f"), fanout, "whatever", confirm: true);
        await SharedCluster.PublishAsync(new Message("t1"), topic, "stock.ibm.nyse", confirm: true);
        await SharedCluster.PublishAsync(new Message("t2"), topic, "stock.ibm.lse", confirm: true);
        await SharedCluster.PublishAsync(new Message("h1", new MessageProperties { Headers = new FieldTable { { "kind", "report" } } }), headers, confirm: true);
        await SharedCluster.PublishAsync(new Message("h2", new MessageProperties { Headers = new FieldTable { { "kind", "other" } } }), headers, confirm: true);

        Assert.Multiple(async () =>
        {
            Assert.That(await CountAsync(directQueue), Is.EqualTo(1));
            Assert.That(await CountAsync(fanoutQueue1), Is.EqualTo(1));
            Assert.That(await CountAsync(fanoutQueue2), Is.EqualTo(1));
            Assert.That(await CountAsync(topicQueue), Is.EqualTo(1));
            Assert.That(await CountAsync(headersQueue), Is.EqualTo(1));
        });
    }

    [Test]
    public async Task Exchange_to_exchange_bindings_route_and_unbind()
    {
        // Not auto-delete: unbinding removes an exchange's last binding, which would delete it.
        var source = new Exchange(Broker.Unique("source"), ExchangeType.Topic);
        var destination = new Exchange(Broker.Unique("destination"), ExchangeType.Fanout);
        await SharedCluster.DeclareAsync(source);
        await SharedCluster.DeclareAsync(destination);
        Queue queue = await BoundQueueAsync(destination);
        await SharedCluster.BindAsync(destination, source, "orders.#");

        var bindings = await Broker.ListAsync("list_bindings", "source_name", "destination_name", "destination_kind", "routing_key");
        Assert.That(bindings.Any(b => b.GetProperty("source_name").GetString() == source.Name
                                      && b.GetProperty("destination_name").GetString() == destination.Name
                                      && b.GetProperty("destination_kind").GetString() == "exchange"
                                      && b.GetProperty("routing_key").GetString() == "orders.#"), Is.True);

        await SharedCluster.PublishAsync(new Message("o"), source, "orders.new", confirm: true);
        await SharedCluster.PublishAsync(new Message("x"), source, "invoices.new", confirm: true);
        Assert.That(await CountAsync(queue), Is.EqualTo(1));

        await SharedCluster.UnbindAsync(destination, source, "orders.#");
        await SharedCluster.PublishAsync(new Message("o2"), source, "orders.new", confirm: true);
        Assert.That(await CountAsync(queue), Is.EqualTo(1), "unbound: nothing more arrives");
        await SharedCluster.DeleteExchangeAsync(source);
        await SharedCluster.DeleteExchangeAsync(destination);
    }

    [Test]
    public async Task Queue_unbind_stops_routing()
    {
        var exchange = new Exchange(Broker.Unique("unbind"), ExchangeType.Direct);
        await SharedCluster.DeclareAsync(exchange);
        Queue queue = await BoundQueueAsync(exchange, "k");
        await SharedCluster.PublishAsync(new Message("1"), exchange, "k", confirm: true);
        await SharedCluster.UnbindAsync(queue, exchange, "k");
        await SharedCluster.PublishAsync(new Message("2"), exchange, "k", confirm: true);
        Assert.That(await CountAsync(queue), Is.EqualTo(1));
        await SharedCluster.DeleteExchangeAsync(exchange);
    }

    [Test]
    public async Task Deleted_queues_and_exchanges_are_gone()
    {
        var exchange = new Exchange(Broker.Unique("deleted"), ExchangeType.Fanout);
        var queue = new Queue(Broker.Unique("deleted"));
        await SharedCluster.DeclareAsync(exchange);
        await SharedCluster.DeclareAsync(queue);
        await SharedCluster.PublishAsync(new Message("1"), routingKey: queue.Name, confirm: true);
        await SharedCluster.PublishAsync(new Message("2"), routingKey: queue.Name, confirm: true);

        Assert.That(await SharedCluster.DeleteQueueAsync(queue), Is.EqualTo(2), "delete-ok reports the messages deleted");
        await SharedCluster.DeleteExchangeAsync(exchange);

        Assert.Multiple(async () =>
        {
            Assert.That(await Broker.MessageCountAsync(queue.Name), Is.Null);
            Assert.That((await Broker.ListAsync("list_exchanges", "name")).Any(r => r.GetProperty("name").GetString() == exchange.Name), Is.False);
            Assert.That(Assert.ThrowsAsync<AmqpException>(() => SharedCluster.DeclareAsync(queue, passive: true))!.ReplyCode, Is.EqualTo(404));
            Assert.That(Assert.ThrowsAsync<AmqpException>(() => SharedCluster.DeclareAsync(exchange, passive: true))!.ReplyCode, Is.EqualTo(404));
        });
    }

    [Test]
    public async Task Purge_empties_the_queue_and_reports_the_count()
    {
        var queue = new Queue(Broker.Unique("purge"), exclusive: true);
        await SharedCluster.DeclareAsync(queue);
        for (int i = 0; i < 7; i++)
        {
            await SharedCluster.PublishAsync(new Message("p"), routingKey: queue.Name, confirm: true);
        }

        Assert.That(await SharedCluster.PurgeAsync(queue), Is.EqualTo(7));
        Assert.That(await Broker.MessageCountAsync(queue.Name), Is.Zero);
    }

    [Test]
    public async Task Get_returns_messages_in_order_then_null_and_settles()
    {
        var queue = new Queue(Broker.Unique("get"), exclusive: true);
        await SharedCluster.DeclareAsync(queue);
        Assert.That(await SharedCluster.GetAsync(queue), Is.Null, "empty queue: basic.get-empty");
        await SharedCluster.PublishAsync(new Message("one"), routingKey: queue.Name, confirm: true);
        await SharedCluster.PublishAsync(new Message("two"), routingKey: queue.Name, confirm: true);

        ReceivedMessage? first = await SharedCluster.GetAsync(queue, noAck: false);
        Assert.That(first?.Body.ToArray(), Is.EqualTo("one"u8.ToArray()));
        first!.Reject(requeue: true);
        ReceivedMessage? again = await SharedCluster.GetAsync(queue, noAck: false);
        Assert.Multiple(() =>
        {
            Assert.That(again?.Body.ToArray(), Is.EqualTo("one"u8.ToArray()));
            Assert.That(again?.Redelivered, Is.True);
        });
        again!.Ack();
        ReceivedMessage? second = await SharedCluster.GetAsync(queue, noAck: true);
        Assert.That(second?.Body.ToArray(), Is.EqualTo("two"u8.ToArray()));
        Assert.That(await SharedCluster.GetAsync(queue), Is.Null);
        Assert.That(await Broker.MessageCountAsync(queue.Name), Is.Zero);
    }

    [Test]
    public async Task Passive_declare_reports_message_and_consumer_counts()
    {
        var queue = new Queue(Broker.Unique("counts"), exclusive: true);
        await SharedCluster.DeclareAsync(queue);
        await SharedCluster.PublishAsync(new Message("1"), routingKey: queue.Name, confirm: true);
        await SharedCluster.PublishAsync(new Message("2"), routingKey: queue.Name, confirm: true);
        QueueDeclareResult before = await SharedCluster.DeclareAsync(queue, passive: true);
        var (consumer, ready) = SharedCluster.Consume(queue, new ConsumerOptions { NoAck = false, PrefetchCount = 1, OnMessage = _ => { } });
        await ready;
        QueueDeclareResult after = await SharedCluster.DeclareAsync(queue, passive: true);
        Assert.Multiple(() =>
        {
            Assert.That(before, Is.EqualTo(new QueueDeclareResult(queue.Name, 2, 0)));
            Assert.That(after.ConsumerCount, Is.EqualTo(1));
        });
        await consumer.CancelAsync();
    }

    [Test]
    public async Task Server_named_queue_declare_sets_the_name()
    {
        var queue = new Queue(exclusive: true);
        QueueDeclareResult declared = await SharedCluster.DeclareAsync(queue);
        Assert.Multiple(async () =>
        {
            Assert.That(declared.QueueName, Does.StartWith("amq.gen-"));
            Assert.That(queue.Name, Is.EqualTo(declared.QueueName));
            Assert.That(await Broker.MessageCountAsync(queue.Name), Is.Zero, "the broker knows the queue by that name");
        });
    }

    [Test]
    public async Task Quorum_queue_is_declared_with_its_type()
    {
        var queue = new Queue(Broker.Unique("quorum"), durable: true, arguments: new FieldTable { { "x-queue-type", "quorum" } });
        try
        {
            await SharedCluster.DeclareAsync(queue);
            JsonElement row = (await Broker.ListAsync("list_queues", "name", "type", "durable"))
                .Single(r => r.GetProperty("name").GetString() == queue.Name);
            Assert.Multiple(() =>
            {
                Assert.That(row.GetProperty("type").GetString(), Is.EqualTo("quorum"));
                Assert.That(row.GetProperty("durable").GetBoolean(), Is.True);
            });
            await SharedCluster.PublishAsync(new Message("q"), routingKey: queue.Name, confirm: true);
            Assert.That((await SharedCluster.GetAsync(queue))?.Body.ToArray(), Is.EqualTo("q"u8.ToArray()));
        }
        finally
        {
            await SharedCluster.DeleteQueueAsync(queue);
        }
    }

    [Test]
    public async Task Redeclaring_with_other_settings_fails_with_precondition_failed()
    {
        var queue = new Queue(Broker.Unique("precondition"), exclusive: true);
        await SharedCluster.DeclareAsync(queue);
        var clash = new Queue(queue.Name, exclusive: true, arguments: new FieldTable { { "x-max-length", 5 } });
        var error = Assert.ThrowsAsync<AmqpException>(() => SharedCluster.DeclareAsync(clash));
        Assert.That(error!.ReplyCode, Is.EqualTo(406));
        Assert.That((await SharedCluster.DeclareAsync(queue, passive: true)).QueueName, Is.EqualTo(queue.Name), "the next call works");
    }
}
