using System.Threading;

namespace CoolAmqp.Connections;

/// <summary>
/// An allocation-free auto-reset event for exactly one waiting thread (the frame writer's, a consumer's
/// dispatcher) and any number of threads that set it. Setting an already set or running waiter costs one
/// interlocked read; only a waiter that is asleep costs a wake-up. The waiter blocks in the kernel without
/// spinning: a thread-pool worker that spins after each hop was most of the client's CPU in the consume
/// scenarios (issue 4).
/// </summary>
internal sealed class AutoResetSignal
{
    private const int Idle = 0;
    private const int Signaled = 1;
    private const int Waiting = 2;

    private readonly object _gate = new();
    private int _state;

    /// <summary>Wakes the waiter, or makes its next <see cref="Wait"/> return at once.</summary>
    public void Set()
    {
        while (true)
        {
            int state = Volatile.Read(ref _state);
            if (state == Signaled)
            {
                return;
            }

            if (state == Idle)
            {
                if (Interlocked.CompareExchange(ref _state, Signaled, Idle) == Idle)
                {
                    return;
                }
            }
            else if (Interlocked.CompareExchange(ref _state, Idle, Waiting) == Waiting)
            {
                // The waiter set Waiting under the gate and checks it under the gate before sleeping, so taking
                // the gate here means the pulse cannot fall between its check and its sleep.
                lock (_gate)
                {
                    Monitor.Pulse(_gate);
                }

                return;
            }
        }
    }

    /// <summary>Blocks until <see cref="Set"/> is called (returns at once if it was called since the last wait).
    /// Only one thread may wait at a time.</summary>
    public void Wait()
    {
        if (Interlocked.CompareExchange(ref _state, Idle, Signaled) == Signaled)
        {
            return;
        }

        lock (_gate)
        {
            if (Interlocked.CompareExchange(ref _state, Waiting, Idle) != Idle)
            {
                // Set between the two exchanges: consume it.
                Volatile.Write(ref _state, Idle);
                return;
            }

            while (Volatile.Read(ref _state) == Waiting)
            {
                Monitor.Wait(_gate);
            }
        }
    }
}
