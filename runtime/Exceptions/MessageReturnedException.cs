using System;
using System.Globalization;

namespace CoolAmqp;

/// <summary>
/// A message published with the <c>mandatory</c> flag could not be routed to any queue, and the broker
/// sent it back with <c>basic.return</c> (typically 312 NO_ROUTE). The publish fails with it at the confirm that
/// follows the return; a channel that closes in between fails it with the channel's error instead.
/// </summary>
public sealed class MessageReturnedException : CoolAmqpException
{
    /// <summary>Creates the exception from the fields of <c>basic.return</c>.</summary>
    /// <param name="replyCode">The reply code, e.g. 312 (NO_ROUTE).</param>
    /// <param name="replyText">The broker's reply text, e.g. "NO_ROUTE".</param>
    /// <param name="exchange">The exchange the message was published to ("" for the default exchange).</param>
    /// <param name="routingKey">The routing key it was published with.</param>
    public MessageReturnedException(ushort replyCode, string replyText, string exchange, string routingKey)
        : base(string.Create(CultureInfo.InvariantCulture,
            $"The broker returned the message published to exchange '{exchange}' with routing key '{routingKey}': {replyCode} {replyText}"))
    {
        ReplyCode = replyCode;
        ReplyText = replyText ?? string.Empty;
        Exchange = exchange ?? string.Empty;
        RoutingKey = routingKey ?? string.Empty;
    }

    /// <summary>Creates the exception with a generic message.</summary>
    public MessageReturnedException()
        : base("The broker returned an unroutable mandatory message (basic.return).")
    {
        ReplyText = Exchange = RoutingKey = string.Empty;
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What happened.</param>
    public MessageReturnedException(string message)
        : base(message)
    {
        ReplyText = Exchange = RoutingKey = string.Empty;
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    /// <param name="message">What happened.</param>
    /// <param name="innerException">The cause.</param>
    public MessageReturnedException(string message, Exception innerException)
        : base(message, innerException)
    {
        ReplyText = Exchange = RoutingKey = string.Empty;
    }

    /// <summary>The reply code of <c>basic.return</c>, e.g. 312 (NO_ROUTE); 0 when not known.</summary>
    public ushort ReplyCode { get; }

    /// <summary>The broker's reply text.</summary>
    public string ReplyText { get; }

    /// <summary>The exchange the message was published to ("" for the default exchange).</summary>
    public string Exchange { get; }

    /// <summary>The routing key the message was published with.</summary>
    public string RoutingKey { get; }
}
