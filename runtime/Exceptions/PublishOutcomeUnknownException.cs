using System;

namespace CoolAmqp;

/// <summary>
/// A confirmed (or mandatory) publish was written to the connection, and the connection (or its channel) was lost
/// before the broker confirmed it: the broker may or may not have taken the message. Publishing it again is the
/// caller's choice; consumers may then see it twice (give messages a <see cref="MessageProperties.MessageId"/> to
/// tell). <see cref="Exception.InnerException"/> is why the connection was lost.
/// </summary>
public sealed class PublishOutcomeUnknownException : ConnectionDeadException
{
    /// <summary>Creates the exception with a generic message.</summary>
    public PublishOutcomeUnknownException()
        : base("The connection was lost before the broker confirmed the message: it may or may not have been published.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What happened.</param>
    public PublishOutcomeUnknownException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    /// <param name="message">What happened.</param>
    /// <param name="innerException">Why the connection was lost.</param>
    public PublishOutcomeUnknownException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception for one publish.</summary>
    /// <param name="exchange">The exchange the message was published to.</param>
    /// <param name="routingKey">Its routing key.</param>
    /// <param name="innerException">Why the connection was lost.</param>
    public PublishOutcomeUnknownException(string exchange, string routingKey, Exception? innerException)
        : base($"The connection was lost after the message to exchange '{exchange}' with routing key '{routingKey}' " +
               "was sent and before the broker confirmed it: it may or may not have been published" +
               (innerException is null ? "." : $" ({innerException.Message})."), innerException)
    {
        Exchange = exchange;
        RoutingKey = routingKey;
    }

    /// <summary>The exchange the message was published to ("" when not known).</summary>
    public string Exchange { get; } = string.Empty;

    /// <summary>The routing key it was published with ("" when not known).</summary>
    public string RoutingKey { get; } = string.Empty;
}
