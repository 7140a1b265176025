using System.CommandLine;
using System.Text.Json.Nodes;

namespace CoolAmqp.Cli.Commands;

/// <summary><c>coolamqp delete queue|exchange</c>.</summary>
internal static class DeleteCommand
{
    public static Command Build(CliContext context)
    {
        var command = new Command("delete", "Delete a queue or an exchange.");

        var queueName = new Argument<string>("name") { Description = "The queue." };
        var ifUnused = new Option<bool>("--if-unused") { Description = "Only if it has no consumers." };
        var ifEmpty = new Option<bool>("--if-empty") { Description = "Only if it holds no messages." };
        var queue = new Command("queue", "Delete a queue (and its messages).") { queueName, ifUnused, ifEmpty };
        queue.SetClusterAction(context, async (parse, cluster, cancellationToken) =>
        {
            var name = parse.GetValue(queueName)!;
            var deleted = await cluster.DeleteQueueAsync(name, parse.GetValue(ifUnused), parse.GetValue(ifEmpty), cancellationToken);
            await context.Out.WriteLineAsync(parse.GetValue(context.Options.Json)
                ? new JsonObject { ["queue"] = name, ["messages"] = deleted }.ToJsonString()
                : $"Deleted queue '{name}' ({deleted} message{(deleted == 1 ? "" : "s")}).");
            return Program.Ok;
        });

        var exchangeName = new Argument<string>("name") { Description = "The exchange." };
        var exchangeIfUnused = new Option<bool>("--if-unused") { Description = "Only if it has no bindings." };
        var exchange = new Command("exchange", "Delete an exchange.") { exchangeName, exchangeIfUnused };
        exchange.SetClusterAction(context, async (parse, cluster, cancellationToken) =>
        {
            var name = parse.GetValue(exchangeName)!;
            await cluster.DeleteExchangeAsync(name, parse.GetValue(exchangeIfUnused), cancellationToken);
            await context.Out.WriteLineAsync(parse.GetValue(context.Options.Json)
                ? new JsonObject { ["exchange"] = name, ["deleted"] = true }.ToJsonString()
                : $"Deleted exchange '{name}'.");
            return Program.Ok;
        });

        command.Subcommands.Add(queue);
        command.Subcommands.Add(exchange);
        return command;
    }
}
