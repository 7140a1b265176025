using System.Collections.Concurrent;
using System.Threading.Tasks;
using CoolAmqp.Connections;

namespace CoolAmqp;

/// <summary>
/// The queue between the read loop and a consumer's single dispatch loop (callback, MaxConcurrency 1). The read
/// loop enqueues without waking anyone (lock-free) and wakes the dispatcher once per read batch
/// (<see cref="Flush"/>); the dispatcher drains everything queued before it waits again. So a burst of deliveries
/// costs one thread-pool hop, not one per message, and the order of delivery is kept.
/// </summary>
internal sealed class DeliveryQueue
{
    private readonly ConcurrentQueue<ReceivedMessage> _queue = new();
    private readonly AsyncAutoResetSignal _signal = new();
    private volatile bool _completed;

    /// <summary>Whether <see cref="Complete"/> was called.</summary>
    public bool IsCompleted => _completed;

    /// <summary>Queues a message for the dispatcher (which <see cref="Flush"/> wakes). False once completed.</summary>
    public bool TryEnqueue(ReceivedMessage message)
    {
        if (_completed)
        {
            return false;
        }

        _queue.Enqueue(message);
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

    /// <summary>The next queued message, if any (dispatcher only).</summary>
    public bool TryDequeue([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ReceivedMessage? message) =>
        _queue.TryDequeue(out message);

    /// <summary>Completes at the next <see cref="Flush"/> or <see cref="Complete"/> (at once if one came since the
    /// last wait). One waiter at a time.</summary>
    public ValueTask WaitAsync() => _signal.WaitAsync();
}
