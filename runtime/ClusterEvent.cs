using System;

namespace CoolAmqp;

/// <summary>Something a cluster reports through its event queue (CoolAMQP's <c>Cluster.drain</c>).</summary>
public abstract class ClusterEvent
{
    /// <summary>Only the library's event types derive from this.</summary>
    private protected ClusterEvent()
    {
    }
}

/// <summary>A message arrived for a consumer that has no message callback.</summary>
public sealed class MessageReceived : ClusterEvent
{
    /// <summary>Wraps a received message.</summary>
    /// <param name="message">The message.</param>
    public MessageReceived(ReceivedMessage message)
    {
        Message = message ?? throw new ArgumentNullException(nameof(message));
    }

    /// <summary>The received message; remember to ack or nack it if its consumer is not no-ack.</summary>
    public ReceivedMessage Message { get; }
}

/// <summary>An established connection to the broker was lost (not on <see cref="Cluster.ShutdownAsync"/>, and not
/// when <see cref="Cluster.StartAsync"/> fails: its caller hears of that). The cluster does not reconnect yet: later
/// operations fail with <see cref="ConnectionDeadException"/>.</summary>
public sealed class ConnectionLost : ClusterEvent
{
    /// <summary>Reports a lost connection.</summary>
    /// <param name="reason">Why, if known (a socket error, an <see cref="AmqpException"/> from <c>connection.close</c>, ...).</param>
    public ConnectionLost(Exception? reason)
    {
        Reason = reason;
    }

    /// <summary>Why the connection was lost, or <see langword="null"/> when not known.</summary>
    public Exception? Reason { get; }
}

/// <summary>Nothing happened within the time waited for an event.</summary>
public sealed class NothingMuch : ClusterEvent
{
    private NothingMuch()
    {
    }

    /// <summary>The only instance.</summary>
    public static NothingMuch Instance { get; } = new();
}
