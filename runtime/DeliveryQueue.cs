using System.Collections.Concurrent;
using System.Threading.Tasks;
using CoolAmqp.Connections;

namespace CoolAmqp;

/// <summary>
/// The queue between the read loop and a consumer's single dispatch loop (callback, MaxConcurrency 1). The read
/// loop enqueues without waking anyone (lock-free) and wakes the dispatcher once per read batch
/// (<see cref="Flush"/>); the dispatcher drains everything queued before it waits again. So a burst of deliveries
/// costs one wake-up, not one per message, and the order of delivery is kept. The dispatcher either is a
/// dedicated thread (<see cref="Wait"/>, for synchronous callbacks: it sleeps in the kernel instead of leaving a
/// thread-pool worker spinning after every batch) or an async loop (<see cref="WaitAsync"/>).
/// </summary>
internal sealed class DeliveryQueue
{
    private readonly ConcurrentQueue<ReceivedMessage> _queue = new();
    private readonly AsyncAutoResetSignal? _asyncSignal;
    private readonly AutoResetSignal? _signal;
    private volatile bool _completed;

    /// <param name="blocking">Whether the dispatcher is a thread that waits with <see cref="Wait"/> (otherwise
    /// an async loop that waits with <see cref="WaitAsync"/>).</param>
    public DeliveryQueue(bool blocking)
    {
        if (blocking)
        {
            _signal = new AutoResetSignal();
        }
        else
        {
            _asyncSignal = new AsyncAutoResetSignal();
        }
    }

    /// <summary>Whether nothing is queued.</summary>
    public bool IsEmpty => _queue.IsEmpty;

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
    public void Flush() => Set();

    /// <summary>No more messages: the dispatcher ends once it has handed out those already queued.</summary>
    public void Complete()
    {
        _completed = true;
        Set();
    }

    private void Set()
    {
        _signal?.Set();
        _asyncSignal?.Set();
    }

    /// <summary>The next queued message, if any (dispatcher only).</summary>
    public bool TryDequeue([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ReceivedMessage? message) =>
        _queue.TryDequeue(out message);

    /// <summary>Completes at the next <see cref="Flush"/> or <see cref="Complete"/> (at once if one came since the
    /// last wait). One waiter at a time.</summary>
    public ValueTask WaitAsync() => _asyncSignal!.WaitAsync();

    /// <summary>Blocks until the next <see cref="Flush"/> or <see cref="Complete"/> (returns at once if one came
    /// since the last wait). One waiter at a time.</summary>
    public void Wait() => _signal!.Wait();
}
