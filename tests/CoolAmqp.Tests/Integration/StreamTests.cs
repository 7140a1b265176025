using System;
using System.Collections.Concurrent;
using System.Text;
using System.Threading.Tasks;
using CoolAmqp.Framing;
using NUnit.Framework;

namespace CoolAmqp.Tests.Integration;

/// <summary>Stream queues read over AMQP 0-9-1: x-queue-type=stream, consumers with x-stream-offset.</summary>
[TestFixture]
[Category("Integration")]
public class StreamTests
{
    [Test]
    public async Task Stream_consumers_read_from_the_offset_they_ask_for()
    {
        await using Cluster cluster = await Broker.StartAsync();
        // Streams must be durable, non-exclusive and non-auto-delete; RabbitMQ refuses them otherwise.
        var stream = new Queue(Broker.Unique("stream"), durable: true,
            arguments: new FieldTable { { "x-queue-type", "stream" } });
        await cluster.DeclareAsync(stream);
        try
        {
            for (int i = 0; i < 10; i++)
            {
                await cluster.PublishAsync(new Message(Encoding.UTF8.GetBytes($"m{i}")), routingKey: stream.Name, confirm: true);
            }

            string[] fromFirst = await ReadAsync(cluster, stream, "first", 10);
            Assert.That(fromFirst, Is.EqualTo(new[] { "m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9" }));

            // A numeric offset starts in the middle; every message of this small stream is in one chunk, so
            // RabbitMQ delivers from the chunk start and the client-visible x-stream-offset header tells where.
            string[] fromFive = await ReadAsync(cluster, stream, 5L, 5);
            Assert.That(fromFive, Is.SupersetOf(new[] { "m5", "m6", "m7", "m8", "m9" }));
        }
        finally
        {
            await cluster.DeleteQueueAsync(stream);
        }
    }

    private static async Task<string[]> ReadAsync(Cluster cluster, Queue stream, object offset, int atLeast)
    {
        var received = new ConcurrentQueue<string>();
        var enough = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var options = new ConsumerOptions
        {
            NoAck = false, // stream consumers must ack, with a prefetch set
            PrefetchCount = 100,
            DeclareQueue = false,
            Arguments = new FieldTable { { "x-stream-offset", offset } },
            OnMessage = message =>
            {
                Assert.That(message.Properties.Headers?.ContainsKey("x-stream-offset"), Is.True,
                    "RabbitMQ stamps each stream delivery with its offset");
                received.Enqueue(Encoding.UTF8.GetString(message.Body.Span));
                message.Ack();
                if (received.Count >= atLeast)
                {
                    enough.TrySetResult();
                }
            },
        };
        var (consumer, ready) = cluster.Consume(stream, options);
        await ready.WaitAsync(TimeSpan.FromSeconds(10));
        await enough.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await consumer.CancelAsync();
        return received.ToArray();
    }
}
