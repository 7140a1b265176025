using System;
using System.Linq;
using System.Text.Json.Nodes;
using System.Threading.Tasks;
using NUnit.Framework;

namespace CoolAmqp.Cli.Tests;

/// <summary>Each command against the real broker, checked through the library's view of the broker.</summary>
[TestFixture]
public sealed class CommandTests
{
    private Cluster _broker = null!;

    [OneTimeSetUp]
    public async Task ConnectAsync() => _broker = await Cli.ConnectAsync();

    [OneTimeTearDown]
    public async Task DisconnectAsync()
    {
        await _broker.ShutdownAsync();
        await _broker.DisposeAsync();
    }

    private async Task<uint> CountAsync(string queue) =>
        (await _broker.DeclareAsync(new Queue(queue), passive: true)).MessageCount;

    private async Task DeleteQuietlyAsync(string queue)
    {
        try
        {
            await _broker.DeleteQueueAsync(queue);
        }
        catch (AmqpException)
        {
        }
    }

    [Test]
    public async Task Declare_queue_creates_it_with_its_settings()
    {
        var queue = Cli.UniqueName("declare");
        try
        {
            var run = await Cli.RunAsync("declare", "queue", queue, "--durable", "--arg", "x-max-length=7", "--json");
            Assert.That(run.Code, Is.Zero, run.ToString());
            var json = JsonNode.Parse(run.Out)!;
            Assert.That((string?)json["queue"], Is.EqualTo(queue));
            Assert.That((long?)json["messages"], Is.Zero);

            // It exists: a passive declare passes, and a declare with other settings is refused.
            Assert.That(await CountAsync(queue), Is.Zero);
            var conflict = Assert.ThrowsAsync<AmqpException>(() => _broker.DeclareAsync(new Queue(queue, durable: false)));
            Assert.That(conflict!.ReplyCode, Is.EqualTo(406), "the queue was declared durable, with x-max-length");

            // And x-max-length=7 arrived as a number: an 8th message pushes the first out.
            for (var i = 0; i < 8; i++) await _broker.PublishAsync(new Message($"m{i}"), "", queue, confirm: true);
            Assert.That(await CountAsync(queue), Is.EqualTo(7));
        }
        finally
        {
            await DeleteQuietlyAsync(queue);
        }
    }

    [Test]
    public async Task Declare_queue_passive_shows_counts_and_fails_cleanly_when_missing()
    {
        var queue = Cli.UniqueName("passive");
        var missing = await Cli.RunAsync("declare", "queue", queue, "--passive");
        Cli.AssertOneLineError(missing, Program.BrokerError, "NOT_FOUND");

        await _broker.DeclareAsync(new Queue(queue));
        try
        {
            await _broker.PublishAsync(new Message("x"), "", queue, confirm: true);
            var run = await Cli.RunAsync("declare", "queue", queue, "--passive");
            Assert.That(run.Code, Is.Zero, run.ToString());
            // The table: name, 1 message, 0 consumers.
            var row = run.Out.Split('\n').Single(l => l.Contains(queue, StringComparison.Ordinal));
            Assert.That(row.Split('│', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries),
                Is.EqualTo(new[] { queue, "1", "0" }));
        }
        finally
        {
            await DeleteQuietlyAsync(queue);
        }
    }

    [Test]
    public async Task Declare_exchange_then_delete_it()
    {
        var exchange = Cli.UniqueName("exchange");
        var run = await Cli.RunAsync("declare", "exchange", exchange, "--type", "topic");
        Assert.That(run.Code, Is.Zero, run.ToString());
        Assert.That(run.Out, Does.Contain($"Declared exchange '{exchange}' (topic)"));
        await _broker.DeclareAsync(new Exchange(exchange, "topic"), passive: true);
        // Declared as topic: declaring it as fanout is refused.
        var conflict = Assert.ThrowsAsync<AmqpException>(() => _broker.DeclareAsync(new Exchange(exchange, "fanout")));
        Assert.That(conflict!.ReplyCode, Is.EqualTo(406));

        var delete = await Cli.RunAsync("delete", "exchange", exchange);
        Assert.That(delete.Code, Is.Zero, delete.ToString());
        var gone = Assert.ThrowsAsync<AmqpException>(() => _broker.DeclareAsync(new Exchange(exchange, "topic"), passive: true));
        Assert.That(gone!.ReplyCode, Is.EqualTo(404));
    }

