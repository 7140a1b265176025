using System;
using System.Threading;
using System.Threading.Tasks;
using System.Threading.Tasks.Sources;

namespace CoolAmqp.Bench.Drivers;

/// <summary>
/// A reusable one-shot signal with a value, so the round-trip loop awaits each reply without allocating (the
/// harness must not add allocations to the per-message figures of the clients it measures).
/// Continuations run on the thread pool, not on the client's delivery thread.
/// </summary>
internal sealed class AsyncSignal<T> : IValueTaskSource<T>
{
    private ManualResetValueTaskSourceCore<T> _core = new() { RunContinuationsAsynchronously = true };
    private int _completed;

    /// <summary>Re-arms the signal; call only after the previous wait has completed.</summary>
    public void Reset()
    {
        _core.Reset();
        Volatile.Write(ref _completed, 0);
    }

    public ValueTask<T> WaitAsync() => new(this, _core.Version);

    public bool TrySet(T value)
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0) return false;
        _core.SetResult(value);
        return true;
    }

    public bool TryFail(Exception error)
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0) return false;
        _core.SetException(error);
        return true;
    }

    T IValueTaskSource<T>.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<T>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<T>.OnCompleted(Action<object?> continuation, object? state, short token,
        ValueTaskSourceOnCompletedFlags flags) => _core.OnCompleted(continuation, state, token, flags);
}
