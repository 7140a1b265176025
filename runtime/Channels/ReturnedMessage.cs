using System;

namespace CoolAmqp.Channels;

/// <summary>A message the broker sent back with basic.return (mandatory and unroutable).</summary>
internal sealed class ReturnedMessage
{
    public ReturnedMessage(ushort replyCode, string replyText, string exchange, string routingKey,
        MessageProperties properties, ReadOnlyMemory<byte> body)
    {
        ReplyCode = replyCode;
        ReplyText = replyText;
        Exchange = exchange;
        RoutingKey = routingKey;
        Properties = properties;
        Body = body;
    }

    public ushort ReplyCode { get; }

    public string ReplyText { get; }

    public string Exchange { get; }

    public string RoutingKey { get; }

    public MessageProperties Properties { get; }

    public ReadOnlyMemory<byte> Body { get; }
}