    [Test]
    public async Task Publish_then_get_returns_the_body_and_properties()
    {
        var queue = Cli.UniqueName("publish");
        await _broker.DeclareAsync(new Queue(queue));
        try
        {
            var publish = await Cli.RunAsync("publish", "-k", queue, "--body", "hello wörld", "--content-type", "text/plain",
                "-H", "attempt=3", "-H", "source=cli", "--message-id", "id-1", "--persistent");
            Assert.That(publish.Code, Is.Zero, publish.ToString());
            Assert.That(publish.Out, Does.Contain("Published 1 message of 12 bytes").And.Contain("(confirmed)"));
            Assert.That(await CountAsync(queue), Is.EqualTo(1));

            var get = await Cli.RunAsync("get", queue, "--json");
            Assert.That(get.Code, Is.Zero, get.ToString());
            var message = JsonNode.Parse(get.Out)!.AsArray().Single()!;
            Assert.That((string?)message["body"], Is.EqualTo("hello wörld"));
            Assert.That((string?)message["routing_key"], Is.EqualTo(queue));
            var properties = message["properties"]!;
            Assert.That((string?)properties["content_type"], Is.EqualTo("text/plain"));
            Assert.That((string?)properties["message_id"], Is.EqualTo("id-1"));
            Assert.That((int?)properties["delivery_mode"], Is.EqualTo(2));
            Assert.That((long?)properties["headers"]!["attempt"], Is.EqualTo(3), "an integer header stays an integer");
            Assert.That((string?)properties["headers"]!["source"], Is.EqualTo("cli"));
            Assert.That(await CountAsync(queue), Is.Zero, "get without --requeue takes the message");

            var empty = await Cli.RunAsync("get", queue);
            Assert.That(empty.Code, Is.Zero, empty.ToString());
            Assert.That(empty.Out, Does.Contain($"Queue '{queue}' is empty."));
        }
        finally
        {
            await DeleteQuietlyAsync(queue);
        }
    }

    [Test]
    public async Task Get_with_requeue_leaves_the_messages_and_shows_a_table()
    {
        var queue = Cli.UniqueName("requeue");
        await _broker.DeclareAsync(new Queue(queue));
        try
        {
            var publish = await Cli.RunAsync("publish", "-k", queue, "--body", "again", "--count", "3");
            Assert.That(publish.Code, Is.Zero, publish.ToString());
            var get = await Cli.RunAsync("get", queue, "--count", "5", "--requeue");
            Assert.That(get.Code, Is.Zero, get.ToString());
            Assert.That(get.Out.Split('\n').Count(l => l.Contains("again", StringComparison.Ordinal)), Is.EqualTo(3), get.Out);
            Assert.That(await CountAsync(queue), Is.EqualTo(3));
        }
        finally
        {
            await DeleteQuietlyAsync(queue);
        }
    }

    [Test]
    public async Task Purge_reports_and_removes_the_messages()
    {
        var queue = Cli.UniqueName("purge");
        await _broker.DeclareAsync(new Queue(queue));
        try
        {
            for (var i = 0; i < 5; i++) await _broker.PublishAsync(new Message("p"), "", queue, confirm: true);
            var run = await Cli.RunAsync("purge", queue, "--json");
            Assert.That(run.Code, Is.Zero, run.ToString());
            Assert.That((long?)JsonNode.Parse(run.Out)!["purged"], Is.EqualTo(5));
            Assert.That(await CountAsync(queue), Is.Zero);

            var text = await Cli.RunAsync("purge", queue);
            Assert.That(text.Out, Does.Contain($"Purged 0 messages from queue '{queue}'."));
        }
        finally
        {
            await DeleteQuietlyAsync(queue);
        }
    }

