namespace CoolAmqp.Connections;

/// <summary>
/// The states of one AMQP connection, in order (spec section 4.2.3 for the handshake). Only
/// <see cref="AmqpConnection"/>'s transition method changes it.
/// </summary>
internal enum ConnectionState
{
    /// <summary>Constructed; nothing done yet.</summary>
    Created,

    /// <summary>Resolving the host and opening the TCP (and TLS) stream.</summary>
    Connecting,

    /// <summary>Protocol header sent; waiting for connection.start.</summary>
    AwaitingStart,

    /// <summary>connection.start-ok (or secure-ok) sent; waiting for connection.tune (or a secure challenge).</summary>
    AwaitingTune,

    /// <summary>connection.tune-ok and connection.open sent; waiting for connection.open-ok.</summary>
    AwaitingOpenOk,

    /// <summary>Usable: channels may be opened.</summary>
    Open,

    /// <summary>connection.close sent by us; waiting for close-ok.</summary>
    Closing,

    /// <summary>Closed on request (terminal).</summary>
    Closed,

    /// <summary>Failed: socket error, protocol error, missed heartbeats or closed by the broker (terminal).</summary>
    Broken,
}
