using System;

namespace CoolAmqp.Consuming;

/// <summary>A consumer without a callback or a stream: its messages become <see cref="MessageReceived"/> events of
/// the cluster (CoolAMQP's default).</summary>
internal sealed class EventDispatcher(Cluster cluster) : Dispatcher
{
    /// <inheritdoc/>
    public override bool TryEnqueue(ReceivedMessage message)
    {
        cluster.PostEvent(new MessageReceived(message));
        return true;
    }

    /// <inheritdoc/>
    public override void Complete(Exception? failure)
    {
    }
}
