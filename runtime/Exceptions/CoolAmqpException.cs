using System;

namespace CoolAmqp;

/// <summary>
/// The root of every exception CoolAmqp throws for what happens on the wire or at the broker: a refusal
/// (<see cref="AmqpException"/>, <see cref="AuthenticationFailedException"/>), a lost or unusable connection
/// (<see cref="ConnectionDeadException"/> and its kinds), a missing answer (<see cref="AmqpTimeoutException"/>), a
/// malformed frame (<see cref="Framing.AmqpFrameFormatException"/>), a publish the broker nacked or returned. One
/// <c>catch (CoolAmqpException)</c> takes them all. Mistakes in the calling code are reported with .NET's own types
/// (<see cref="ArgumentException"/>, <see cref="FormatException"/> for a bad URI, <see cref="InvalidOperationException"/>,
/// <see cref="ObjectDisposedException"/>, <see cref="OperationCanceledException"/>), as .NET APIs do.
/// </summary>
public abstract class CoolAmqpException : Exception
{
    /// <summary>Creates the exception with the runtime's generic message.</summary>
    protected CoolAmqpException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What happened.</param>
    protected CoolAmqpException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    /// <param name="message">What happened.</param>
    /// <param name="innerException">The cause.</param>
    protected CoolAmqpException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
