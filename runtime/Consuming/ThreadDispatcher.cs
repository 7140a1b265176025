using System;
using System.Diagnostics;
using System.Threading;
using CoolAmqp.Channels;
using CoolAmqp.Connections;

namespace CoolAmqp.Consuming;

/// <summary>
/// A synchronous callback (<see cref="ConsumerOptions.OnMessage"/> or <see cref="ConsumerOptions.OnDelivery"/>) with a
/// concurrency of 1. The connection's reading thread runs it at the end of each read batch, with no hand-off at all,
/// while it is quick; once a batch of its callbacks took long enough that another thread took the reading role
/// (<see cref="ReaderHandoff"/>), the consumer gets a thread of its own that sleeps between read batches, so a slow
/// or blocking callback holds up nobody else. Request/response traffic on that thread: see <see cref="OnBatchEnd"/>.
/// </summary>
internal sealed class ThreadDispatcher : Dispatcher, IThreadPoolWorkItem
{
    private const int LoneDeliveryMaxBody = 8 * 1024;

    private static readonly long LoneDeliveryQuietTicks = Stopwatch.Frequency / 33_000; // ~30 µs

    private readonly DeliveryQueue _queue = new();
    private readonly CallbackRunner _callbacks;
    private readonly string _threadName;
    private volatile bool _ownThread; // set once: the callbacks run on the consumer's thread from then on
    private int _draining; // 1 while a thread hands out deliveries (the consumer's, or a pool thread for a lone one)
    private int _batch; // deliveries queued in the current read batch (read loop only)
    private bool _batchLarge; // a delivery of the current read batch had a large body (read loop only)
    private long _lastBatchEnd; // Stopwatch timestamp of the last read batch with deliveries (read loop only)
    private int _loneStreak; // read batches in a row that were a lone delivery after a quiet spell (read loop only)

    /// <param name="callbacks">Runs the callback.</param>
    /// <param name="queueName">Names the thread.</param>
    public ThreadDispatcher(CallbackRunner callbacks, string queueName)
    {
        _callbacks = callbacks;
        _threadName = "CoolAmqp consumer " + queueName;
    }

    /// <inheritdoc/>
    public override bool TryEnqueue(ReceivedMessage message)
    {
        _batch++;
        _batchLarge |= message.Body.Length > LoneDeliveryMaxBody;
        return _queue.TryEnqueue(message);
    }

    /// <inheritdoc/>
    public override bool TryEnqueue(DeliveryRecord record, long token)
    {
        _batch++;
        _batchLarge |= record.BodyLength > LoneDeliveryMaxBody;
        return _queue.TryEnqueue(record, token);
    }

    /// <inheritdoc/>
    public override void OnBatchEnd(ReaderHandoff? reading, long turn)
    {
        if (!_ownThread && reading is not null)
        {
            _batch = 0;
            _batchLarge = false;
            // Unwatched when this thread lost the reading role in an earlier callback and only finishes its batch:
            // not a reader any more, it may take its time.
            bool watched = reading.TryBeginCallbacks(turn, out long begun);
            Drain();
            if (watched && !reading.EndCallbacks(begun))
            {
                // These callbacks held the reader long enough to be taken off it: from now on they run on a thread
                // of the consumer's own, as a slow callback should.
                _ownThread = true;
                new Thread(Run) { IsBackground = true, Name = _threadName }.Start();
            }

            return;
        }

        int batch = _batch;
        _batch = 0;
        long now = Stopwatch.GetTimestamp();
        bool lone = batch == 1 && !_batchLarge && now - _lastBatchEnd >= LoneDeliveryQuietTicks;
        _batchLarge = false;
        _lastBatchEnd = now;
        _loneStreak = lone ? _loneStreak + 1 : 0;
        if (_loneStreak >= 4 && Volatile.Read(ref _draining) == 0)
        {
            // Lone deliveries after quiet spells, several in a row (request/response traffic): a pool thread, likely
            // still spinning from its last work, picks each up sooner than the consumer's sleeping thread wakes up
            // (round trip p50 about 0.7x of waking the thread). Streams go to that thread, which costs no spinning:
            // a stream has the odd lone delivery, and handing each to the pool cost consume-ack 16 B a third more
            // CPU per message; four in a row cost nothing measurable. Large bodies never: a stream of 64 KiB
            // messages arrives one per read, after a pause for the transfer, and looked like requests (about one
            // pool hop per four messages).
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
        else
        {
            _queue.Flush();
        }
    }

    /// <inheritdoc/>
    public override void Complete(Exception? failure)
    {
        _queue.Complete();
        if (!_ownThread)
        {
            // No thread of its own to hand out what is left: a pool thread does (the reader may be gone).
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    void IThreadPoolWorkItem.Execute() => Drain();

    private void Run()
    {
        DeliveryQueue queue = _queue;
        while (true)
        {
            Drain();
            if (queue.IsCompleted && queue.IsEmpty)
            {
                return;
            }

            queue.Wait();
        }
    }

    /// <summary>Runs the callback for everything queued; only one thread at a time (the consumer's thread or, for a
    /// lone delivery, a pool thread) holds the role, so the order of delivery is kept.</summary>
    private void Drain()
    {
        DeliveryQueue queue = _queue;
        while (Interlocked.CompareExchange(ref _draining, 1, 0) == 0)
        {
            while (queue.TryDequeue(out QueuedDelivery item))
            {
                if (item.Record is { } record)
                {
                    _callbacks.Run(record, item.Token);
                }
                else
                {
                    _callbacks.Run(item.Message!);
                }
            }

            Volatile.Write(ref _draining, 0);

            // A delivery queued after the last dequeue but before the release was left by whoever saw the role
            // taken: take it back.
            if (queue.IsEmpty)
            {
                return;
            }
        }
    }
}
