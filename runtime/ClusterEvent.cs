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
/// when <see cref="Cluster.StartAsync"/> fails: its caller hears of that). With <see cref="RecoveryOptions.Enabled"/>
/// the cluster now reconnects (<see cref="Reconnected"/>, or <see cref="ReconnectFailed"/> per failed attempt);
/// operations started meanwhile wait for it, up to <see cref="RecoveryOptions.ConnectionWaitTimeout"/>.</summary>
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

/// <summary>Plain publishes (without confirms) whose tasks had completed, because they were queued for the socket,
/// never reached it: the connection broke first. They are the last <see cref="Count"/> plain publishes made on that
/// connection before the loss (plain publishes keep their order), and they are lost: publish them again if they
/// matter, or use confirms. Follows the <see cref="ConnectionLost"/> it belongs to. (Bytes that reached the socket can
/// still be lost in the network; only confirms tell.)</summary>
public sealed class PlainPublishesUnsent : ClusterEvent
{
    /// <summary>Reports plain publishes lost in the outbound buffer.</summary>
    /// <param name="node">The node of the lost connection.</param>
    /// <param name="count">How many.</param>
    public PlainPublishesUnsent(NodeDefinition node, int count)
    {
        Node = node ?? throw new ArgumentNullException(nameof(node));
        Count = count;
    }

    /// <summary>The node of the lost connection.</summary>
    public NodeDefinition Node { get; }

    /// <summary>How many plain publishes were lost.</summary>
    public int Count { get; }
}

/// <summary>The broker cancelled a consumer (basic.cancel from the broker: its queue was deleted, or a mirrored or
/// quorum queue's leader moved away). The consumer is <see cref="ConsumerState.Cancelled"/> and stays so: consume the
/// queue again if it should go on. Its <see cref="ConsumerOptions.OnBrokerCancel"/> and
/// <see cref="Consumer.BrokerCancelled"/> ran too.</summary>
public sealed class ConsumerCancelledByBroker : ClusterEvent
{
    /// <summary>Reports a consumer cancelled by the broker.</summary>
    /// <param name="consumer">The consumer.</param>
    /// <param name="queueName">The name of the queue it consumed.</param>
    public ConsumerCancelledByBroker(Consumer consumer, string queueName)
    {
        Consumer = consumer ?? throw new ArgumentNullException(nameof(consumer));
        QueueName = queueName ?? throw new ArgumentNullException(nameof(queueName));
    }

    /// <summary>The consumer.</summary>
    public Consumer Consumer { get; }

    /// <summary>The queue it consumed.</summary>
    public string QueueName { get; }
}

/// <summary>A message for a consumer broke a <see cref="ClusterOptions.Limits"/> limit (its body is over
/// <see cref="ProtocolLimits.MaxBodySize"/>, or its headers nest too deeply or hold too many entries), so the client
/// refused it instead of buffering it: its body was read and dropped, it was rejected without requeue if the consumer
/// acknowledges (<see cref="Rejected"/>: the queue's dead-letter exchange gets it, if it has one), a warning was
/// logged, and <see cref="ConsumerOptions.OnDeliveryRefused"/> ran. The consumer, its channel and the connection go
/// on.</summary>
public sealed class DeliveryRefused : ClusterEvent
{
    /// <summary>Reports a refused delivery.</summary>
    /// <param name="consumer">The consumer it was for.</param>
    /// <param name="deliveryTag">Its delivery tag.</param>
    /// <param name="redelivered">Whether the broker had delivered it before.</param>
    /// <param name="exchange">The exchange it was published to.</param>
    /// <param name="routingKey">Its routing key.</param>
    /// <param name="rejected">Whether it was rejected without requeue (false for a no-ack consumer, whose messages the
    /// broker forgets once sent, or when the channel closed meanwhile and the broker requeues it).</param>
    /// <param name="error">Which limit it broke, by how much, and what became of it.</param>
    public DeliveryRefused(Consumer consumer, ulong deliveryTag, bool redelivered, string exchange, string routingKey,
        bool rejected, ProtocolLimitExceededException error)
    {
        Consumer = consumer ?? throw new ArgumentNullException(nameof(consumer));
        DeliveryTag = deliveryTag;
        Redelivered = redelivered;
        Exchange = exchange ?? throw new ArgumentNullException(nameof(exchange));
        RoutingKey = routingKey ?? throw new ArgumentNullException(nameof(routingKey));
        Rejected = rejected;
        Error = error ?? throw new ArgumentNullException(nameof(error));
    }

    /// <summary>The consumer it was for.</summary>
    public Consumer Consumer { get; }

    /// <summary>Its delivery tag on the consumer's channel.</summary>
    public ulong DeliveryTag { get; }

    /// <summary>Whether the broker had delivered it before.</summary>
    public bool Redelivered { get; }

    /// <summary>The exchange it was published to ("" for the default exchange).</summary>
    public string Exchange { get; }

    /// <summary>Its routing key.</summary>
    public string RoutingKey { get; }

    /// <summary>Whether it was rejected without requeue (basic.reject, requeue false).</summary>
    public bool Rejected { get; }

    /// <summary>Which limit it broke (<see cref="ProtocolLimitExceededException.Limit"/>), what the broker sent and
    /// what was allowed.</summary>
    public ProtocolLimitExceededException Error { get; }
}

