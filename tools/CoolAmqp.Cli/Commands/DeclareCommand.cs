using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace CoolAmqp.Cli.Commands;

/// <summary><c>coolamqp declare queue|exchange</c>.</summary>
internal static class DeclareCommand
{
    public static Command Build(CliContext context)
    {
        var command = new Command("declare", "Declare a queue or an exchange (or, with --passive, check that it exists).");
        command.Subcommands.Add(BuildQueue(context));
        command.Subcommands.Add(BuildExchange(context));
        return command;
    }

    private static Command BuildQueue(CliContext context)
    {
        var name = new Argument<string>("name") { Description = "The queue's name (\"\" lets the broker pick one).", DefaultValueFactory = _ => "" };
        var durable = new Option<bool>("--durable", "-d") { Description = "Survive a broker restart." };
        var autoDelete = new Option<bool>("--auto-delete") { Description = "Delete the queue when its last consumer goes." };
        var type = new Option<string?>("--type") { Description = "x-queue-type: classic, quorum or stream." };
        var arguments = new Option<string[]>("--arg") { Description = "A queue argument key=value, e.g. x-message-ttl=60000 (repeatable)." };
        var passive = new Option<bool>("--passive", "-p") { Description = "Only check that the queue exists, and show its counts." };
        type.AcceptOnlyFromAmong("classic", "quorum", "stream");

        var command = new Command("queue", "Declare a queue.") { name, durable, autoDelete, type, arguments, passive };
        command.SetClusterAction(context, async (parse, cluster, cancellationToken) =>
        {
            var args = MessageFormat.ParsePairs(parse.GetValue(arguments), "--arg");
            if (parse.GetValue(type) is { } queueType)
            {
                args ??= new Framing.FieldTable();
                args["x-queue-type"] = queueType;
            }
            var queue = new Queue(parse.GetValue(name)!, parse.GetValue(durable), autoDelete: parse.GetValue(autoDelete), arguments: args);
            var result = await cluster.DeclareAsync(queue, passive: parse.GetValue(passive), cancellationToken: cancellationToken);
            if (parse.GetValue(context.Options.Json))
            {
                await context.Out.WriteLineAsync(new JsonObject
                {
                    ["queue"] = result.QueueName,
                    ["messages"] = result.MessageCount,
                    ["consumers"] = result.ConsumerCount,
                }.ToJsonString());
            }
            else
            {
                context.Console.Write(new Table()
                    .AddColumns("queue", "messages", "consumers")
                    .AddRow(Markup.Escape(result.QueueName), result.MessageCount.ToString(CultureInfo.InvariantCulture),
                        result.ConsumerCount.ToString(CultureInfo.InvariantCulture)));
            }
            return Program.Ok;
        });
        return command;
    }

    private static Command BuildExchange(CliContext context)
    {
        var name = new Argument<string>("name") { Description = "The exchange's name." };
        var type = new Option<string>("--type", "-t") { Description = "direct, fanout, topic, headers, or a plugin's type.", DefaultValueFactory = _ => "direct" };
        var durable = new Option<bool>("--durable", "-d") { Description = "Survive a broker restart." };
        var autoDelete = new Option<bool>("--auto-delete") { Description = "Delete the exchange when its last binding goes." };
        var isInternal = new Option<bool>("--internal") { Description = "Only other exchanges may publish to it." };
        var passive = new Option<bool>("--passive", "-p") { Description = "Only check that the exchange exists." };

        var command = new Command("exchange", "Declare an exchange.") { name, type, durable, autoDelete, isInternal, passive };
        command.SetClusterAction(context, async (parse, cluster, cancellationToken) =>
        {
            var exchange = new Exchange(parse.GetValue(name)!, parse.GetValue(type)!, parse.GetValue(durable), parse.GetValue(autoDelete), parse.GetValue(isInternal));
            var isPassive = parse.GetValue(passive);
            await cluster.DeclareAsync(exchange, passive: isPassive, cancellationToken: cancellationToken);
            await context.Out.WriteLineAsync(parse.GetValue(context.Options.Json)
                ? new JsonObject { ["exchange"] = exchange.Name, ["type"] = exchange.Type, ["passive"] = isPassive }.ToJsonString()
                : isPassive ? $"Exchange '{exchange.Name}' exists." : $"Declared exchange '{exchange.Name}' ({exchange.Type}{(exchange.Durable ? ", durable" : "")}).");
            return Program.Ok;
        });
        return command;
    }
}
