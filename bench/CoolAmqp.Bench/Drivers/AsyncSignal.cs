using System;
using System.Threading;
using System.Threading.Tasks;
using System.Threading.Tasks.Sources;

namespace CoolAmqp.Bench.Drivers;

/// <summary>
/// A reusable one-shot signal with a value, so the round-trip loop awaits each reply without allocating (the
/// harness must not add allocations to the per-message figures of the clients it measures). The waiter resumes on
/// the thread pool, never on the client's delivery thread: the signal queues itself as a work item (no allocation,
/// unlike RunContinuationsAsynchronously, which allocates a callback object per completion).
/// </summary>
internal sealed class AsyncSignal<T> : IValueTaskSource<T>, IThreadPoolWorkItem
{
    private ManualResetValueTaskSourceCore<T> _core; // continuations run inline, on the pool thread of Execute
    private int _completed;
    private T _value = default!;
    private Exception? _error;

    /// <summary>Re-arms the signal; call only after the previous wait has completed.</summary>
    public void Reset()
    {
        _core.Reset();
        _error = null;
        Volatile.Write(ref _completed, 0);
    }

    public ValueTask<T> WaitAsync() => new(this, _core.Version);

    public bool TrySet(T value)
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0) return false;
        _value = value;
        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        return true;
    }

    public bool TryFail(Exception error)
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0) return false;
        _error = error;
        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        return true;
    }

    void IThreadPoolWorkItem.Execute()
    {
        if (_error is { } error) _core.SetException(error);
        else _core.SetResult(_value);
    }

    T IValueTaskSource<T>.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<T>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<T>.OnCompleted(Action<object?> continuation, object? state, short token,
        ValueTaskSourceOnCompletedFlags flags) => _core.OnCompleted(continuation, state, token, flags);
}
