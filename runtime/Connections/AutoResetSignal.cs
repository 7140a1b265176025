using System.Threading;
using System.Threading.Tasks;
using System.Threading.Tasks.Sources;

namespace CoolAmqp.Connections;

/// <summary>
/// An allocation-free auto-reset event for exactly one waiter (the frame writer's thread, a consumer's dispatcher)
/// and any number of threads that set it. Setting an already set signal, or one whose waiter is running, costs one
/// interlocked read; only a waiter that is asleep costs a wake-up. The waiter either blocks in the kernel without
/// spinning (<see cref="Wait"/>: a thread-pool worker that spins after each hop was most of the client's CPU in the
/// consume scenarios, issue 4) or awaits (<see cref="WaitAsync"/>, resumed on the thread pool); one signal serves
/// one kind of waiter.
/// </summary>
internal sealed class AutoResetSignal : IValueTaskSource
{
    private const int Idle = 0;
    private const int Signaled = 1;
    private const int Waiting = 2;

    private readonly object _gate = new();

    // Continuations run on the thread pool: the thread that sets the signal (the reader) must never end up running
    // the awaiting loop.
    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };
    private bool _asyncWaiter;
    private int _state;

    /// <summary>Wakes the waiter, or makes its next wait return at once.</summary>
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
                if (_asyncWaiter)
                {
                    _core.SetResult(true);
                    return;
                }

                // The blocking waiter set Waiting under the gate and checks it under the gate before sleeping, so
                // taking the gate here means the pulse cannot fall between its check and its sleep.
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

    /// <summary>Completes at the next <see cref="Set"/> (at once if it was called since the last wait). Only one
    /// caller may wait at a time, and a signal waited on this way is never waited on with <see cref="Wait"/>.</summary>
    public ValueTask WaitAsync()
    {
        if (Interlocked.CompareExchange(ref _state, Idle, Signaled) == Signaled)
        {
            return default;
        }

        _asyncWaiter = true;
        _core.Reset();
        if (Interlocked.CompareExchange(ref _state, Waiting, Idle) != Idle)
        {
            // Set between the two exchanges: consume it.
            Volatile.Write(ref _state, Idle);
            return default;
        }

        return new ValueTask(this, _core.Version);
    }

    void IValueTaskSource.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource.OnCompleted(System.Action<object?> continuation, object? state, short token,
        ValueTaskSourceOnCompletedFlags flags) => _core.OnCompleted(continuation, state, token, flags);
}
