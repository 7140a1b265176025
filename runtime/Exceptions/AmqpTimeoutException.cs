using System;

namespace CoolAmqp;

/// <summary>
/// The broker did not answer a request in time (<see cref="ClusterOptions.RpcTimeout"/> for a declare, bind, delete,
/// purge, get, qos, consume or cancel; <see cref="ClusterOptions.BlockedPublishTimeout"/> for a publish held while the
/// broker blocks publishing). The request may still take effect on the broker; the channel it used is closed (a late
/// answer cannot be mistaken for the next request's), the connection stays up.
/// </summary>
public class AmqpTimeoutException : CoolAmqpException
{
    /// <summary>Creates the exception with a generic message.</summary>
    public AmqpTimeoutException()
        : base("The broker did not answer in time.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What was not answered, and within how long.</param>
    public AmqpTimeoutException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    /// <param name="message">What happened.</param>
    /// <param name="innerException">The cause.</param>
    public AmqpTimeoutException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
