using System;
using System.Collections.Generic;

namespace CoolAmqp;

/// <summary>
/// The connection to the broker is gone, or could not be opened in time: the operation could not complete.
/// <see cref="Exception.InnerException"/> holds the cause (a socket error, a timeout, an <see cref="AmqpException"/>
/// for a connection closed by the broker, ...) when there is one. Subtypes say more: <see cref="PublishOutcomeUnknownException"/>
/// (a confirmed publish lost its connection before its confirm), <see cref="PublishBufferFullException"/>,
/// <see cref="TlsHandshakeException"/> (TLS could not be set up).
/// </summary>
public class ConnectionDeadException : CoolAmqpException
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

    /// <summary>Creates the exception for a start that found no node to connect to.</summary>
    /// <param name="message">What happened, naming each node.</param>
    /// <param name="nodeFailures">Each node tried and why it failed; the last failure becomes the inner exception.</param>
    public ConnectionDeadException(string message, IReadOnlyList<NodeConnectFailure> nodeFailures)
        : base(message, nodeFailures is { Count: > 0 } ? nodeFailures[nodeFailures.Count - 1].Error : null)
    {
        NodeFailures = nodeFailures ?? throw new ArgumentNullException(nameof(nodeFailures));
    }

    /// <summary>When <see cref="Cluster.StartAsync"/> tried several nodes and none worked: each node and why it failed,
    /// in the order tried. Empty otherwise.</summary>
    public IReadOnlyList<NodeConnectFailure> NodeFailures { get; } = [];
}

/// <summary>One node <see cref="Cluster.StartAsync"/> could not connect to, and why.</summary>
/// <param name="Node">The node.</param>
/// <param name="Error">Why (a <see cref="ConnectionDeadException"/>, <see cref="AuthenticationFailedException"/>, ...).</param>
public sealed record NodeConnectFailure(NodeDefinition Node, Exception Error);
