// Publishes one message to a fresh queue and consumes it, through the CoolAmqp package; exit code 0 when the body
// came back. The broker is COOLAMQP_BROKER.
using System;
using System.Text;
using System.Threading.Tasks;
using CoolAmqp;

string uri = Environment.GetEnvironmentVariable("COOLAMQP_BROKER") ?? "amqp://guest:guest@127.0.0.1:5672/";
await using var cluster = new Cluster([new NodeDefinition(uri)]);
await cluster.StartAsync();

var queue = new Queue($"package-sample-{Guid.NewGuid():N}", autoDelete: true, exclusive: true);
var received = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
var (consumer, ready) = cluster.Consume(queue, m => received.TrySetResult(Encoding.UTF8.GetString(m.Body.Span)));
await ready;
await cluster.PublishAsync(new Message("hello from the package"), routingKey: queue.Name, confirm: true);
string body = await received.Task.WaitAsync(TimeSpan.FromSeconds(10));
Console.WriteLine($"Received '{body}'");
await consumer.CancelAsync();
await cluster.ShutdownAsync();
return body == "hello from the package" ? 0 : 1;
