using System;
using System.Diagnostics;
using System.Threading;

namespace CoolAmqp.Connections;

/// <summary>
/// Lets the connection's reading thread run quick consumer callbacks itself, and hands the reading role to a standby
/// thread when one runs long: the read loop then goes on (heartbeats, confirms, replies, other consumers) while the
/// callback finishes on the thread it started on, which ends once it has finished its batch.
/// </summary>
/// <remarks>
/// <para>The reader brackets the callbacks it runs with <see cref="TryBeginCallbacks"/> and
/// <see cref="EndCallbacks"/>. The standby looks once a millisecond while callbacks run, and takes the role when the
/// reader has been in them for <see cref="TakeoverAfter"/>; after 50 looks without callbacks it sleeps until the next
/// callbacks wake it (one wake-up per busy spell, not per batch; a connection whose consumers all have threads of
/// their own never wakes it). A takeover starts a new standby, so a second
/// callback that blocks is covered too; a thread that comes back from a callback after losing the role ends.</para>
/// <para><see cref="Turn"/> counts takeovers: a consumer whose callbacks caused one hands its messages to a thread of
/// its own from then on.</para>
/// </remarks>
internal sealed class ReaderHandoff
{
    /// <summary>How long the reader may stay in callbacks before the standby takes the role.</summary>
    public static readonly TimeSpan TakeoverAfter = TimeSpan.FromMilliseconds(2);

    private const int ParkAfterIdlePolls = 50;

    private static readonly long TakeoverTicks = (long)(TakeoverAfter.TotalSeconds * Stopwatch.Frequency);

    private readonly Func<bool> _read;
    private readonly string _threadName;
    private readonly AutoResetSignal _wake = new();

    // Bit 0: the reader is in callbacks; the bits above: the turn (takeovers so far).
    private long _state;
    private long _callbacksSince;
    private int _parked;
    private volatile bool _stopped;

    /// <param name="read">Reads until the connection ends (returns true) or the role is taken (returns false); run
    /// by whichever thread holds the role.</param>
    /// <param name="threadName">Names the threads.</param>
    public ReaderHandoff(Func<bool> read, string threadName)
    {
        _read = read;
        _threadName = threadName;
    }

    /// <summary>Takeovers so far.</summary>
    public long Turn => Volatile.Read(ref _state) >> 1;

    /// <summary>Starts reading on a thread of its own, with a standby beside it.</summary>
    public void Start()
    {
        StartThread(reading: true);
        StartThread(reading: false);
    }

    /// <summary>Callbacks of a batch read in <paramref name="turn"/> start: true when the calling thread holds the
    /// reading role (it must call <see cref="EndCallbacks"/> with <paramref name="begun"/>); false when it lost the role
    /// since (it finishes an old batch after a hand-over), and then it is not watched.</summary>
    public bool TryBeginCallbacks(long turn, out long begun)
    {
        Volatile.Write(ref _callbacksSince, Stopwatch.GetTimestamp());
        begun = (turn << 1) | 1;

        // A full fence between this write and the read of _parked (the standby writes _parked, then reads _state).
        if (Interlocked.CompareExchange(ref _state, begun, turn << 1) != turn << 1)
        {
            return false;
        }

        if (Volatile.Read(ref _parked) == 1)
        {
            _wake.Set();
        }

        return true;
    }

    /// <summary>Callbacks ended. False when the standby took the role meanwhile: the caller must stop reading once it
    /// has finished its batch.</summary>
    public bool EndCallbacks(long begun) => Interlocked.CompareExchange(ref _state, begun & ~1L, begun) == begun;

    /// <summary>The connection ended: the standby ends too.</summary>
    public void Stop()
    {
        _stopped = true;
        _wake.Set();
    }

    private void StartThread(bool reading) =>
        new Thread(Run) { IsBackground = true, Name = _threadName }.Start(reading);

    private void Run(object? startReading)
    {
        // A thread that loses the role (it ran a callback that took long) just ends: the thread that took the role
        // started a standby already.
        if (((bool)startReading! || StandBy()) && _read())
        {
            Stop();
        }
    }

    /// <summary>Watches the reader; true once this thread has taken the role, false when the connection ended.</summary>
    private bool StandBy()
    {
        int idlePolls = 0;
        while (!_stopped)
        {
            long state = Volatile.Read(ref _state);
            if ((state & 1) != 0)
            {
                idlePolls = 0;
                if (Stopwatch.GetTimestamp() - Volatile.Read(ref _callbacksSince) >= TakeoverTicks &&
                    Interlocked.CompareExchange(ref _state, state + 1, state) == state)
                {
                    // state + 1 clears the bit and counts the turn. Someone must watch the new reader.
                    StartThread(reading: false);
                    return true;
                }
            }
            else if (++idlePolls >= ParkAfterIdlePolls)
            {
                idlePolls = 0;
                Interlocked.Exchange(ref _parked, 1);
                if ((Volatile.Read(ref _state) & 1) == 0 && !_stopped)
                {
                    _wake.Wait();
                }

                Volatile.Write(ref _parked, 0);
                continue;
            }

            Thread.Sleep(1);
        }

        return false;
    }
}
