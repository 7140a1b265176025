using System;
using System.Threading;
using CoolAmqp.Channels;
using CoolAmqp.Connections;
using Microsoft.Extensions.Logging;

namespace CoolAmqp.Consuming;

/// <summary>
/// Hands a consumer's deliveries from the read loop to the application, one subclass per way the options ask for:
/// <see cref="ThreadDispatcher"/> (a synchronous callback), <see cref="OrderedAsyncDispatcher"/> (an async callback,
/// one at a time), <see cref="ConcurrentDispatcher"/> (callbacks run side by side), <see cref="StreamDispatcher"/>
/// (the application reads them) and <see cref="EventDispatcher"/> (the cluster's events). The consumer keeps its
/// state machine; a dispatcher only queues, hands out and ends.
/// </summary>
/// <remarks>Queuing and <see cref="OnBatchEnd"/> are called by the read loop only; <see cref="Complete"/> once, by
/// the consumer as it ends.</remarks>
internal abstract class Dispatcher
{
    /// <summary>The dispatcher <paramref name="consumer"/>'s options ask for.</summary>
    /// <param name="consumer">Whose deliveries.</param>
    /// <param name="cluster">Where events go.</param>
    /// <param name="logger">Where callback failures are logged.</param>
    /// <param name="stopping">Fires when the consumer ends (the token async callbacks get).</param>
    public static Dispatcher Create(Consumer consumer, Cluster cluster, ILogger logger, CancellationToken stopping)
    {
        ConsumerOptions options = consumer.Options;
        if (options.OnMessage is null && options.OnMessageAsync is null && options.OnDelivery is null)
        {
            return options.ReadFromConsumer ? new StreamDispatcher() : new EventDispatcher(cluster);
        }

        var callbacks = new CallbackRunner(consumer, logger, stopping);
        if (options.MaxConcurrency > 1)
        {
            return new ConcurrentDispatcher(callbacks, options.MaxConcurrency, options.OnMessageAsync is not null);
        }

        return options.OnMessageAsync is null
            ? new ThreadDispatcher(callbacks, consumer.Queue.Name)
            : new OrderedAsyncDispatcher(callbacks);
    }

    /// <summary>Queues a message. False once completed: nobody will take it (the caller disposes it; unsettled, it
    /// goes back to the queue with the channel).</summary>
    public abstract bool TryEnqueue(ReceivedMessage message);

    /// <summary>Queues a pooled delivery (<see cref="ConsumerOptions.OnDelivery"/> only). False once completed, as
    /// for a message.</summary>
    public virtual bool TryEnqueue(DeliveryRecord record, long token) => false;

    /// <summary>The read loop has queued everything of one read: wake whoever hands it out.</summary>
    /// <param name="reading">The connection's reading role, which a dispatcher may run callbacks under.</param>
    /// <param name="turn">The reading turn the batch was read in.</param>
    public virtual void OnBatchEnd(ReaderHandoff? reading, long turn)
    {
    }

    /// <summary>No more deliveries: what was queued is still handed out, then the dispatcher ends.</summary>
    /// <param name="failure">Why the consumer ended, when it ended by failure (a stream's reader learns it); else
    /// null.</param>
    public abstract void Complete(Exception? failure);
}
