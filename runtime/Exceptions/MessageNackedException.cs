using System;

namespace CoolAmqp;

/// <summary>
/// The broker answered a publish made with publisher confirms with <c>basic.nack</c>: it did not take
/// responsibility for the message (e.g. an internal error in the queue process). Publishing again may succeed.
/// </summary>
public sealed class MessageNackedException : CoolAmqpException
{
    /// <summary>Creates the exception with a generic message.</summary>
    public MessageNackedException()
        : base("The broker nacked the published message (basic.nack): it did not take responsibility for it.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What happened.</param>
    public MessageNackedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    /// <param name="message">What happened.</param>
    /// <param name="innerException">The cause.</param>
    public MessageNackedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
