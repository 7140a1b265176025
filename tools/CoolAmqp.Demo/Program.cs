// The CoolAMQP tutorial as a console program: connect, declare a queue by consuming from it, publish with a
// publisher confirm, drain the message from the cluster's events, ack it, shut down.
//   dotnet run --project tools/CoolAmqp.Demo            (broker from COOLAMQP_BROKER, else amqp://guest:guest@127.0.0.1:5672/)
using System;
using System.Diagnostics;
using System.Text;
using System.Threading.Tasks;
using CoolAmqp;

string uri = Environment.GetEnvironmentVariable("COOLAMQP_BROKER") is { Length: > 0 } fromEnv
    ? fromEnv
    : "amqp://guest:guest@127.0.0.1:5672/";
var clock = Stopwatch.StartNew();
void Say(string what) => Console.WriteLine($"[{clock.Elapsed.TotalMilliseconds,8:F1} ms] {what}");

try
{
    var node = new NodeDefinition(uri, heartbeat: 20);
    Say($"Node: {node}");
    await using var cluster = new Cluster([node], new ClusterOptions { Name = "My Cluster" });
    await cluster.StartAsync();
    Say($"Connected. Broker: {cluster.ServerProperties?["product"]} {cluster.ServerProperties?["version"]}");

    string name = $"my_queue-{Guid.NewGuid():N}";
    var queue = new Queue(name, autoDelete: true, exclusive: true);
    var (consumer, ready) = cluster.Consume(queue, noAck: false);
    await ready;
    Say($"Consumer online: {consumer} (tag {consumer.ConsumerTag})");

    await cluster.PublishAsync(new Message("hello world"u8.ToArray()), routingKey: name, confirm: true);
    Say("Published 'hello world'; the broker confirmed it.");

    ClusterEvent e = await cluster.DrainAsync(TimeSpan.FromSeconds(1));
    if (e is MessageReceived received)
    {
        Say($"Drained: {received.Message} body '{Encoding.UTF8.GetString(received.Message.Body.Span)}'");
        received.Message.Ack();
        Say("Acked.");
    }
    else
    {
        Say($"Nothing arrived within a second: {e}");
        return 1;
    }

    ClusterEvent nothing = await cluster.DrainAsync(TimeSpan.Zero);
    Say($"Drain with a zero timeout and nothing pending: {nothing.GetType().Name}");

    await consumer.CancelAsync();
    Say($"Consumer cancelled: {consumer.State}");
    await cluster.ShutdownAsync();
    Say("Shut down.");
    return 0;
}
catch (Exception ex) when (ex is ConnectionDeadException or AmqpException)
{
    Say($"Failed: {ex.GetType().Name}: {ex.Message}");
    return 2;
}
