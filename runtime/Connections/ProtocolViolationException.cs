using System;

namespace CoolAmqp.Connections;

/// <summary>
/// The broker sent well-formed frames in an order the protocol does not allow (a response nobody waits for, a
/// content frame without its method, a connection method during the wrong state). The connection answers with
/// connection.close 505 UNEXPECTED_FRAME and breaks; callers see a <see cref="ConnectionDeadException"/> whose
/// inner exception is this.
/// </summary>
internal sealed class ProtocolViolationException : CoolAmqpException
{
    public ProtocolViolationException(string message)
        : base(message)
    {
    }

    public ProtocolViolationException()
    {
    }

    public ProtocolViolationException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
