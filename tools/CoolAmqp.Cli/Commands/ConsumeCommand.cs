using System;
using System.CommandLine;
using System.Threading;
using System.Threading.Tasks;

namespace CoolAmqp.Cli.Commands;

/// <summary><c>coolamqp consume</c>: a consumer on a queue that prints each message (one line of text, or one JSON
/// object a line), until --count messages, --timeout, or Ctrl+C.</summary>
internal static class ConsumeCommand
{
    public static Command Build(CliContext context)
    {
        var queue = new Argument<string>("queue") { Description = "The queue to consume from (it must exist)." };
        var count = new Option<int?>("--count", "-n") { Description = "Stop after this many messages." };
        var timeout = new Option<double?>("--timeout", "-t") { Description = "Stop after this many seconds." };
        var noAck = new Option<bool>("--no-ack") { Description = "Auto-ack: the broker forgets each message as it sends it (with --count, messages past the count that were already sent are lost)." };
        var prefetch = new Option<ushort>("--prefetch") { Description = "Unacknowledged messages the broker may send ahead (manual ack).", DefaultValueFactory = _ => 100 };
        count.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int?>() is < 1) r.AddError("--count must be at least 1.");
        });
        timeout.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<double?>() is <= 0) r.AddError("--timeout must be positive.");
        });

        var command = new Command("consume", "Consume messages from a queue and print them.") { queue, count, timeout, noAck, prefetch };
        command.SetClusterAction(context, async (parse, cluster, cancellationToken) =>
        {
            var json = parse.GetValue(context.Options.Json);
            var limit = parse.GetValue(count);
            var autoAck = parse.GetValue(noAck);
            var ahead = parse.GetValue(prefetch);
            // With manual acks, no more than --count messages are taken: the rest stay in the queue.
            if (limit is { } l && !autoAck && l < ahead) ahead = (ushort)l;
            var received = 0;
            var gate = new object();
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var options = new ConsumerOptions
            {
                NoAck = autoAck,
                PrefetchCount = autoAck ? null : ahead,
                DeclareQueue = false,
                OnMessage = message =>
                {
                    lock (gate)
                    {
                        // Past the count: leave the message unacked, so it goes back to the queue on cancel.
                        if (limit is { } max && received >= max) return;
                        received++;
                        context.Out.WriteLine(json ? MessageFormat.ToJson(message).ToJsonString() : MessageFormat.BodyForDisplay(message.Body.Span));
                        if (!autoAck) message.Ack();
                        if (limit is { } m && received >= m) done.TrySetResult();
                    }
                },
            };
            var (consumer, ready) = cluster.Consume(new Queue(parse.GetValue(queue)!), options);
            try
            {
                await ready.WaitAsync(cancellationToken);
                using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                if (parse.GetValue(timeout) is { } seconds) stop.CancelAfter(TimeSpan.FromSeconds(seconds));
                try
                {
                    await done.Task.WaitAsync(stop.Token);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    // --timeout: what arrived until then is the result.
                }
            }
            finally
            {
                await consumer.CancelAsync(CancellationToken.None);
            }
            await context.Out.FlushAsync(CancellationToken.None);
            if (!json) await context.Err.WriteLineAsync($"Consumed {received} message{(received == 1 ? "" : "s")}.");
            return Program.Ok;
        });
        return command;
    }
}