/// <summary>The broker blocked publishing on the cluster's connection (connection.blocked: a memory or disk alarm).
/// RabbitMQ stops reading a connection that publishes during an alarm, so whatever the cluster sent after that waits
/// in the socket; later publishes are held back in the cluster, and fail with <see cref="PublishBlockedException"/>
/// after <see cref="ClusterOptions.BlockedPublishTimeout"/>. Ends with <see cref="PublishingUnblocked"/>, or with the
/// connection.</summary>
public sealed class PublishingBlocked : ClusterEvent
{
    /// <summary>Reports a block.</summary>
    /// <param name="node">The node of the connection.</param>
    /// <param name="reason">The broker's reason, e.g. "low on memory".</param>
    public PublishingBlocked(NodeDefinition node, string reason)
    {
        Node = node ?? throw new ArgumentNullException(nameof(node));
        Reason = reason ?? throw new ArgumentNullException(nameof(reason));
    }

    /// <summary>The node of the blocked connection.</summary>
    public NodeDefinition Node { get; }

    /// <summary>The broker's reason.</summary>
    public string Reason { get; }
}

/// <summary>The broker unblocked publishing (connection.unblocked): held publishes go out in order.</summary>
public sealed class PublishingUnblocked : ClusterEvent
{
    /// <summary>Reports the end of a block.</summary>
    /// <param name="node">The node of the connection.</param>
    public PublishingUnblocked(NodeDefinition node)
    {
        Node = node ?? throw new ArgumentNullException(nameof(node));
    }

    /// <summary>The node of the connection.</summary>
    public NodeDefinition Node { get; }
}

/// <summary>The cluster connected again after a loss: topology declared with <c>persistent: true</c> is restored
/// (failures reported as <see cref="TopologyRecoveryFailed"/>), consumers are being re-established.</summary>
public sealed class Reconnected : ClusterEvent
{
    /// <summary>Reports a reconnection.</summary>
    /// <param name="node">The node connected to.</param>
    /// <param name="attempts">How many attempts it took.</param>
    /// <param name="downtime">How long the cluster was without a connection.</param>
    public Reconnected(NodeDefinition node, int attempts, TimeSpan downtime)
    {
        Node = node ?? throw new ArgumentNullException(nameof(node));
        Attempts = attempts;
        Downtime = downtime;
    }

    /// <summary>The node connected to.</summary>
    public NodeDefinition Node { get; }

    /// <summary>How many attempts it took (1: the first succeeded).</summary>
    public int Attempts { get; }

    /// <summary>How long the cluster was without a connection.</summary>
    public TimeSpan Downtime { get; }
}

/// <summary>One reconnection attempt failed; the cluster tries again after <see cref="NextDelay"/> (or gives up,
/// when <see cref="RecoveryOptions.MaxAttempts"/> is reached: <see cref="NextDelay"/> is then null).</summary>
public sealed class ReconnectFailed : ClusterEvent
{
    /// <summary>Reports a failed attempt.</summary>
    /// <param name="node">The node tried.</param>
    /// <param name="attempt">The attempt's number (1 for the first after the loss).</param>
    /// <param name="error">Why it failed (e.g. <see cref="AuthenticationFailedException"/>, <see cref="ConnectionDeadException"/>).</param>
    /// <param name="nextDelay">The wait before the next attempt, or null when the cluster gave up.</param>
    public ReconnectFailed(NodeDefinition node, int attempt, Exception error, TimeSpan? nextDelay)
    {
        Node = node ?? throw new ArgumentNullException(nameof(node));
        Attempt = attempt;
        Error = error ?? throw new ArgumentNullException(nameof(error));
        NextDelay = nextDelay;
    }

    /// <summary>The node tried.</summary>
    public NodeDefinition Node { get; }

    /// <summary>The attempt's number (1 for the first after the loss).</summary>
    public int Attempt { get; }

    /// <summary>Why it failed.</summary>
    public Exception Error { get; }

    /// <summary>The wait before the next attempt, or null when the cluster gave up.</summary>
    public TimeSpan? NextDelay { get; }
}

/// <summary>Something declared with <c>persistent: true</c> could not be declared again on a new connection (e.g. a
/// queue declared meanwhile with other arguments); the rest of the topology was still recovered.</summary>
public sealed class TopologyRecoveryFailed : ClusterEvent
{
    /// <summary>Reports a failed recovery step.</summary>
    /// <param name="what">What could not be recovered, e.g. <c>Queue('jobs', durable)</c>.</param>
    /// <param name="error">The broker's refusal (an <see cref="AmqpException"/>) or why else it failed.</param>
    public TopologyRecoveryFailed(string what, Exception error)
    {
        What = what ?? throw new ArgumentNullException(nameof(what));
        Error = error ?? throw new ArgumentNullException(nameof(error));
    }

    /// <summary>What could not be recovered.</summary>
    public string What { get; }

    /// <summary>Why.</summary>
    public Exception Error { get; }
}

/// <summary>A server-named queue was declared again on a new connection and the broker gave it a new name (now in
/// <see cref="Queue.Name"/>); its consumers and recorded bindings follow it.</summary>
public sealed class QueueRenamed : ClusterEvent
{
    /// <summary>Reports a renamed queue.</summary>
    /// <param name="queue">The queue.</param>
    /// <param name="oldName">The name it had on the lost connection.</param>
    public QueueRenamed(Queue queue, string oldName)
    {
        Queue = queue ?? throw new ArgumentNullException(nameof(queue));
        OldName = oldName ?? throw new ArgumentNullException(nameof(oldName));
        NewName = queue.Name;
    }

    /// <summary>The queue.</summary>
    public Queue Queue { get; }

    /// <summary>The name it had on the lost connection.</summary>
    public string OldName { get; }

    /// <summary>The name the broker gave it now.</summary>
    public string NewName { get; }
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
