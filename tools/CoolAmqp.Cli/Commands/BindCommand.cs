using System.CommandLine;
using System.Text.Json.Nodes;

namespace CoolAmqp.Cli.Commands;

/// <summary><c>coolamqp bind</c> and <c>coolamqp unbind</c>: a queue (or, with --to-exchange, an exchange) to a
/// source exchange.</summary>
internal static class BindCommand
{
    public static Command Build(CliContext context, bool unbind)
    {
        var verb = unbind ? "unbind" : "bind";
        var source = new Argument<string>("exchange") { Description = "The source exchange." };
        var destination = new Argument<string>("destination") { Description = "The queue (or with --to-exchange, the exchange) that gets the messages." };
        var routingKey = new Option<string>("--routing-key", "-k") { Description = "The binding key.", DefaultValueFactory = _ => "" };
        var toExchange = new Option<bool>("--to-exchange") { Description = "The destination is an exchange (exchange-to-exchange binding)." };
        var arguments = new Option<string[]>("--arg") { Description = "A binding argument key=value, e.g. for a headers exchange (repeatable)." };

        var command = new Command(verb, unbind ? "Remove a binding." : "Bind a queue (or an exchange) to an exchange.")
        {
            source, destination, routingKey, toExchange, arguments,
        };
        command.SetClusterAction(context, async (parse, cluster, cancellationToken) =>
        {
            var from = new Exchange(parse.GetValue(source)!);
            var to = parse.GetValue(destination)!;
            var key = parse.GetValue(routingKey)!;
            var args = MessageFormat.ParsePairs(parse.GetValue(arguments), "--arg");
            var isExchange = parse.GetValue(toExchange);
            switch (isExchange, unbind)
            {
                case (false, false): await cluster.BindAsync(new Queue(to), from, key, args, cancellationToken: cancellationToken); break;
                case (false, true): await cluster.UnbindAsync(new Queue(to), from, key, args, cancellationToken); break;
                case (true, false): await cluster.BindAsync(new Exchange(to), from, key, args, cancellationToken: cancellationToken); break;
                case (true, true): await cluster.UnbindAsync(new Exchange(to), from, key, args, cancellationToken); break;
            }
            var kind = isExchange ? "exchange" : "queue";
            await context.Out.WriteLineAsync(parse.GetValue(context.Options.Json)
                ? new JsonObject { [unbind ? "unbound" : "bound"] = true, ["source"] = from.Name, ["destination"] = to, ["destination_type"] = kind, ["routing_key"] = key }.ToJsonString()
                : unbind ? $"Unbound {kind} '{to}' from exchange '{from.Name}' (key '{key}')." : $"Bound {kind} '{to}' to exchange '{from.Name}' (key '{key}').");
            return Program.Ok;
        });
        return command;
    }
}
