using System.Collections.Generic;
using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace CoolAmqp.Cli.Commands;

/// <summary><c>coolamqp get</c>: basic.get up to --count messages and show them as a table (or a JSON array).</summary>
internal static class GetCommand
{
    public static Command Build(CliContext context)
    {
        var queue = new Argument<string>("queue") { Description = "The queue." };
        var count = new Option<int>("--count", "-n") { Description = "Get up to this many messages.", DefaultValueFactory = _ => 1 };
        var requeue = new Option<bool>("--requeue") { Description = "Put the messages back (nack with requeue) instead of removing them." };
        count.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 1) r.AddError("--count must be at least 1.");
        });

        var command = new Command("get", "Take messages from a queue without a consumer (basic.get).") { queue, count, requeue };
        command.SetClusterAction(context, async (parse, cluster, cancellationToken) =>
        {
            var q = new Queue(parse.GetValue(queue)!);
            var putBack = parse.GetValue(requeue);
            var messages = new List<ReceivedMessage>();
            try
            {
                for (var i = 0; i < parse.GetValue(count); i++)
                {
                    var message = await cluster.GetAsync(q, noAck: !putBack, cancellationToken);
                    if (message is null) break;
                    messages.Add(message);
                }

                if (parse.GetValue(context.Options.Json))
                {
                    var array = new JsonArray();
                    foreach (var m in messages) array.Add(MessageFormat.ToJson(m));
                    await context.Out.WriteLineAsync(array.ToJsonString());
                }
                else if (messages.Count == 0)
                {
                    await context.Out.WriteLineAsync($"Queue '{q.Name}' is empty.");
                }
                else
                {
                    var table = new Table().AddColumns("#", "exchange", "routing key", "redelivered", "size", "body");
                    for (var i = 0; i < messages.Count; i++)
                    {
                        var m = messages[i];
                        table.AddRow(
                            (i + 1).ToString(CultureInfo.InvariantCulture),
                            Markup.Escape(m.Exchange),
                            Markup.Escape(m.RoutingKey),
                            m.Redelivered ? "yes" : "no",
                            m.Body.Length.ToString(CultureInfo.InvariantCulture),
                            Markup.Escape(MessageFormat.BodyForDisplay(m.Body.Span)));
                    }
                    context.Console.Write(table);
                }
            }
            finally
            {
                // Back in the queue, in order: nack with requeue, newest last.
                if (putBack)
                {
                    foreach (var m in messages) m.Nack(requeue: true);
                }
                foreach (var m in messages) m.Dispose();
            }
            return Program.Ok;
        });
        return command;
    }
}
