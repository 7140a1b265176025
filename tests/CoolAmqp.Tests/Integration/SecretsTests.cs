using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Threading.Tasks;
using CoolAmqp.Tracing;
using Microsoft.Extensions.Logging;
using NUnit.Framework;

namespace CoolAmqp.Tests.Integration;

/// <summary>No password, token or SASL response anywhere the library writes: every log level with its structured
/// fields and exceptions, both frame tracers (the held payloads too), the exceptions of a refused login, the events,
/// and every object a user may print — through a refused login, a login, update-secret, a reconnection and a
/// provider's refresh against the real broker.</summary>
[TestFixture]
[Category("Integration")]
[NonParallelizable]
[CancelAfter(90_000)]
public class SecretsTests
{
    [Test]
    public async Task No_secret_reaches_a_log_a_trace_an_exception_an_event_or_a_printed_object()
    {
        string user = Broker.Unique("secrets");
        string password = "pw-" + Guid.NewGuid().ToString("N");
        string wrong = "wrong-" + Guid.NewGuid().ToString("N");
        string rotated = "rotated-" + Guid.NewGuid().ToString("N");
        string[] secrets = [password, wrong, rotated];
        await Broker.CtlAsync("add_user", user, password);
        try
        {
            await Broker.CtlAsync("set_permissions", user, ".*", ".*", ".*");
            var logs = new LogSink();
            var held = new HoldingFrameTracer();
            var tracer = new BothTracers(new LoggingFrameTracer(logs.Factory.CreateLogger("frames"), LogLevel.Information), held);
            var printed = new List<string>();
            NodeDefinition broker = Broker.Node();
            string Uri(string secret) => $"amqp://{user}:{secret}@{broker.Host}:{broker.Port}/";

            // A refused login, its exception printed whole.
            var refusedNode = new NodeDefinition(Uri(wrong));
            printed.Add(refusedNode.ToString());
            await using (var refused = new Cluster([refusedNode], Options("secrets-refused", logs, tracer)))
            {
                Exception error = Assert.CatchAsync(() => refused.StartAsync(timeout: TimeSpan.FromSeconds(10)))!;
                Assert.That(error, Is.InstanceOf<AuthenticationFailedException>(), error.ToString());
                printed.Add(error.ToString());
            }

            // A login, update-secret on the live connection, a reconnection with the new secret.
            string name = Broker.Unique("secrets-ok");
            var node = new NodeDefinition(Uri(password));
            printed.Add(node.ToString());
            ClusterOptions options = Options(name, logs, tracer);
            printed.Add(options.ToString());
            await using (var cluster = new Cluster([node], options))
            {
                await cluster.StartAsync(timeout: TimeSpan.FromSeconds(10));
                await Broker.CtlAsync("change_password", user, rotated);
                await cluster.UpdateSecretAsync(rotated, "rotated by the test");
                await Broker.CloseConnectionAsync(name, "closed by the test");
                foreach (ClusterEvent e in await Broker.EventsUntilAsync<Reconnected>(cluster, 20))
                {
                    printed.Add(e.ToString()!);
                    if (e is ConnectionLost { Reason: { } reason })
                    {
                        printed.Add(reason.ToString());
                    }
                }

                printed.Add(string.Join(" ", cluster.Nodes));
                printed.Add(cluster.ConnectedNode!.ToString());
            }

            // A provider's token, refreshed once on the live connection.
            string token = "token-" + Guid.NewGuid().ToString("N");
            await Broker.CtlAsync("change_password", user, token);
            secrets = [.. secrets, token];
            var provider = new CredentialsTests.Provider(user, token) { Lifetime = TimeSpan.FromSeconds(2) };
            await using (var withProvider = new Cluster([new NodeDefinition(broker.Host, user, "unused", port: broker.Port)],
                Options("secrets-provider", logs, tracer) with { CredentialsProvider = provider }))
            {
                await withProvider.StartAsync(timeout: TimeSpan.FromSeconds(10));
                Assert.That(await Broker.EventuallyAsync(() => Task.FromResult(provider.Calls >= 2), TimeSpan.FromSeconds(10)), Is.True);
                printed.AddRange(provider.Returned.Select(c => c.ToString()));
            }

            // The sinks saw the work: otherwise finding nothing would prove nothing.
            Assert.That(logs.Lines.Any(l => l.Contains("connection.start-ok", StringComparison.Ordinal)), Is.True, "frames were logged");
            Assert.That(logs.Lines.Any(l => l.Contains("connection.update-secret", StringComparison.Ordinal)), Is.True);
            Assert.That(held.Frames.Count(f => f.MethodName == "connection.update-secret"), Is.GreaterThanOrEqualTo(2));
            Assert.That(logs.Lines.Any(l => l.Contains(user, StringComparison.Ordinal)), Is.True, "the user name may appear");

            var text = new List<string>(logs.Lines);
            text.AddRange(printed);
            text.AddRange(held.Frames.Select(f => f.Describe()));
            foreach (string secret in secrets)
            {
                string hex = Convert.ToHexString(Encoding.UTF8.GetBytes(secret));
                foreach (string line in text)
                {
                    Assert.That(line, Does.Not.Contain(secret).And.Not.Contain(hex).IgnoreCase, "a sink shows a secret");
                }

                byte[] bytes = Encoding.UTF8.GetBytes(secret);
                foreach (TracedFrame frame in held.Frames)
                {
                    Assert.That(frame.Payload.AsSpan().IndexOf(bytes), Is.EqualTo(-1),
                        $"the held payload of {frame.MethodName ?? frame.Type.ToString()} holds a secret");
                }
            }
        }
        finally
        {
            await Broker.CtlAsync("delete_user", user);
        }
    }

    private static ClusterOptions Options(string name, LogSink logs, IFrameTracer tracer) => new()
    {
        Name = name,
        LoggerFactory = logs.Factory,
        FrameTracer = tracer,
        Recovery = new RecoveryOptions { InitialDelay = TimeSpan.FromMilliseconds(50), MaxDelay = TimeSpan.FromSeconds(1) },
    };

    private sealed class BothTracers(IFrameTracer first, IFrameTracer second) : IFrameTracer
    {
        public void OnFrame(DateTimeOffset timestamp, in AmqpFrame frame, FrameDirection direction)
        {
            first.OnFrame(timestamp, in frame, direction);
            second.OnFrame(timestamp, in frame, direction);
        }
    }
}
