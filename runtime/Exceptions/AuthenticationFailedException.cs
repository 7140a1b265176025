using System;

namespace CoolAmqp;

/// <summary>
/// The broker refused the login (user name, password, mechanism or virtual host access): usually
/// 403 ACCESS_REFUSED during the connection handshake. Retrying with the same credentials will not help.
/// </summary>
public sealed class AuthenticationFailedException : AmqpException
{
    /// <summary>The reply code brokers use to refuse a login: 403 ACCESS_REFUSED.</summary>
    public const ushort AccessRefused = 403;

    /// <summary>Creates the exception from the fields of the broker's <c>connection.close</c>.</summary>
    /// <param name="replyCode">The reply code, normally 403.</param>
    /// <param name="replyText">The broker's reply text.</param>
    /// <param name="classId">Class id of the failed method, or 0.</param>
    /// <param name="methodId">Method id of the failed method, or 0.</param>
    public AuthenticationFailedException(ushort replyCode, string replyText, ushort classId, ushort methodId)
        : base(replyCode, replyText, classId, methodId)
    {
    }

    /// <summary>Creates the exception for a login refused with 403 ACCESS_REFUSED and the given reply text.</summary>
    /// <param name="replyText">The broker's reply text, e.g. "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN".</param>
    public AuthenticationFailedException(string replyText)
        : base(AccessRefused, replyText, 0, 0)
    {
    }

    /// <summary>Creates the exception with a generic message.</summary>
    public AuthenticationFailedException()
        : base(AccessRefused, "ACCESS_REFUSED - login refused", 0, 0)
    {
    }

    /// <summary>Creates the exception with a message and its cause (e.g. the broker dropped the socket after start-ok).</summary>
    /// <param name="message">What happened.</param>
    /// <param name="innerException">The cause.</param>
    public AuthenticationFailedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
