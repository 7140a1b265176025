using System.Collections.Generic;
using System.Threading.Tasks;
using CoolAmqp.Connections;

namespace CoolAmqp;

/// <summary>
/// The queue between the read loop and a consumer's single dispatch loop (callback, MaxConcurrency 1). The read
/// loop enqueues without waking anyone and wakes the dispatcher once per read batch (<see cref="Flush"/>); the
/// dispatcher takes everything queued in one swap. So a burst of deliveries costs one thread-pool hop, not one
/// per message, and the order of delivery is kept.
/// </summary>
internal sealed class DeliveryQueue
{
    private readonly object _sync = new();
    private readonly AsyncAutoResetSignal _signal = new();
    private Queue<ReceivedMessage> _incoming = new();
    private Queue<ReceivedMessage> _draining = new();
    private bool _completed;

    /// <summary>Queues a message for the dispatcher (which <see cref="Flush"/> wakes). False once completed.</summary>
    public bool TryEnqueue(ReceivedMessage message)
    {
        lock (_sync)
        {
            if (_completed)
            {
                return false;
            }

            _incoming.Enqueue(message);
            return true;
        }
    }

    /// <summary>Wakes the dispatcher for what was queued so far.</summary>
    public void Flush() => _signal.Set();

    /// <summary>No more messages: the dispatcher ends once it has handed out those already queued.</summary>
    public void Complete()
    {
        lock (_sync)
        {
            _completed = true;
        }

        _signal.Set();
    }

    /// <summary>Takes everything queued (to be consumed before the next call, which reuses the queue). Null when
    /// nothing is queued; then <paramref name="completed"/> tells whether nothing more will come.</summary>
    public Queue<ReceivedMessage>? TakeAll(out bool completed)
    {
        lock (_sync)
        {
            completed = _completed;
            if (_incoming.Count == 0)
            {
                return null;
            }

            (_incoming, _draining) = (_draining, _incoming);
            return _draining;
        }
    }

    /// <summary>Completes at the next <see cref="Flush"/> or <see cref="Complete"/> (at once if one came since the
    /// last wait). One waiter at a time.</summary>
    public ValueTask WaitAsync() => _signal.WaitAsync();
}
