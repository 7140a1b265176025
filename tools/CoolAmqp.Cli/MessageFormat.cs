using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using CoolAmqp.Framing;

namespace CoolAmqp.Cli;

/// <summary>Turning messages into text and JSON, and key=value options into field tables.</summary>
internal static class MessageFormat
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The body as text when it is valid UTF-8, else null.</summary>
    public static string? TryText(ReadOnlySpan<byte> body)
    {
        try
        {
            return StrictUtf8.GetString(body);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }

    /// <summary>The body for a terminal: its text, or base64 marked as such.</summary>
    public static string BodyForDisplay(ReadOnlySpan<byte> body) =>
        TryText(body) ?? "base64:" + Convert.ToBase64String(body);

    /// <summary>A received message as JSON: body (text, or base64 with body_encoding), routing, properties.</summary>
    public static JsonObject ToJson(ReceivedMessage message)
    {
        var body = message.Body.Span;
        var text = TryText(body);
        var json = new JsonObject
        {
            ["exchange"] = message.Exchange,
            ["routing_key"] = message.RoutingKey,
            ["redelivered"] = message.Redelivered,
            ["size"] = body.Length,
            ["body"] = text ?? Convert.ToBase64String(body),
        };
        if (text is null) json["body_encoding"] = "base64";
        var properties = PropertiesToJson(message.Properties);
        if (properties.Count > 0) json["properties"] = properties;
        return json;
    }

    private static JsonObject PropertiesToJson(MessageProperties p)
    {
        var json = new JsonObject();
        void Add(string name, string? value)
        {
            if (value is not null) json[name] = value;
        }
        Add("content_type", p.ContentType);
        Add("content_encoding", p.ContentEncoding);
        if (p.DeliveryMode is { } mode) json["delivery_mode"] = mode;
        if (p.Priority is { } priority) json["priority"] = priority;
        Add("correlation_id", p.CorrelationId);
        Add("reply_to", p.ReplyTo);
        Add("expiration", p.Expiration);
        Add("message_id", p.MessageId);
        if (p.Timestamp is { } timestamp) json["timestamp"] = timestamp.ToString("O", CultureInfo.InvariantCulture);
        Add("type", p.Type);
        Add("user_id", p.UserId);
        Add("app_id", p.AppId);
        if (p.Headers is { Count: > 0 } headers)
        {
            var h = new JsonObject();
            foreach (var (key, value) in headers) h[key] = FieldToJson(value);
            json["headers"] = h;
        }
        return json;
    }

    private static JsonNode? FieldToJson(object? value) => value switch
    {
        null => null,
        string s => s,
        bool b => b,
        byte[] bytes => TryText(bytes) ?? Convert.ToBase64String(bytes),
        FieldTable table => TableToJson(table),
        IEnumerable<object?> list => ListToJson(list),
        sbyte or byte or short or ushort or int or uint or long => Convert.ToInt64(value, CultureInfo.InvariantCulture),
        float or double or decimal => Convert.ToDouble(value, CultureInfo.InvariantCulture),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture),
    };

    private static JsonObject TableToJson(FieldTable table)
    {
        var json = new JsonObject();
        foreach (var (key, value) in table) json[key] = FieldToJson(value);
        return json;
    }

    private static JsonArray ListToJson(IEnumerable<object?> list)
    {
        var json = new JsonArray();
        foreach (var item in list) json.Add(FieldToJson(item));
        return json;
    }

    /// <summary>A field table from key=value pairs (--header, --arg): integers become long, true/false bool, the
    /// rest strings; null when there are none.</summary>
    public static FieldTable? ParsePairs(IReadOnlyList<string>? pairs, string optionName)
    {
        if (pairs is null || pairs.Count == 0) return null;
        var table = new FieldTable(pairs.Count);
        foreach (var pair in pairs)
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0) throw new CliException($"{optionName} expects key=value, got '{pair}'");
            var key = pair[..eq];
            var text = pair[(eq + 1)..];
            object value = long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) ? n
                : bool.TryParse(text, out var b) ? b
                : text;
            table[key] = value;
        }
        return table;
    }
}
