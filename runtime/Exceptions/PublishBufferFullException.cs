using System;

namespace CoolAmqp;

/// <summary>
/// A publish made while the cluster has no connection found the publishes already waiting for one at the limit
/// (<see cref="RecoveryOptions.MaxWaitingPublishes"/> or <see cref="RecoveryOptions.MaxWaitingPublishBytes"/>): it was
/// not sent and will not be.
/// </summary>
public sealed class PublishBufferFullException : ConnectionDeadException
{
    /// <summary>Creates the exception with a generic message.</summary>
    public PublishBufferFullException()
        : base("Too many publishes are waiting for the connection: this one was not sent.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What happened.</param>
    public PublishBufferFullException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    /// <param name="message">What happened.</param>
    /// <param name="innerException">The cause.</param>
    public PublishBufferFullException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
