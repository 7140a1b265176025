using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using CoolAmqp.Framing;
using CoolAmqp.Tracing;
using NUnit.Framework;

namespace CoolAmqp.Tests.Integration;

/// <summary>Secrets that change, against the real broker: <see cref="Cluster.UpdateSecretAsync"/> on the live
/// connection, an <see cref="ICredentialsProvider"/> asked at every connect and refreshed before expiry. Each test has
/// a user of its own whose password it changes with rabbitmqctl.</summary>
[TestFixture]
[Category("Integration")]
[NonParallelizable]
[CancelAfter(90_000)]
public class CredentialsTests
{
    private readonly List<string> _users = new();

    [TearDown]
    public async Task DeleteUsersAsync()
    {
        foreach (string user in _users)
        {
            await Broker.CtlAsync("delete_user", user);
        }

        _users.Clear();
    }

    [Test]
    public async Task UpdateSecretAsync_keeps_the_connection_open_and_the_next_connection_logs_in_with_the_new_secret()
    {
        var (user, oldPassword) = await NewUserAsync();
        var tracer = new HoldingFrameTracer();
        string name = Broker.Unique("update-secret");
        await using var cluster = new Cluster([Node(user, oldPassword)], Options(name, tracer));
        await cluster.StartAsync(timeout: TimeSpan.FromSeconds(10));
        List<string> connectionsBefore = await ConnectionsOfAsync(user);
        Assert.That(connectionsBefore, Has.Count.EqualTo(1));

        string newPassword = "new-" + Guid.NewGuid().ToString("N");
        await Broker.CtlAsync("change_password", user, newPassword);
        await cluster.UpdateSecretAsync(newPassword, "rotated by the test");

        Assert.Multiple(() =>
        {
            Assert.That(tracer.Frames.Count(f => f.CommandId == ConnectionUpdateSecret.CommandIdValue && f.Direction == FrameDirection.ToServer),
                Is.EqualTo(1), "one update-secret sent");
            Assert.That(tracer.Frames.Count(f => f.CommandId == ConnectionUpdateSecretOk.CommandIdValue && f.Direction == FrameDirection.ToClient),
                Is.EqualTo(1), "and its update-secret-ok received");
            Assert.That(cluster.IsConnected, Is.True);
        });
        Assert.That(await cluster.DrainAsync(TimeSpan.FromMilliseconds(500)), Is.SameAs(NothingMuch.Instance),
            "the connection was not lost");
        Assert.That(await ConnectionsOfAsync(user), Is.EqualTo(connectionsBefore), "still the same connection");
        await PublishConfirmedAsync(cluster);

        // The old password no longer logs in: the reconnection can only succeed with the new one.
        await Broker.CloseConnectionAsync(name, "closed by the test");
        List<ClusterEvent> events = await Broker.EventsUntilAsync<Reconnected>(cluster, 20);
        Assert.That(((Reconnected)events[^1]).Attempts, Is.EqualTo(1), "the first attempt logs in");
        await PublishConfirmedAsync(cluster);
    }

    [Test]
    public async Task A_credentials_provider_is_asked_at_every_connect_and_the_node_password_is_never_used()
    {
        var (user, password) = await NewUserAsync();
        var provider = new Provider(user, password);
        string name = Broker.Unique("provider");
        await using var cluster = new Cluster([Node(user, "not-the-password")],
            Options(name, credentials: provider));
        await cluster.StartAsync(timeout: TimeSpan.FromSeconds(10));
        Assert.That(provider.Calls, Is.EqualTo(1));
        Assert.That(provider.Nodes.Single().Port, Is.EqualTo(cluster.Nodes[0].Port), "the provider is told the node");

        string next = "next-" + Guid.NewGuid().ToString("N");
        await Broker.CtlAsync("change_password", user, next);
        provider.Secret = next;
        await Broker.CloseConnectionAsync(name, "closed by the test");
        await Broker.EventsUntilAsync<Reconnected>(cluster, 20);

        Assert.That(provider.Calls, Is.EqualTo(2), "asked again for the reconnection");
        await PublishConfirmedAsync(cluster);
    }

    [Test]
    public async Task Expiring_credentials_are_refreshed_on_the_live_connection_before_they_expire()
    {
        var (user, password) = await NewUserAsync();
        var provider = new Provider(user, password) { Lifetime = TimeSpan.FromSeconds(2) };
        var tracer = new HoldingFrameTracer();
        var logs = new LogSink();
        await using var cluster = new Cluster([Node(user, "not-the-password")],
            Options(Broker.Unique("refresh"), tracer, provider) with { LoggerFactory = logs.Factory });
        await cluster.StartAsync(timeout: TimeSpan.FromSeconds(10));

        // 2 s lifetime: refreshed after about 1.6 s, then again 1.6 s after that.
        Assert.That(await Broker.EventuallyAsync(() => Task.FromResult(UpdateSecretOks(tracer) >= 2), TimeSpan.FromSeconds(10)),
            Is.True, "two refreshes in time");
        int refreshes = UpdateSecretOks(tracer);
        Assert.Multiple(() =>
        {
            Assert.That(provider.Calls, Is.EqualTo(1 + refreshes).Or.EqualTo(2 + refreshes), "asked once for the login and once a refresh");
            Assert.That(provider.Returned.Zip(provider.Returned.Skip(1)).All(p => p.Second.ExpiresAt > p.First.ExpiresAt), Is.True);
            Assert.That(tracer.Frames.Count(f => f.CommandId == ConnectionStartOk.CommandIdValue), Is.EqualTo(1),
                "one login: the connection stayed");
            Assert.That(logs.Lines.Count(l => l.Contains("refreshed on the open connection", StringComparison.Ordinal)),
                Is.GreaterThanOrEqualTo(2));
        });
        Assert.That(await cluster.DrainAsync(TimeSpan.Zero), Is.SameAs(NothingMuch.Instance), "no connection lost");
        await PublishConfirmedAsync(cluster);
    }

