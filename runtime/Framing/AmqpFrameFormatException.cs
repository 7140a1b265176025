using System;

namespace CoolAmqp.Framing;

/// <summary>
/// Bytes received from the peer do not form a valid AMQP 0-9-1 frame, method, content header or field table:
/// a length runs past the end of its input, a type code is unknown, or a frame is malformed.
/// </summary>
/// <remarks>Every parser in CoolAmqp raises this type (and only this type) for bad input, so a broker that
/// sends garbage can be told apart from a bug.</remarks>
public sealed class AmqpFrameFormatException : CoolAmqpException
{
    /// <summary>Creates the exception with a message naming what was wrong.</summary>
    public AmqpFrameFormatException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the exception that caused it.</summary>
    public AmqpFrameFormatException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Creates the exception with a generic message.</summary>
    public AmqpFrameFormatException() : base("Malformed AMQP frame.") { }
}
