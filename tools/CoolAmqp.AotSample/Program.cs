// Native AOT smoke test: connect, declare a queue, publish a message with headers under a publisher confirm,
// consume it, compare it, exit 0; 1 on any mismatch or failure.
//   dotnet publish tools/CoolAmqp.AotSample -c Release -r linux-x64
//   COOLAMQP_BROKER=amqp://guest:guest@127.0.0.1:5672/ tools/CoolAmqp.AotSample/bin/Release/net10.0/linux-x64/publish/CoolAmqp.AotSample --expect-native
// --expect-native fails the run unless it really is the native executable, so a JIT build started by mistake cannot
// pass for it. (RuntimeFeature.IsDynamicCodeSupported does not tell: PublishAot turns it off on the JIT too.)
using System;
using System.IO;
using System.Threading.Tasks;
using CoolAmqp;
using CoolAmqp.Framing;

string uri = Environment.GetEnvironmentVariable("COOLAMQP_BROKER") is { Length: > 0 } fromEnv
    ? fromEnv
    : "amqp://guest:guest@127.0.0.1:5672/";
bool expectNative = Array.IndexOf(args, "--expect-native") >= 0;
// A Native AOT executable carries the library compiled in; a JIT build loads CoolAmqp.dll from beside it.
bool native = !File.Exists(Path.Combine(AppContext.BaseDirectory, "CoolAmqp.dll"));
Console.WriteLine(native ? "Native AOT executable" : "JIT build");
if (expectNative && !native)
{
    Console.Error.WriteLine("Expected the Native AOT executable, but this build loads CoolAmqp.dll on the JIT.");
    return 1;
}

try
{
    await using var cluster = new Cluster([new NodeDefinition(uri, heartbeat: 20)], new ClusterOptions { Name = "aot-sample" });
    await cluster.StartAsync();

    var queue = new Queue($"aot-sample-{Guid.NewGuid():N}", autoDelete: true, exclusive: true);
    await cluster.DeclareAsync(queue);
    var received = new TaskCompletionSource<ReceivedMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
    var (consumer, ready) = cluster.Consume(queue, m => received.TrySetResult(m), noAck: true);
    await ready;

    var properties = new MessageProperties
    {
        ContentType = "text/plain",
        Headers = new FieldTable { { "sample", "aot" }, { "count", 42 } },
    };
    await cluster.PublishAsync(new Message("hello from native code", properties), routingKey: queue.Name, confirm: true);
    ReceivedMessage message = await received.Task.WaitAsync(TimeSpan.FromSeconds(10));
    string body = System.Text.Encoding.UTF8.GetString(message.Body.Span);
    object? header = message.Properties.Headers?["sample"];
    Console.WriteLine($"Received '{body}', content type {message.Properties.ContentType}, header sample={header}");
    await consumer.CancelAsync();
    await cluster.ShutdownAsync();
    return body == "hello from native code" && message.Properties.ContentType == "text/plain" && Equals(header, "aot") ? 0 : 1;
}
catch (Exception e) when (e is ConnectionDeadException or AmqpException or TimeoutException)
{
    Console.Error.WriteLine($"Failed: {e.GetType().Name}: {e.Message}");
    return 1;
}
