using System;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace CoolAmqp;

/// <summary>
/// A connection could not be opened because TLS could not be set up: the server's certificate was refused (see
/// <see cref="SslPolicyErrors"/> and <see cref="ChainStatus"/>), the server refused the client's, one side does not
/// speak TLS, or the handshake stalled. <see cref="Reason"/> says which; the message names the cause and the server.
/// Retrying with the same settings will not help, except after <see cref="TlsFailureReason.HandshakeTimeout"/>.
/// </summary>
public sealed class TlsHandshakeException : ConnectionDeadException
{
    /// <summary>Creates the exception with a generic message.</summary>
    public TlsHandshakeException()
        : base("The TLS handshake failed.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What happened.</param>
    public TlsHandshakeException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    /// <param name="message">What happened.</param>
    /// <param name="innerException">The cause.</param>
    public TlsHandshakeException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception with every detail.</summary>
    /// <param name="reason">Why the handshake failed.</param>
    /// <param name="server">The server, as <c>host:port</c>.</param>
    /// <param name="message">What happened, naming the cause and the server.</param>
    /// <param name="sslPolicyErrors">What validation found wrong with the server's certificate.</param>
    /// <param name="chainStatus">The status flags of the server's certificate chain.</param>
    /// <param name="innerException">The cause, or null.</param>
    public TlsHandshakeException(TlsFailureReason reason, string server, string message, SslPolicyErrors sslPolicyErrors,
        X509ChainStatusFlags chainStatus, Exception? innerException)
        : base(message, innerException)
    {
        Reason = reason;
        Server = server;
        SslPolicyErrors = sslPolicyErrors;
        ChainStatus = chainStatus;
    }

    /// <summary>Why the handshake failed.</summary>
    public TlsFailureReason Reason { get; }

    /// <summary>The server, as <c>host:port</c> (empty when not given).</summary>
    public string Server { get; } = string.Empty;

    /// <summary>What validation found wrong with the server's certificate (<see cref="SslPolicyErrors.None"/> when
    /// the failure was not about it).</summary>
    public SslPolicyErrors SslPolicyErrors { get; }

    /// <summary>The status flags of the server's certificate chain, all elements together
    /// (<see cref="X509ChainStatusFlags.NoError"/> when the chain was fine or not looked at).</summary>
    public X509ChainStatusFlags ChainStatus { get; }
}
