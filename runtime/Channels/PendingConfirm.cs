using System;
using System.Collections.Concurrent;
using System.Threading;
using System.Threading.Tasks;
using System.Threading.Tasks.Sources;
using CoolAmqp.Connections;

namespace CoolAmqp.Channels;

/// <summary>
/// The completion of one publish with confirms: what <c>PublishAsync</c>'s ValueTask waits on. Pooled, so a
/// confirmed publish allocates nothing in steady state. Two parties hold it — the tracker until the broker
/// answers, the awaiter until it read the result — and it goes back to the pool when both let go.
/// </summary>
internal sealed class PendingConfirm : IValueTaskSource
{
    private const int MaxPooled = 4096;
    private static readonly ConcurrentQueue<PendingConfirm> Pool = new();
    private static int _pooled;

    private static readonly Action<object?> PostContinuation = static self => ((PendingConfirm)self!).Post();

    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };
    private ContinuationThread? _continuations;
    private Action<object?>? _continuation;
    private object? _continuationState;
    private ExecutionContext? _continuationContext;
    private int _completed;
    private int _holders;
    private CancellationTokenRegistration _cancellation;

    private PendingConfirm()
    {
    }

    /// <summary>Sequence number on the channel (the broker's delivery tag for confirms).</summary>
    public ulong Sequence { get; set; }

    /// <summary>When it was appended (<see cref="System.Diagnostics.Stopwatch.GetTimestamp"/>), for the publish-to-confirm
    /// latency metric; 0 when nobody measures it.</summary>
    public long StartTimestamp { get; set; }

    /// <summary>Exchange published to (a basic.return names it).</summary>
    public string Exchange { get; private set; } = string.Empty;

    /// <summary>Routing key published with.</summary>
    public string RoutingKey { get; private set; } = string.Empty;

    /// <summary>Whether the publish was mandatory (only those can come back).</summary>
    public bool Mandatory { get; private set; }

    /// <summary>The published message, kept for a mandatory publish (when the order of frames cannot tell which of
    /// two such publishes a basic.return belongs to, their content can: see <see cref="ConfirmTracker"/>) and for one
    /// that may be published again after a lost connection (<see cref="RecoveryOptions.RepublishUnconfirmed"/>).</summary>
    public Message? Message { get; private set; }

    /// <summary>Whether the outcome is set (confirmed, failed or cancelled).</summary>
    public bool IsCompleted => Volatile.Read(ref _completed) != 0;

    /// <summary>A cleared instance, held by both parties.</summary>
    /// <param name="message">The message published.</param>
    /// <param name="exchange">Exchange published to.</param>
    /// <param name="routingKey">Routing key published with.</param>
    /// <param name="mandatory">Whether the publish is mandatory.</param>
    /// <param name="republishable">Whether it may be published again after a lost connection (the message is kept).</param>
    /// <param name="continuations">Where the awaiter's continuation runs (null: the thread pool).</param>
    public static PendingConfirm Rent(Message message, string exchange, string routingKey, bool mandatory,
        bool republishable = false, ContinuationThread? continuations = null)
    {
        if (Pool.TryDequeue(out PendingConfirm? pending))
        {
            Interlocked.Decrement(ref _pooled);
        }
        else
        {
            pending = new PendingConfirm();
        }

        pending.Exchange = exchange;
        pending.RoutingKey = routingKey;
        pending.Mandatory = mandatory;
        pending.Message = mandatory || republishable ? message : null;
        pending._continuations = continuations;
        pending._completed = 0;
        pending._holders = 2;
        return pending;
    }

    /// <summary>The task the publisher hands out; cancelling <paramref name="cancellationToken"/> fails it (the
    /// message may still be confirmed by the broker later, which is then ignored).</summary>
    public ValueTask AsValueTask(CancellationToken cancellationToken)
    {
        short version = _core.Version;
        if (cancellationToken.CanBeCanceled)
        {
            _cancellation = cancellationToken.UnsafeRegister(static (state, token) =>
                ((PendingConfirm)state!).TryFail(new OperationCanceledException(token)), this);
        }

        return new ValueTask(this, version);
    }

    /// <summary>The broker confirmed the message.</summary>
    public void TrySucceed()
    {
        if (Interlocked.Exchange(ref _completed, 1) == 0)
        {
            _core.SetResult(true);
        }
    }

    /// <summary>The publish failed (nack, return, channel or connection closed, cancelled).</summary>
    public void TryFail(Exception error)
    {
        if (Interlocked.Exchange(ref _completed, 1) == 0)
        {
            _core.SetException(error);
        }
    }

    /// <summary>Back to the pool without ever having been handed out (the publish was not appended).</summary>
    public void ReturnUnused()
    {
        _holders = 1;
        Release();
    }

    /// <summary>The tracker is done with this publish.</summary>
    public void ReleaseByTracker() => Release();

    void IValueTaskSource.GetResult(short token)
    {
        // Disposing waits for a running cancellation callback, so none can touch a recycled instance.
        _cancellation.Dispose();
        _cancellation = default;
        try
        {
            _core.GetResult(token);
        }
        finally
        {
            Release();
        }
    }

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token,
        ValueTaskSourceOnCompletedFlags flags)
    {
        if (_continuations is null ||
            ((flags & ValueTaskSourceOnCompletedFlags.UseSchedulingContext) != 0 && HasSchedulingContext()))
        {
            // A synchronization context or task scheduler of the caller's runs it; otherwise the thread pool.
            _core.RunContinuationsAsynchronously = true;
            _core.OnCompleted(continuation, state, token, flags);
            return;
        }

        // The core calls PostContinuation on the completing thread (the read loop), which hands the continuation
        // to the connection's continuation thread: no pool worker wakes (and spins) per batch of confirms.
        _continuation = continuation;
        _continuationState = state;
        _continuationContext = (flags & ValueTaskSourceOnCompletedFlags.FlowExecutionContext) != 0
            ? ExecutionContext.Capture()
            : null;
        _core.RunContinuationsAsynchronously = false;
        _core.OnCompleted(PostContinuation, this, token, ValueTaskSourceOnCompletedFlags.None);
    }

    private static bool HasSchedulingContext() =>
        SynchronizationContext.Current is { } context && context.GetType() != typeof(SynchronizationContext) ||
        TaskScheduler.Current != TaskScheduler.Default;

    private void Post()
    {
        ContinuationThread continuations = _continuations!;
        Action<object?> continuation = _continuation!;
        object? state = _continuationState;
        ExecutionContext? context = _continuationContext;
        _continuation = null;
        _continuationState = null;
        _continuationContext = null;
        continuations.Post(continuation, state, context);
    }

    private void Release()
    {
        if (Interlocked.Decrement(ref _holders) != 0)
        {
            return;
        }

        _core.Reset();
        Message = null;
        _continuations = null;
        if (Interlocked.Increment(ref _pooled) <= MaxPooled)
        {
            Pool.Enqueue(this);
        }
        else
        {
            Interlocked.Decrement(ref _pooled);
        }
    }
}