    [Test]
    public async Task Consume_stops_at_count_in_order_and_leaves_the_rest()
    {
        var queue = Cli.UniqueName("consume");
        await _broker.DeclareAsync(new Queue(queue));
        try
        {
            for (var i = 0; i < 5; i++) await _broker.PublishAsync(new Message($"c{i}"), "", queue, confirm: true);
            var run = await Cli.RunAsync("consume", queue, "--count", "3", "--json");
            Assert.That(run.Code, Is.Zero, run.ToString());
            var bodies = run.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(line => (string?)JsonNode.Parse(line)!["body"]).ToArray();
            Assert.That(bodies, Is.EqualTo(new[] { "c0", "c1", "c2" }));
            Assert.That(await CountAsync(queue), Is.EqualTo(2), "manual acks: the messages past the count go back");

            var text = await Cli.RunAsync("consume", queue, "--timeout", "1");
            Assert.That(text.Code, Is.Zero, text.ToString());
            Assert.That(text.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries), Is.EqualTo(new[] { "c3", "c4" }));
            Assert.That(text.Err, Does.Contain("Consumed 2 messages."));
            Assert.That(await CountAsync(queue), Is.Zero);
        }
        finally
        {
            await DeleteQuietlyAsync(queue);
        }
    }

    [Test]
    public async Task Consume_from_a_missing_queue_fails_cleanly()
    {
        var run = await Cli.RunAsync("consume", Cli.UniqueName("nothing"), "--count", "1");
        Cli.AssertOneLineError(run, Program.BrokerError, "NOT_FOUND");
    }

    [Test]
    public async Task Bind_routes_an_exchange_to_the_queue_and_unbind_stops_it()
    {
        var queue = Cli.UniqueName("bind");
        var exchange = Cli.UniqueName("bindx");
        await _broker.DeclareAsync(new Queue(queue));
        await _broker.DeclareAsync(new Exchange(exchange, "direct"));
        try
        {
            var bind = await Cli.RunAsync("bind", exchange, queue, "-k", "jobs");
            Assert.That(bind.Code, Is.Zero, bind.ToString());
            var publish = await Cli.RunAsync("publish", "-e", exchange, "-k", "jobs", "--body", "routed", "--mandatory");
            Assert.That(publish.Code, Is.Zero, publish.ToString());
            Assert.That(await CountAsync(queue), Is.EqualTo(1));

            var unbind = await Cli.RunAsync("unbind", exchange, queue, "-k", "jobs");
            Assert.That(unbind.Code, Is.Zero, unbind.ToString());
            var returned = await Cli.RunAsync("publish", "-e", exchange, "-k", "jobs", "--body", "lost", "--mandatory");
            Cli.AssertOneLineError(returned, Program.BrokerError, "NO_ROUTE");
            Assert.That(await CountAsync(queue), Is.EqualTo(1));
        }
        finally
        {
            await DeleteQuietlyAsync(queue);
            await _broker.DeleteExchangeAsync(exchange);
        }
    }

    [Test]
    public async Task Bind_exchange_to_exchange()
    {
        var queue = Cli.UniqueName("e2e");
        var source = Cli.UniqueName("e2e-src");
        var destination = Cli.UniqueName("e2e-dst");
        await _broker.DeclareAsync(new Exchange(source, "fanout"));
        await _broker.DeclareAsync(new Exchange(destination, "fanout"));
        await _broker.DeclareAsync(new Queue(queue, exchange: new Exchange(destination, "fanout")));
        try
        {
            var bind = await Cli.RunAsync("bind", source, destination, "--to-exchange", "--json");
            Assert.That(bind.Code, Is.Zero, bind.ToString());
            var json = JsonNode.Parse(bind.Out)!;
            Assert.That((string?)json["source"], Is.EqualTo(source));
            Assert.That((string?)json["destination"], Is.EqualTo(destination));
            Assert.That((string?)json["destination_type"], Is.EqualTo("exchange"));
            await _broker.PublishAsync(new Message("via"), source, "", confirm: true);
            Assert.That(await CountAsync(queue), Is.EqualTo(1));
        }
        finally
        {
            await DeleteQuietlyAsync(queue);
            await _broker.DeleteExchangeAsync(source);
            await _broker.DeleteExchangeAsync(destination);
        }
    }

    [Test]
    public async Task Delete_queue_reports_its_messages()
    {
        var queue = Cli.UniqueName("delete");
        await _broker.DeclareAsync(new Queue(queue));
        await _broker.PublishAsync(new Message("d"), "", queue, confirm: true);
        await _broker.PublishAsync(new Message("d"), "", queue, confirm: true);
        var run = await Cli.RunAsync("delete", "queue", queue);
        Assert.That(run.Code, Is.Zero, run.ToString());
        Assert.That(run.Out, Does.Contain($"Deleted queue '{queue}' (2 messages)."));
        var gone = Assert.ThrowsAsync<AmqpException>(() => CountAsync(queue));
        Assert.That(gone!.ReplyCode, Is.EqualTo(404));
    }

    [Test]
    public async Task Delete_if_empty_refuses_a_queue_with_messages()
    {
        var queue = Cli.UniqueName("ifempty");
        await _broker.DeclareAsync(new Queue(queue));
        try
        {
            await _broker.PublishAsync(new Message("keep"), "", queue, confirm: true);
            var run = await Cli.RunAsync("delete", "queue", queue, "--if-empty");
            Cli.AssertOneLineError(run, Program.BrokerError, "PRECONDITION_FAILED");
            Assert.That(await CountAsync(queue), Is.EqualTo(1));
        }
        finally
        {
            await DeleteQuietlyAsync(queue);
        }
    }
}
