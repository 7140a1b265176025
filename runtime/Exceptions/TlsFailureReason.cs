namespace CoolAmqp;

/// <summary>Why a TLS connection could not be set up (<see cref="TlsHandshakeException.Reason"/>).</summary>
public enum TlsFailureReason
{
    /// <summary>None of the others; the message and the inner exception say more.</summary>
    Other = 0,

    /// <summary>The server's certificate chain does not end at a trusted root (or is incomplete): signed by a CA
    /// the client was not told to trust.</summary>
    UntrustedRoot,

    /// <summary>The server's certificate does not name the host (or <see cref="TlsOptions.ServerName"/>).</summary>
    NameMismatch,

    /// <summary>A certificate of the server's chain is expired or not yet valid.</summary>
    Expired,

    /// <summary>The server refused the client's certificate (or asked for one and got none): a TLS alert such as
    /// unknown_ca, bad_certificate or certificate_required.</summary>
    ClientCertificateRefused,

    /// <summary>The port does not speak TLS: the client sent a TLS hello and the peer answered with something else
    /// (an AMQP server's protocol header, typically: a plain AMQP port).</summary>
    NotTls,

    /// <summary>A plain (non-TLS) connection reached a TLS port: the server answered the AMQP protocol header with
    /// a TLS record (an alert, typically). Use <c>amqps://</c> or <see cref="NodeDefinition.Tls"/>.</summary>
    PlainToTls,

    /// <summary>The TLS handshake did not finish within the connection timeout (the peer accepted the TCP connection
    /// and then stalled).</summary>
    HandshakeTimeout,
}
