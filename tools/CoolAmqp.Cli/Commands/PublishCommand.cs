using System;
using System.CommandLine;
using System.IO;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Tasks;

namespace CoolAmqp.Cli.Commands;

/// <summary><c>coolamqp publish</c>: one message (or --count copies) to an exchange, confirmed by default.</summary>
internal static class PublishCommand
{
    public static Command Build(CliContext context)
    {
        var exchange = new Option<string>("--exchange", "-e") { Description = "The exchange; default \"\", the default exchange (routing key = queue name).", DefaultValueFactory = _ => "" };
        var routingKey = new Option<string>("--routing-key", "-k") { Description = "The routing key (with the default exchange: the queue).", DefaultValueFactory = _ => "" };
        var body = new Option<string?>("--body", "-b") { Description = "The body, as UTF-8 text." };
        var file = new Option<string?>("--file", "-f") { Description = "Read the body from this file ('-' for stdin)." };
        var count = new Option<int>("--count", "-n") { Description = "Publish the message this many times.", DefaultValueFactory = _ => 1 };
        var noConfirm = new Option<bool>("--no-confirm") { Description = "Do not wait for publisher confirms (faster; the broker may drop messages unnoticed)." };
        var mandatory = new Option<bool>("--mandatory") { Description = "Fail if no queue takes the message (basic.return)." };
        var persistent = new Option<bool>("--persistent") { Description = "Delivery mode 2 (persistent)." };
        var contentType = new Option<string?>("--content-type") { Description = "The content-type property." };
        var messageId = new Option<string?>("--message-id") { Description = "The message-id property." };
        var correlationId = new Option<string?>("--correlation-id") { Description = "The correlation-id property." };
        var replyTo = new Option<string?>("--reply-to") { Description = "The reply-to property." };
        var expiration = new Option<string?>("--expiration") { Description = "The expiration property (per-message TTL, milliseconds)." };
        var headers = new Option<string[]>("--header", "-H") { Description = "A header key=value (repeatable; integers and true/false are typed).", AllowMultipleArgumentsPerToken = false };
        count.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 1) r.AddError("--count must be at least 1.");
        });

        var command = new Command("publish", "Publish a message.")
        {
            exchange, routingKey, body, file, count, noConfirm, mandatory, persistent, contentType, messageId,
            correlationId, replyTo, expiration, headers,
        };
        command.SetClusterAction(context, async (parse, cluster, cancellationToken) =>
        {
            var bodyBytes = await ReadBodyAsync(parse.GetValue(body), parse.GetValue(file));
            var properties = new MessageProperties
            {
                ContentType = parse.GetValue(contentType),
                MessageId = parse.GetValue(messageId),
                CorrelationId = parse.GetValue(correlationId),
                ReplyTo = parse.GetValue(replyTo),
                Expiration = parse.GetValue(expiration),
                DeliveryMode = parse.GetValue(persistent) ? (byte)2 : null,
                Headers = MessageFormat.ParsePairs(parse.GetValue(headers), "--header"),
            };
            var message = new Message(bodyBytes, properties);
            var ex = parse.GetValue(exchange)!;
            var key = parse.GetValue(routingKey)!;
            var confirm = !parse.GetValue(noConfirm);
            var isMandatory = parse.GetValue(mandatory);
            var n = parse.GetValue(count);
            // Confirms and returns are awaited in a window, so --count 100000 does not take 100000 round trips.
            const int window = 256;
            var pending = new ValueTask[Math.Min(n, window)];
            for (var i = 0; i < n; i++)
            {
                var slot = i % pending.Length;
                if (i >= pending.Length) await pending[slot];
#pragma warning disable CA2012 // Kept in the ring and awaited exactly once.
                pending[slot] = cluster.PublishAsync(message, ex, key, confirm, isMandatory, cancellationToken);
#pragma warning restore CA2012
            }
            for (var i = Math.Max(0, n - pending.Length); i < n; i++) await pending[i % pending.Length];

            if (parse.GetValue(context.Options.Json))
            {
                var json = new JsonObject
                {
                    ["published"] = n,
                    ["exchange"] = ex,
                    ["routing_key"] = key,
                    ["size"] = bodyBytes.Length,
                    ["confirmed"] = confirm || isMandatory,
                };
                await context.Out.WriteLineAsync(json.ToJsonString());
            }
            else
            {
                var what = n == 1 ? "1 message" : $"{n} messages";
                var target = ex.Length == 0 ? $"the default exchange, routing key '{key}'" : $"exchange '{ex}', routing key '{key}'";
                await context.Out.WriteLineAsync($"Published {what} of {bodyBytes.Length} bytes to {target}{(confirm || isMandatory ? " (confirmed)" : "")}.");
            }
            return Program.Ok;
        });
        return command;
    }

    private static async Task<byte[]> ReadBodyAsync(string? body, string? file)
    {
        if (body is not null && file is not null) throw new CliException("give either --body or --file, not both");
        if (body is not null) return Encoding.UTF8.GetBytes(body);
        if (file is null) throw new CliException("publish needs --body TEXT or --file PATH ('-' for stdin)");
        if (file == "-")
        {
            using var buffer = new MemoryStream();
            await using var stdin = Console.OpenStandardInput();
            await stdin.CopyToAsync(buffer);
            return buffer.ToArray();
        }
        try
        {
            return await File.ReadAllBytesAsync(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"cannot read {file}: {e.Message}", e);
        }
    }
}
