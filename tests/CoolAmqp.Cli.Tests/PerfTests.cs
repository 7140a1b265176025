using System;
using System.Linq;
using System.Text.Json.Nodes;
using System.Threading.Tasks;
using NUnit.Framework;

namespace CoolAmqp.Cli.Tests;

/// <summary><c>coolamqp perf</c> against the broker: the JSON summary's counts agree with what was asked and with
/// the broker's queue.</summary>
[TestFixture]
public sealed class PerfTests
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

    private static async Task<JsonNode> PerfJsonAsync(params string[] args)
    {
        var run = await Cli.RunAsync(["perf", "--json", .. args]);
        Assert.That(run.Code, Is.Zero, run.ToString());
        return JsonNode.Parse(run.Out) ?? throw new AssertionException("no JSON: " + run);
    }

    [Test]
    public async Task One_producer_one_consumer_by_count_moves_every_message_and_measures_latency()
    {
        var json = await PerfJsonAsync("-x", "1", "-y", "1", "-C", "5000", "-s", "64");
        Assert.Multiple(() =>
        {
            Assert.That((long?)json["sent"]!["messages"], Is.EqualTo(5000));
            Assert.That((long?)json["received"]!["messages"], Is.EqualTo(5000));
            Assert.That((double?)json["sent"]!["rate"], Is.GreaterThan(0));
            Assert.That((double?)json["received"]!["rate"], Is.GreaterThan(0));
            Assert.That((long?)json["latency_us"]!["count"], Is.EqualTo(5000), "every message carried its send time");
            var p50 = (double)json["latency_us"]!["p50"]!;
            var p99 = (double)json["latency_us"]!["p99"]!;
            Assert.That(p50, Is.GreaterThan(0).And.LessThanOrEqualTo(p99));
            Assert.That(p99, Is.LessThanOrEqualTo((double)json["latency_us"]!["max"]!));
            Assert.That(json["confirm_latency_us"], Is.Null, "no confirms asked");
        });
        // The temporary queue is gone afterwards.
        var queue = (string)json["queue"]!;
        var gone = Assert.ThrowsAsync<AmqpException>(() => _broker.DeclareAsync(new Queue(queue), passive: true));
        Assert.That(gone!.ReplyCode, Is.EqualTo(404));
    }

    [Test]
    public async Task Confirms_and_manual_acks_with_several_producers_and_consumers()
    {
        var json = await PerfJsonAsync("-x", "2", "-y", "2", "-C", "2000", "-c", "50", "-a", "manual", "-q", "100");
        Assert.Multiple(() =>
        {
            Assert.That((long?)json["sent"]!["messages"], Is.EqualTo(4000), "2 producers x 2000");
            Assert.That((long?)json["confirmed"]!["messages"], Is.EqualTo(4000));
            Assert.That((long?)json["confirmed"]!["nacked"], Is.Zero);
            Assert.That((long?)json["received"]!["messages"], Is.EqualTo(4000));
            Assert.That((long?)json["confirm_latency_us"]!["count"], Is.EqualTo(4000));
            Assert.That((string?)json["ack"], Is.EqualTo("manual"));
        });
    }

    [Test]
    public async Task Publish_only_fills_a_named_queue_and_consume_only_empties_it()
    {
        var queue = Cli.UniqueName("perf");
        try
        {
            var publish = await PerfJsonAsync("-y", "0", "-C", "3000", "-Q", queue, "-s", "1024");
            Assert.That((long?)publish["sent"]!["messages"], Is.EqualTo(3000));
            Assert.That((bool?)publish["sent"]!["until_queued"], Is.True, "the send time ends when the broker has them all");
            Assert.That((await _broker.DeclareAsync(new Queue(queue), passive: true)).MessageCount, Is.EqualTo(3000));

            var consume = await PerfJsonAsync("-x", "0", "-C", "3000", "-Q", queue, "-a", "manual");
            Assert.That((long?)consume["received"]!["messages"], Is.EqualTo(3000));
            Assert.That((long?)consume["sent"]!["messages"], Is.Zero);
            Assert.That(consume["latency_us"], Is.Null, "no producers in this run, so no latency");
            Assert.That((await _broker.DeclareAsync(new Queue(queue), passive: true)).MessageCount, Is.Zero, "kept, and emptied");
        }
        finally
        {
            await _broker.DeleteQueueAsync(queue);
        }
    }

    [Test]
    public async Task Rate_limit_and_duration_bound_the_messages_sent()
    {
        var json = await PerfJsonAsync("-x", "1", "-y", "1", "-r", "400", "-z", "1.5", "-i", "0.5");
        var sent = (long)json["sent"]!["messages"]!;
        // 400 msg/s for 1.5 s is 600; timers and start-up make it a little fewer or more.
        Assert.That(sent, Is.InRange(450, 650));
        Assert.That((double)json["sent"]!["rate"]!, Is.InRange(300, 500));
        Assert.That((double)json["elapsed_seconds"]!, Is.InRange(1.4, 5));
        Assert.That((long?)json["received"]!["messages"], Is.LessThanOrEqualTo(sent).And.GreaterThan(sent / 2));
    }

    [Test]
    public async Task Text_mode_prints_live_lines_and_a_summary_table()
    {
        var run = await Cli.RunAsync("perf", "-x", "1", "-y", "1", "-z", "1.2", "-i", "0.3", "-r", "1000");
        Assert.That(run.Code, Is.Zero, run.ToString());
        var live = run.Out.Split('\n').Where(l => l.StartsWith("time ", StringComparison.Ordinal)).ToArray();
        Assert.That(live, Has.Length.GreaterThanOrEqualTo(2), run.Out);
        Assert.That(live[0], Does.Contain("sent").And.Contain("received").And.Contain("latency"));
        Assert.That(run.Out, Does.Contain("│ sent").And.Contain("│ received").And.Contain("publish to delivery"));
    }

    [Test]
    public async Task Json_mode_keeps_stdout_one_document_and_the_live_lines_on_stderr()
    {
        var run = await Cli.RunAsync("perf", "--json", "-x", "1", "-y", "1", "-z", "0.8", "-i", "0.2", "-r", "500");
        Assert.That(run.Code, Is.Zero, run.ToString());
        Assert.That(run.Out.Trim().Split('\n'), Has.Length.EqualTo(1), "one JSON document");
        Assert.That(JsonNode.Parse(run.Out)!["sent"], Is.Not.Null);
        Assert.That(run.Err, Does.Contain("time "));
    }

    [Test]
    public async Task Small_bodies_carry_no_latency()
    {
        var json = await PerfJsonAsync("-x", "1", "-y", "1", "-C", "500", "-s", "8");
        Assert.That((long?)json["received"]!["messages"], Is.EqualTo(500));
        Assert.That(json["latency_us"], Is.Null);
    }
}
