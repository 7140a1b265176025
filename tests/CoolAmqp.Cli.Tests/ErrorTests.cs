using System.Threading.Tasks;
using NUnit.Framework;

namespace CoolAmqp.Cli.Tests;

/// <summary>Bad input and broker trouble end in one line on stderr and a non-zero exit code, never a stack trace.</summary>
[TestFixture]
public sealed class ErrorTests
{
    [Test]
    public async Task Unknown_option_is_a_usage_error()
    {
        var run = await Cli.RunAsync("purge", "q", "--frobnicate");
        Cli.AssertOneLineError(run, Program.UsageError, "--frobnicate");
    }

    [Test]
    public async Task Missing_argument_is_a_usage_error()
    {
        var run = await Cli.RunAsync("purge");
        Cli.AssertOneLineError(run, Program.UsageError, "queue");
    }

    [Test]
    public async Task Option_validation_is_a_usage_error()
    {
        Cli.AssertOneLineError(await Cli.RunAsync("perf", "--prefetch", "70000"), Program.UsageError, "--prefetch");
        Cli.AssertOneLineError(await Cli.RunAsync("perf", "--ack", "sometimes"), Program.UsageError, "sometimes");
        Cli.AssertOneLineError(await Cli.RunAsync("perf", "-x", "0", "-y", "0"), Program.UsageError, "at least one producer or consumer");
        Cli.AssertOneLineError(await Cli.RunAsync("get", "q", "--count", "0"), Program.UsageError, "--count");
    }

    [Test]
    public async Task A_malformed_uri_is_a_usage_error()
    {
        var run = await Cli.RunAsync("purge", "q", "--uri", "localhost:5672");
        Cli.AssertOneLineError(run, Program.UsageError, "bad --uri");
    }

    [Test]
    public async Task An_unreachable_broker_is_a_broker_error_with_the_password_hidden()
    {
        // Port 1 on loopback: refused at once.
        var run = await Cli.RunAsync("purge", "q", "--uri", "amqp://guest:s3cret@127.0.0.1:1/");
        Cli.AssertOneLineError(run, Program.BrokerError, "cannot connect to amqp://guest:***@127.0.0.1:1/");
        Assert.That(run.Err, Does.Not.Contain("s3cret"));
    }

    [Test]
    public async Task Wrong_credentials_are_a_broker_error()
    {
        var uri = new System.UriBuilder(Cli.BrokerUri) { UserName = "nobody", Password = "wrong" }.Uri.ToString();
        var run = await Cli.RunAsync("purge", "q", "--uri", uri);
        Cli.AssertOneLineError(run, Program.BrokerError, "cannot connect");
    }

    [Test]
    public async Task Publish_needs_a_body()
    {
        var run = await Cli.RunAsync("publish", "-k", "q");
        Cli.AssertOneLineError(run, Program.UsageError, "--body");
    }

    [Test]
    public async Task Publish_from_a_missing_file_is_a_usage_error()
    {
        var run = await Cli.RunAsync("publish", "-k", "q", "--file", "/nonexistent/body.bin");
        Cli.AssertOneLineError(run, Program.UsageError, "cannot read /nonexistent/body.bin");
    }

    [Test]
    public async Task Publish_to_a_missing_exchange_is_a_broker_error()
    {
        var run = await Cli.RunAsync("publish", "-e", Cli.UniqueName("noexchange"), "--body", "x");
        Cli.AssertOneLineError(run, Program.BrokerError, "NOT_FOUND");
    }

    [Test]
    public async Task Help_exits_zero_and_lists_every_command()
    {
        var run = await Cli.RunAsync("--help");
        Assert.That(run.Code, Is.Zero, run.ToString());
        foreach (var command in new[] { "publish", "consume", "get", "declare", "bind", "unbind", "purge", "delete", "perf" })
        {
            Assert.That(run.Out, Does.Contain("  " + command), command);
        }
    }
}
