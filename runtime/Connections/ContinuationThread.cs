using System;
using System.Threading;

namespace CoolAmqp.Connections;

/// <summary>
/// A thread of a connection's own that runs the continuations of the tasks the read loop completes (publisher
/// confirms), instead of a thread-pool worker. A pool worker spins for a while each time it runs out of work; with one
/// hop per batch of confirms that spinning was half the client's CPU in the publish-confirm bench, and took the
/// broker's CPU on a small machine (issue 12). This thread blocks without spinning.
/// </summary>
/// <remarks>It takes one continuation at a time, and only while it is idle: a continuation posted while it is running
/// another (or after it stopped) goes to the thread pool. So a continuation that blocks (say, a sync-over-async wait
/// for another confirm) never holds up the ones after it, and cannot deadlock them.</remarks>
internal sealed class ContinuationThread
{
    private const int Busy = 0;
    private const int Idle = 1;
    private const int Stopped = 2;

    private readonly AutoResetSignal _signal = new();
    private readonly string _name;
    private int _state = Busy;
    private bool _started;
    private bool _stopRequested;
    private Action<object?>? _continuation;
    private object? _continuationState;
    private ExecutionContext? _context;

    /// <param name="name">Names the thread (for debuggers and profiles).</param>
    public ContinuationThread(string name)
    {
        _name = name;
    }

    /// <summary>Whether the thread waits for a continuation (the next post runs on it).</summary>
    public bool IsIdle => Volatile.Read(ref _state) == Idle;

    /// <summary>Starts the thread (once).</summary>
    public void Start()
    {
        if (_started)
        {
            return;
        }

        _started = true;
        new Thread(RunLoop) { IsBackground = true, Name = _name }.Start();
    }

    /// <summary>Runs <paramref name="continuation"/> on this thread if it is idle, else on the thread pool; never on
    /// the calling thread.</summary>
    /// <param name="continuation">What to run.</param>
    /// <param name="state">Its argument.</param>
    /// <param name="context">The execution context to run it in; null to run it in none (an <c>await</c> restores
    /// its own).</param>
    public void Post(Action<object?> continuation, object? state, ExecutionContext? context)
    {
        if (Interlocked.CompareExchange(ref _state, Busy, Idle) == Idle)
        {
            _continuation = continuation;
            _continuationState = state;
            _context = context;
            _signal.Set();
            return;
        }

        QueueToPool(continuation, state, context);
    }

    /// <summary>Stops the thread once it is idle; later posts go to the thread pool.</summary>
    public void Stop()
    {
        Volatile.Write(ref _stopRequested, true);
        if (Interlocked.CompareExchange(ref _state, Stopped, Idle) == Idle)
        {
            _signal.Set();
        }
    }

    /// <summary>Queues to the thread pool, in <paramref name="context"/> if there is one.</summary>
    public static void QueueToPool(Action<object?> continuation, object? state, ExecutionContext? context)
    {
        if (context is null)
        {
            ThreadPool.UnsafeQueueUserWorkItem(continuation, state, preferLocal: false);
            return;
        }

        // Rare (an awaiter that asked for its context to flow): the allocation is allowed here.
        ThreadPool.UnsafeQueueUserWorkItem(static bound => bound.Run(), new ContextBound(continuation, state, context),
            preferLocal: false);
    }

    private void RunLoop()
    {
        while (true)
        {
            Volatile.Write(ref _state, Idle);
            if (Volatile.Read(ref _stopRequested) && Interlocked.CompareExchange(ref _state, Stopped, Idle) == Idle)
            {
                return;
            }

            _signal.Wait();
            if (Volatile.Read(ref _state) == Stopped)
            {
                return;
            }

            Action<object?> continuation = _continuation!;
            object? state = _continuationState;
            ExecutionContext? context = _context;
            _continuation = null;
            _continuationState = null;
            _context = null;
            if (context is null)
            {
                continuation(state);
            }
            else
            {
                new ContextBound(continuation, state, context).Run();
            }
        }
    }

    /// <summary>A continuation to run in a captured execution context.</summary>
    private sealed class ContextBound(Action<object?> continuation, object? state, ExecutionContext context)
    {
        public void Run() => ExecutionContext.Run(context, static self => ((ContextBound)self!).Invoke(), this);

        private void Invoke() => continuation(state);
    }
}