    [Test]
    public async Task A_refresh_that_names_another_user_is_not_sent_and_says_why()
    {
        var (user, password) = await NewUserAsync();
        var provider = new Provider(user, password) { Lifetime = TimeSpan.FromSeconds(2) };
        var tracer = new HoldingFrameTracer();
        var logs = new LogSink();
        await using var cluster = new Cluster([Node(user, "unused")],
            Options(Broker.Unique("refresh-user"), tracer, provider) with { LoggerFactory = logs.Factory });
        await cluster.StartAsync(timeout: TimeSpan.FromSeconds(10));
        provider.User = "someone-else";

        Assert.That(await Broker.EventuallyAsync(
            () => Task.FromResult(logs.Lines.Any(l => l.Contains("changed the user", StringComparison.Ordinal))), TimeSpan.FromSeconds(10)),
            Is.True, "the user change is logged");
        Assert.That(tracer.Frames.Count(f => f.CommandId == ConnectionUpdateSecret.CommandIdValue), Is.Zero,
            "update-secret cannot change the user, so it is not sent");
        Assert.That(cluster.IsConnected, Is.True);
    }

    [Test]
    public async Task A_credentials_provider_that_throws_fails_StartAsync_naming_its_error()
    {
        var provider = new Provider("nobody", "nothing") { Failure = new InvalidOperationException("token endpoint down") };
        await using var cluster = new Cluster([Broker.Node()], Options(Broker.Unique("provider-throws"), credentials: provider));

        var error = Assert.ThrowsAsync<AuthenticationFailedException>(() => cluster.StartAsync(timeout: TimeSpan.FromSeconds(10)));
        Assert.That(error!.Message, Does.Contain("credentials provider").And.Contain("token endpoint down"));
        Assert.That(error.InnerException, Is.TypeOf<InvalidOperationException>());
    }

    [Test]
    public async Task UpdateSecretAsync_checks_its_reason_and_needs_a_started_cluster()
    {
        await using Cluster cluster = await Broker.StartAsync();
        Assert.ThrowsAsync<ArgumentException>(() => cluster.UpdateSecretAsync("guest", new string('r', 256)));
        Assert.ThrowsAsync<ArgumentNullException>(() => cluster.UpdateSecretAsync(null!, "why"));
        await cluster.UpdateSecretAsync("guest", "the same password again");
        Assert.That(cluster.IsConnected, Is.True);
    }

    // ---- helpers ----

    private async Task<(string User, string Password)> NewUserAsync()
    {
        string user = Broker.Unique("user");
        string password = "pw-" + Guid.NewGuid().ToString("N");
        await Broker.CtlAsync("add_user", user, password);
        _users.Add(user);
        await Broker.CtlAsync("set_permissions", user, ".*", ".*", ".*");
        return (user, password);
    }

    private static NodeDefinition Node(string user, string password)
    {
        NodeDefinition broker = Broker.Node();
        return new NodeDefinition(broker.Host, user, password, broker.VirtualHost, port: broker.Port);
    }

    private static ClusterOptions Options(string name, IFrameTracer? tracer = null, ICredentialsProvider? credentials = null) => new()
    {
        Name = name,
        FrameTracer = tracer,
        CredentialsProvider = credentials,
        Recovery = new RecoveryOptions { InitialDelay = TimeSpan.FromMilliseconds(50), MaxDelay = TimeSpan.FromSeconds(1) },
    };

    private static int UpdateSecretOks(HoldingFrameTracer tracer) =>
        tracer.Frames.Count(f => f.CommandId == ConnectionUpdateSecretOk.CommandIdValue);

    /// <summary>The broker's names of the user's connections (client and server address and port: one per socket).</summary>
    private static async Task<List<string>> ConnectionsOfAsync(string user) =>
        (await Broker.ListAsync("list_connections", "user", "name"))
            .Where(c => c.GetProperty("user").GetString() == user)
            .Select(c => c.GetProperty("name").GetString()!)
            .ToList();

    private static async Task PublishConfirmedAsync(Cluster cluster)
    {
        var queue = new Queue(exclusive: true);
        await cluster.DeclareAsync(queue);
        await cluster.PublishAsync(new Message("after"u8.ToArray()), routingKey: queue.Name, confirm: true)
            .AsTask().WaitAsync(TimeSpan.FromSeconds(10));
    }

    /// <summary>Hands out the user and secret it is set to, counting its calls; expiring after
    /// <see cref="Lifetime"/> if set.</summary>
    internal sealed class Provider : ICredentialsProvider
    {
        private int _calls;

        public Provider(string user, string secret)
        {
            User = user;
            Secret = secret;
        }

        public string User { get; set; }

        public string Secret { get; set; }

        public TimeSpan? Lifetime { get; init; }

        public Exception? Failure { get; init; }

        public int Calls => Volatile.Read(ref _calls);

        public ConcurrentQueue<NodeDefinition> Nodes { get; } = new();

        public ConcurrentQueue<AmqpCredentials> Returned { get; } = new();

        public ValueTask<AmqpCredentials> GetCredentialsAsync(NodeDefinition node, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _calls);
            Nodes.Enqueue(node);
            if (Failure is not null)
            {
                throw Failure;
            }

            AmqpCredentials credentials = Lifetime is { } lifetime
                ? new AmqpCredentials(User, Secret, DateTimeOffset.UtcNow + lifetime)
                : new AmqpCredentials(User, Secret);
            Returned.Enqueue(credentials);
            return ValueTask.FromResult(credentials);
        }
    }
}
