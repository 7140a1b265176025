using System;

namespace CoolAmqp;

/// <summary>
/// The connection to the broker is gone, or could not be opened in time: the operation could not complete.
/// <see cref="Exception.InnerException"/> holds the cause (a socket error, a timeout, an <see cref="AmqpException"/>
/// for a connection closed by the broker, ...) when there is one.
/// </summary>
public sealed class ConnectionDeadException : Exception
{
    /// <summary>Creates the exception with a generic message.</summary>
    public ConnectionDeadException()
        : base("The connection to the AMQP broker is dead.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What happened, e.g. "could not connect to amqp://guest@host:5672/ within 10 s".</param>
    public ConnectionDeadException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    /// <param name="message">What happened.</param>
    /// <param name="innerException">The cause, e.g. a <see cref="System.Net.Sockets.SocketException"/>.</param>
    public ConnectionDeadException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
