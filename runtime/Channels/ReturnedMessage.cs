using System;
using CoolAmqp.Framing;

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

    /// <summary>Whether this is what publishing <paramref name="published"/> sends: the same body bytes and the
    /// same properties once encoded and decoded again (a timestamp loses its fraction of a second on the wire).
    /// Only for telling apart two pending publishes a return could belong to, so it may allocate.</summary>
    /// <param name="published">The message published; null never matches.</param>
    public bool IsCopyOf(Message? published)
    {
        if (published is null || !published.Body.Span.SequenceEqual(Body.Span))
        {
            return false;
        }

        BasicProperties wire = published.Properties.ToWire();
        byte[] encoded = new byte[wire.GetSize()];
        wire.WriteTo(encoded);
        return MessageProperties.FromWire(encoded).Equals(Properties);
    }
}
