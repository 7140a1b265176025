// Connects, declares a queue (by consuming from it), publishes one message with a confirm, receives and acks it, and
// prints OK: the smallest check that the netstandard2.0 build works on .NET Framework and Mono.
//   mono CoolAmqp.MonoSample.exe [amqp://guest:guest@127.0.0.1:5672/]   (else COOLAMQP_BROKER, else that default)
using System;
using System.Text;
using System.Threading.Tasks;
using CoolAmqp;

namespace CoolAmqp.MonoSample;

internal static class Program
{
    private static async Task<int> Main(string[] args)
    {
        string uri = args.Length > 0 ? args[0]
            : Environment.GetEnvironmentVariable("COOLAMQP_BROKER") is { Length: > 0 } fromEnv ? fromEnv
            : "amqp://guest:guest@127.0.0.1:5672/";
        Console.WriteLine($"Runtime: {RuntimeName()}; broker: {uri}");
        try
        {
            await using var cluster = new Cluster(new[] { new NodeDefinition(uri) }, new ClusterOptions { Name = "MonoSample" });
            await cluster.StartAsync();

            string name = "mono-sample-" + Guid.NewGuid().ToString("N");
            var (consumer, ready) = cluster.Consume(new Queue(name, autoDelete: true, exclusive: true), noAck: false);
            await ready;

            const string Text = "hello from the netstandard2.0 build";
            await cluster.PublishAsync(new Message(Encoding.UTF8.GetBytes(Text)), routingKey: name, confirm: true);

            ClusterEvent e = await cluster.DrainAsync(TimeSpan.FromSeconds(5));
            if (e is not MessageReceived received)
            {
                Console.WriteLine($"FAILED: nothing arrived within 5 s ({e})");
                return 1;
            }

            string body = Encoding.UTF8.GetString(received.Message.Body.ToArray());
            received.Message.Ack();
            await consumer.CancelAsync();
            await cluster.ShutdownAsync();
            if (body != Text)
            {
                Console.WriteLine($"FAILED: received '{body}'");
                return 1;
            }

            Console.WriteLine($"Received '{body}' from {name}; acked.");
            Console.WriteLine("OK");
            return 0;
        }
        catch (Exception ex) when (ex is ConnectionDeadException or AmqpException)
        {
            Console.WriteLine($"FAILED: {ex.GetType().Name}: {ex.Message}");
            return 2;
        }
    }

    private static string RuntimeName() =>
        Type.GetType("Mono.Runtime") is not null ? "Mono " + Environment.Version : ".NET " + Environment.Version;
}
