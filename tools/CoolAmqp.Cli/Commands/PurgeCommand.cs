using System.CommandLine;
using System.Text.Json.Nodes;

namespace CoolAmqp.Cli.Commands;

/// <summary><c>coolamqp purge</c>: remove every ready message from a queue.</summary>
internal static class PurgeCommand
{
    public static Command Build(CliContext context)
    {
        var queue = new Argument<string>("queue") { Description = "The queue." };
        var command = new Command("purge", "Remove every ready message from a queue.") { queue };
        command.SetClusterAction(context, async (parse, cluster, cancellationToken) =>
        {
            var name = parse.GetValue(queue)!;
            var purged = await cluster.PurgeAsync(new Queue(name), cancellationToken);
            await context.Out.WriteLineAsync(parse.GetValue(context.Options.Json)
                ? new JsonObject { ["queue"] = name, ["purged"] = purged }.ToJsonString()
                : $"Purged {purged} message{(purged == 1 ? "" : "s")} from queue '{name}'.");
            return Program.Ok;
        });
        return command;
    }
}
