using System.Collections.Concurrent;
using System.Threading.Tasks;
using CoolAmqp.Channels;
using CoolAmqp.Connections;

namespace CoolAmqp.Consuming;

/// <summary>
/// The queue between the read loop and a consumer's single dispatch loop (callback, MaxConcurrency 1). The read
/// loop enqueues without waking anyone (lock-free) and wakes the dispatcher once per read batch
/// (<see cref="Flush"/>); the dispatcher drains everything queued before it waits again. So a burst of deliveries
/// costs one wake-up, not one per message, and the order of delivery is kept. The dispatcher either is a
/// dedicated thread (<see cref="Wait"/>, for synchronous callbacks: it sleeps in the kernel instead of leaving a
/// thread-pool worker spinning after every batch) or an async loop (<see cref="WaitAsync"/>).
/// </summary>
/// <remarks>Items are structs: a pooled delivery record goes through without allocating (the queue's segments are
/// reused once they have grown to the backlog).</remarks>
internal sealed class DeliveryQueue
{
    private readonly ConcurrentQueue<QueuedDelivery> _queue = new();
    private readonly AutoResetSignal _signal = new();
    private volatile bool _completed;

    /// <summary>Whether nothing is queued.</summary>
    public bool IsEmpty => _queue.IsEmpty;

    /// <summary>Whether <see cref="Complete"/> was called.</summary>
    public bool IsCompleted => _completed;

    /// <summary>Queues a message for the dispatcher (which <see cref="Flush"/> wakes). False once completed.</summary>
    public bool TryEnqueue(ReceivedMessage message) => TryEnqueue(new QueuedDelivery(message));

    /// <summary>Queues a pooled delivery (<paramref name="record"/> while its stamp is <paramref name="token"/>).
    /// False once completed.</summary>
    public bool TryEnqueue(DeliveryRecord record, long token) => TryEnqueue(new QueuedDelivery(record, token));

    private bool TryEnqueue(in QueuedDelivery item)
    {
        if (_completed)
        {
            return false;
        }

        _queue.Enqueue(item);
        return true;
    }

    /// <summary>Wakes the dispatcher for what was queued so far.</summary>
    public void Flush() => _signal.Set();

    /// <summary>No more messages: the dispatcher ends once it has handed out those already queued.</summary>
    public void Complete()
    {
        _completed = true;
        _signal.Set();
    }

    /// <summary>The next queued delivery, if any (dispatcher only).</summary>
    public bool TryDequeue(out QueuedDelivery item) => _queue.TryDequeue(out item);

    /// <summary>Completes at the next <see cref="Flush"/> or <see cref="Complete"/> (at once if one came since the
    /// last wait). One waiter at a time.</summary>
    public ValueTask WaitAsync() => _signal.WaitAsync();

    /// <summary>Blocks until the next <see cref="Flush"/> or <see cref="Complete"/> (returns at once if one came
    /// since the last wait). One waiter at a time.</summary>
    public void Wait() => _signal.Wait();
}

/// <summary>One item of a <see cref="DeliveryQueue"/>: a <see cref="ReceivedMessage"/>, or a pooled delivery record
/// with the token it was queued with (the record may have ended, and been reused, before its turn).</summary>
internal readonly struct QueuedDelivery
{
    public QueuedDelivery(ReceivedMessage message)
    {
        Message = message;
    }

    public QueuedDelivery(DeliveryRecord record, long token)
    {
        Record = record;
        Token = token;
    }

    /// <summary>The message, or null for a pooled delivery.</summary>
    public ReceivedMessage? Message { get; }

    /// <summary>The pooled delivery's record, or null for a message.</summary>
    public DeliveryRecord? Record { get; }

    /// <summary>The pooled delivery's token.</summary>
    public long Token { get; }
}
