using System;

namespace CoolAmqp;

/// <summary>
/// The broker blocked publishing (connection.blocked: a memory or disk alarm) and did not unblock within
/// <see cref="ClusterOptions.BlockedPublishTimeout"/>: the publish was held back and not sent.
/// </summary>
public sealed class PublishBlockedException : AmqpTimeoutException
{
    /// <summary>Creates the exception with a generic message.</summary>
    public PublishBlockedException()
        : base("The broker blocked publishing and did not unblock in time: the message was not sent.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What happened.</param>
    public PublishBlockedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    /// <param name="message">What happened.</param>
    /// <param name="innerException">The cause.</param>
    public PublishBlockedException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
