using System;
using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;
using CoolAmqp.Channels;
using CoolAmqp.Framing;

namespace CoolAmqp.Connections;

/// <summary>
/// The single outbound path of a connection. Any thread appends whole frames to a pipe under one lock (the
/// synchronous fast path: no await, no flush); one writer loop moves everything appended since its last turn to
/// the socket in as few writes as possible. All frames of one publish are appended under one hold of the lock,
/// so frames of two publishers never interleave.
/// </summary>
/// <remarks>The writer loop is a dedicated thread with blocking writes, not an async loop: every thread-pool hop
/// leaves a worker spinning before it sleeps, which cost more CPU than the writing itself (issue 4).</remarks>
internal sealed class FrameWriter
{
    // Large segments so that a burst of small frames leaves in one socket write (and, later, one TLS record).
    private const int SegmentSize = 64 * 1024;

    // Publishes bigger than one segment are streamed frame by frame across pooled segments: one span of their
    // size would make the pipe rent an oversized array per message (and, with many in flight, allocate one).
    private const int SingleSpanLimit = SegmentSize;

    private readonly object _sync = new();
    private readonly Pipe _pipe;
    private readonly AutoResetSignal _signal = new();
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly long _highWater;
    private readonly long _lowWater;
    private readonly Action<Exception> _onFault;
    private readonly IOutboundFrameObserver? _observer;
    private Stream? _stream;
    private long _buffered;
    private long _committedTotal;
    private long _sentTotal;
    private bool _flushRequested;
    private bool _stopRequested;
    private Exception? _fault;
    private TaskCompletionSource? _drained;
    private long _lastWriteTicks = Environment.TickCount64;

    // A frame appended after the connection was quiet for this long is sent by the appending thread itself
    // (when the socket can take it): a request/response exchange then saves waking the writer thread, while a
    // stream of appends still leaves in the writer thread's coalesced writes.
    private static readonly long QuietTicks = Stopwatch.Frequency / 40_000; // 25 µs
    private const int InlineLimit = 16 * 1024;
    private const int LonePublishLimit = 2 * SegmentSize;

    // The runtime builds the iovec array for Socket.Send(IList) on the stack up to 8 buffers and allocates above.
    private const int GatherLimit = 8;
    private Socket? _socket;

    // Plain TCP only (TLS encrypts through its stream): the sender hands the socket up to GatherLimit segments in
    // one call (sendmsg) instead of a write per segment.
    private Socket? _gatherSocket;
    private readonly List<ArraySegment<byte>> _gather = new(GatherLimit);
    private bool _sending;
    private long _lastAppend;

    // The last frame appended, when it is a basic.ack with multiple set that the sender has not taken yet: a later
    // ack up to a higher tag on the same channel raises its tag instead of adding a frame (see AppendAckLocked).
    private Memory<byte> _lastAck;
    private ushort _lastAckChannel;
    private long _lastAckEnd = -1;

    /// <param name="highWaterBytes">Bytes appended but not yet sent above which publishers wait.</param>
    /// <param name="onFault">Called when writing to the socket fails (writer loop or an inline send), before this
    /// writer refuses frames and fails its waiters: the owner leaves its open state, then fails the writer.</param>
    /// <param name="observer">Sees every appended frame (frame tracing); null when nobody traces.</param>
    public FrameWriter(long highWaterBytes, Action<Exception> onFault, IOutboundFrameObserver? observer)
    {
        _highWater = highWaterBytes;
        _lowWater = highWaterBytes / 2;
        _onFault = onFault;
        _observer = observer;
        // No pipe backpressure: FlushAsync then always completes synchronously, and backpressure is ours
        // (WaitForCapacityAsync), so the I/O loop can always append control frames without waiting.
        // Keep enough segments for everything up to the high-water mark, plus some slack.
        int keep = (int)Math.Min(highWaterBytes / SegmentSize + 8, 1024);
        _pipe = new Pipe(new PipeOptions(
            pool: new SegmentPool(SegmentSize, keep),
            pauseWriterThreshold: 0,
            resumeWriterThreshold: 0,
            minimumSegmentSize: SegmentSize,
            readerScheduler: PipeScheduler.Inline,
            writerScheduler: PipeScheduler.Inline,
            useSynchronizationContext: false));
    }

    /// <summary>Negotiated frame-max; body frames are cut to fit it.</summary>
    public uint FrameMax { get; set; } = AmqpLimits.PreTuneFrameMax;

    /// <summary><see cref="Environment.TickCount64"/> when bytes last left for the socket.</summary>
    public long LastWriteTicks => Volatile.Read(ref _lastWriteTicks);

    /// <summary>Bytes appended and not yet handed to the socket.</summary>
    public long BufferedBytes => Volatile.Read(ref _buffered);

    /// <summary>Bytes handed to the socket since the start (final once the writer failed and its loop stopped).</summary>
    public long SentTotal => Interlocked.Read(ref _sentTotal);

    /// <summary>Whether the writer can no longer send (socket failed or connection broken).</summary>
    public bool IsFaulted => Volatile.Read(ref _fault) is not null;

    /// <summary>Starts the writer thread over <paramref name="stream"/>.</summary>
    /// <param name="stream">Where frames go; written with blocking writes.</param>
    /// <param name="name">Names the thread (for debuggers and profiles).</param>
    /// <param name="socket">The socket under <paramref name="stream"/>, if any: appending threads may then send
    /// directly when the connection was quiet and the socket has room.</param>
    public void Start(Stream stream, string name, Socket? socket = null)
    {
        _stream = stream;
        _socket = socket;
        _gatherSocket = stream is NetworkStream ? socket : null;
        var thread = new Thread(Run) { IsBackground = true, Name = name };
        thread.Start();
    }

    // ---- appending (any thread) ----

    /// <summary>Appends raw bytes (the protocol header).</summary>
    public void WriteRaw(ReadOnlySpan<byte> bytes)
    {
        bool inline;
        lock (_sync)
        {
            ThrowIfFaulted();
            bytes.CopyTo(_pipe.Writer.GetSpan(bytes.Length));
            _pipe.Writer.Advance(bytes.Length);
            CommitLocked(bytes.Length);
            inline = ClaimInlineLocked();
        }

        Kick(inline);
    }

    /// <summary>Appends one method frame on channel 0 or on a channel that is closing (close, close-ok).</summary>
    public void WriteMethod<T>(ushort channel, in T method)
        where T : struct, IAmqpMethod
    {
        // Sizing first, outside the lock: a field that does not fit throws before anything is appended.
        int size = FrameEncoder.MethodFrameSize(in method);
        bool inline;
        lock (_sync)
        {
            ThrowIfFaulted();
            AppendMethodLocked(channel, in method, size);
            inline = ClaimInlineLocked();
        }

        Kick(inline);
    }

    /// <summary>
    /// Appends one method frame for <paramref name="channel"/>, checking under the lock that it may still send:
    /// a channel is sealed under this same lock before its number is freed, so a frame can never land on a
    /// later channel that reuses the number.
    /// </summary>
    /// <exception cref="AmqpException">The broker closed the channel.</exception>
    /// <exception cref="ConnectionDeadException">The channel or the connection is closed.</exception>
    public void WriteMethod<T>(AmqpChannel channel, in T method)
        where T : struct, IAmqpMethod
    {
        int size = FrameEncoder.MethodFrameSize(in method);
        bool inline;
        lock (_sync)
        {
            ThrowIfFaulted();
            if (!channel.Writable)
            {
                throw channel.ClosedException();
            }

            if (typeof(T) == typeof(BasicAck))
            {
                AppendAckLocked(channel.Id, (BasicAck)(object)method, size); // the JIT drops this box: T is BasicAck
            }
            else
            {
                AppendMethodLocked(channel.Id, in method, size);
            }

            inline = ClaimInlineLocked(allowed: !IsSettlement<T>());
        }

        Kick(inline);
    }

    // Frame header (type, channel, size: 7 octets), then class and method ids (4): the delivery tag follows.
    private const int AckTagOffset = FrameHeader.Length + 4;

    /// <summary>
    /// Appends basic.ack. When it has multiple set and the frame appended last is such an ack on the same channel,
    /// still waiting for the sender, that frame's tag is raised instead: acks with multiple set are cumulative, so
    /// an in-order run of acks between two writes leaves as one frame that settles the same tags (fewer frames for
    /// the broker to process). A channel sends multiple only when every tag below is settled (AmqpChannel.Ack).
    /// </summary>
    private void AppendAckLocked(ushort channel, in BasicAck ack, int size)
    {
        // Nothing appended since that ack (the total is where it ended) and not flushed to the sender either
        // (FlushLocked forgets it).
        if (ack.Multiple && _lastAckEnd == _committedTotal && _lastAckChannel == channel)
        {
            BinaryPrimitives.WriteUInt64BigEndian(_lastAck.Span.Slice(AckTagOffset), ack.DeliveryTag);
            return;
        }

        Memory<byte> memory = _pipe.Writer.GetMemory(size);
        int written = FrameEncoder.WriteMethodFrame(memory.Span, channel, in ack);
        _observer?.OnFramesWritten(memory.Span.Slice(0, written));
        _pipe.Writer.Advance(written);
        CommitLocked(written);
        // A tracer has seen the frame as it was: with one, every ack stays a frame of its own.
        if (ack.Multiple && _observer is null)
        {
            _lastAck = memory;
            _lastAckChannel = channel;
            _lastAckEnd = _committedTotal;
        }
    }

    private void AppendMethodLocked<T>(ushort channel, in T method, int size)
        where T : struct, IAmqpMethod
    {
        Span<byte> span = _pipe.Writer.GetSpan(size);
        int written = FrameEncoder.WriteMethodFrame(span, channel, in method);
        _observer?.OnFramesWritten(span.Slice(0, written));
        _pipe.Writer.Advance(written);
        CommitLocked(written);
    }

    /// <summary>Marks <paramref name="channel"/> as no longer writable, under the writer lock (see
    /// <see cref="WriteMethod{T}(AmqpChannel, in T)"/>).</summary>
    public void Seal(AmqpChannel channel)
    {
        lock (_sync)
        {
            channel.Writable = false;
        }
    }

    /// <summary>Appends a heartbeat frame.</summary>
    public void WriteHeartbeat()
    {
        bool inline;
        lock (_sync)
        {
            if (_fault is not null)
            {
                return;
            }

            Span<byte> span = _pipe.Writer.GetSpan(FrameEncoder.Overhead);
            int written = FrameEncoder.WriteHeartbeat(span);
            _observer?.OnFramesWritten(span.Slice(0, written));
            _pipe.Writer.Advance(written);
            CommitLocked(written);
            inline = ClaimInlineLocked();
        }

        Kick(inline);
    }

    /// <summary>
    /// Appends a whole publish (basic.publish, content header, body frames) as one unit.
    /// <paramref name="beforeAppend"/> runs inside the lock right before the frames are appended, so a
    /// confirm sequence number it assigns matches the order of publishes on the wire.
    /// </summary>
    /// <returns>False (nothing appended) when <paramref name="target"/> is no longer writable.</returns>
    public bool TryWritePublish<THook>(AmqpChannel target, in BasicPublish method, in BasicProperties properties,
        ReadOnlySpan<byte> body, ref THook beforeAppend)
        where THook : struct, IPublishHook
    {
        uint frameMax = FrameMax;
        int size = FrameEncoder.PublishSize(in method, in properties, body.Length, frameMax);
        ushort channel = target.Id;
        bool inline;
        lock (_sync)
        {
            ThrowIfFaulted();
            if (!target.Writable)
            {
                return false;
            }

            beforeAppend.BeforeAppend();
            bool alone = _buffered == 0;
            PipeWriter writer = _pipe.Writer;
            if (size <= SingleSpanLimit)
            {
                Span<byte> span = writer.GetSpan(size);
                int written = FrameEncoder.WritePublish(span, channel, in method, in properties, body, frameMax);
                _observer?.OnFramesWritten(span.Slice(0, written));
                writer.Advance(written);
                CommitLocked(written);
            }
            else
            {
                WriteLargePublishLocked(writer, channel, in method, in properties, body, frameMax);
            }

            beforeAppend.AfterAppend(_committedTotal, _sentTotal);

            inline = ClaimInlineLocked(lonePublish: alone && size <= LonePublishLimit);
        }

        Kick(inline);
        return true;
    }

    private void WriteLargePublishLocked(PipeWriter writer, ushort channel, in BasicPublish method,
        in BasicProperties properties, ReadOnlySpan<byte> body, uint frameMax)
    {
        int headSize = FrameEncoder.MethodFrameSize(in method) + FrameEncoder.ContentHeaderFrameSize(in properties);
        Span<byte> span = writer.GetSpan(headSize);
        int written = FrameEncoder.WriteMethodFrame(span, channel, in method);
        written += FrameEncoder.WriteContentHeaderFrame(span.Slice(written), channel, BasicProperties.ClassIndex,
            (ulong)body.Length, in properties);
        _observer?.OnFramesWritten(span.Slice(0, written));
        writer.Advance(written);
        CommitLocked(written);

        int perFrame = FrameEncoder.MaxBodyChunk(frameMax);
        if (_observer is not null)
        {
            // Tracing sees whole frames, so each body frame is written into one span (rare: tracing is on).
            while (!body.IsEmpty)
            {
                ReadOnlySpan<byte> part = body.Slice(0, Math.Min(perFrame, body.Length));
                int partSize = part.Length + FrameEncoder.Overhead;
                span = writer.GetSpan(partSize);
                written = FrameEncoder.WriteBodyFrames(span, channel, part, frameMax);
                _observer.OnFramesWritten(span.Slice(0, written));
                writer.Advance(written);
                CommitLocked(written);
                body = body.Slice(part.Length);
            }

            return;
        }

        // Each body frame: its 7-byte header, the payload copied into whatever pooled segments follow, the end octet.
        while (!body.IsEmpty)
        {
            int length = Math.Min(perFrame, body.Length);
            span = writer.GetSpan(FrameHeader.Length);
            span[0] = (byte)FrameType.Body;
            BinaryPrimitives.WriteUInt16BigEndian(span.Slice(1), channel);
            BinaryPrimitives.WriteUInt32BigEndian(span.Slice(3), (uint)length);
            writer.Advance(FrameHeader.Length);
            ReadOnlySpan<byte> payload = body.Slice(0, length);
            while (!payload.IsEmpty)
            {
                span = writer.GetSpan();
                int n = Math.Min(span.Length, payload.Length);
                payload.Slice(0, n).CopyTo(span);
                writer.Advance(n);
                payload = payload.Slice(n);
            }

            writer.GetSpan(1)[0] = FrameEncoder.FrameEnd;
            writer.Advance(1);
            CommitLocked(length + FrameEncoder.Overhead);
            body = body.Slice(length);
        }
    }

    /// <summary>After an append: whether the appending thread should send it itself (and if so, it now holds the
    /// sender role).</summary>
    /// <param name="allowed">False for frames that are never sent inline.</param>
    /// <param name="lonePublish">The append was one publish of at most <see cref="LonePublishLimit"/> bytes onto an
    /// empty buffer: the thread sends its own message whatever its size (a large request into a quiet connection then
    /// leaves without waking the writer thread), never a backlog. The send starts only when the socket polls writable
    /// (its buffer at most two-thirds full), so it makes progress; a broker that reads slowly holds this thread for the
    /// rest of the message, as it would hold the writer thread, and one that stops reading with the message half sent
    /// holds it until the heartbeat declares the connection dead and the send fails (as it does for any inline send).</param>
    private bool ClaimInlineLocked(bool allowed = true, bool lonePublish = false)
    {
        long now = Stopwatch.GetTimestamp();
        bool quiet = now - _lastAppend >= QuietTicks;
        _lastAppend = now;
        // Only a small amount: a publisher back from waiting for capacity must not end up sending the backlog.
        if (!allowed || !quiet || _sending || _socket is null || _stopRequested || (_buffered > InlineLimit && !lonePublish))
        {
            return false;
        }

        _sending = true;
        return true;
    }

    // Settlements are fire-and-forget and come in bursts from a consumer's thread: sending the first of each burst
    // from that thread cost consume-ack about 2 µs per message (a poll and a send per burst) and bought nothing.
    private static bool IsSettlement<T>() =>
        typeof(T) == typeof(BasicAck) || typeof(T) == typeof(BasicNack) || typeof(T) == typeof(BasicReject);

    private void Kick(bool inline)
    {
        if (inline)
        {
            SendInline();
        }
        else
        {
            _signal.Set();
        }
    }

    /// <summary>Sends what is buffered from the appending thread, if the socket can take it without blocking;
    /// otherwise, and for whatever is appended meanwhile, the writer thread takes over.</summary>
    private void SendInline()
    {
        try
        {
            if (_socket!.Poll(0, SelectMode.SelectWrite))
            {
                lock (_sync)
                {
                    FlushLocked();
                }

                SendFlushed(_stream!);
            }
        }
        catch (Exception ex) when (IsWriteFailure(ex))
        {
            // The append itself succeeded; the failure ends the connection, which fails what is pending.
            OnWriteFailed(ex);
            return;
        }

        bool more;
        lock (_sync)
        {
            _sending = false;
            more = _flushRequested || _stopRequested;
        }

        if (more)
        {
            _signal.Set();
        }
    }

    private static bool IsWriteFailure(Exception ex) =>
        ex is IOException or ObjectDisposedException or SocketException
            or InvalidOperationException or NotSupportedException;

    /// <summary>Writing to the socket failed (writer thread or an inline sender): break the connection, then stop
    /// accepting frames.</summary>
    /// <remarks>In that order: the owner leaves the open state before it fails this writer, so a publish woken by the
    /// fault already sees a connection that is not open and waits for the next one instead of failing. (Failing first
    /// let a woken waiter race the state change.) The owner's break fails the writer itself; the call here is for an
    /// owner that defers its break.</remarks>
    private void OnWriteFailed(Exception ex)
    {
        _onFault(ex);
        Fail(new ConnectionDeadException("Writing to the broker failed: " + ex.Message, ex));
    }

    private void FlushLocked()
    {
        if (!_flushRequested)
        {
            return;
        }

        _flushRequested = false;
        _lastAckEnd = -1;
        // Completes synchronously: the pipe never pauses its writer (pauseWriterThreshold 0).
        ValueTask<FlushResult> flush = _pipe.Writer.FlushAsync();
        Debug.Assert(flush.IsCompleted, "An unpaused pipe flushes synchronously.");
        if (flush.IsCompleted)
        {
            _ = flush.Result;
        }
        else
        {
            _ = flush.AsTask();
        }
    }

    /// <summary>Writes everything flushed into the pipe so far (sender role only).</summary>
    private void SendFlushed(Stream stream)
    {
        PipeReader reader = _pipe.Reader;
        while (reader.TryRead(out ReadResult result))
        {
            ReadOnlySequence<byte> buffer = result.Buffer;
            if (buffer.IsEmpty)
            {
                reader.AdvanceTo(buffer.End);
                break;
            }

            if (_gatherSocket is { } socket && !buffer.IsSingleSegment)
            {
                SendGathered(socket, stream, in buffer);
            }
            else
            {
                foreach (ReadOnlyMemory<byte> segment in buffer)
                {
                    stream.Write(segment.Span);
                }
            }

            long sent = buffer.Length;
            reader.AdvanceTo(buffer.End);
            OnSent(sent);
        }
    }

    private void SendGathered(Socket socket, Stream stream, in ReadOnlySequence<byte> buffer)
    {
        List<ArraySegment<byte>> gather = _gather;
        foreach (ReadOnlyMemory<byte> segment in buffer)
        {
            if (!MemoryMarshal.TryGetArray(segment, out ArraySegment<byte> array))
            {
                // Not array-backed (the pools here always are): in order, by itself.
                SendAll(socket, gather);
                stream.Write(segment.Span);
                continue;
            }

            gather.Add(array);
            if (gather.Count == GatherLimit)
            {
                SendAll(socket, gather);
            }
        }

        SendAll(socket, gather);
    }

    /// <summary>Sends every buffer in <paramref name="gather"/> and empties it.</summary>
    private static void SendAll(Socket socket, List<ArraySegment<byte>> gather)
    {
        while (gather.Count > 0)
        {
            // A blocking socket sends it all unless a send timeout cuts it short: then go on from where it stopped.
            int sent = socket.Send(gather, SocketFlags.None);
            if (sent <= 0)
            {
                throw new IOException("The socket accepted no bytes.");
            }

            while (gather.Count > 0 && sent >= gather[0].Count)
            {
                sent -= gather[0].Count;
                gather.RemoveAt(0);
            }

            if (sent > 0)
            {
                ArraySegment<byte> first = gather[0];
                gather[0] = new ArraySegment<byte>(first.Array!, first.Offset + sent, first.Count - sent);
            }
        }
    }

    private void CommitLocked(int bytes)
    {
        _buffered += bytes;
        _committedTotal += bytes;
        _flushRequested = true;
    }

    private void ThrowIfFaulted()
    {
        if (_fault is { } fault)
        {
            throw fault as ConnectionDeadException ?? new ConnectionDeadException("The connection is closed.", fault);
        }
    }

    // ---- backpressure ----

    /// <summary>Completes when the bytes waiting for the socket fall under the low-water mark (at once if they
    /// are under the high-water mark now).</summary>
    public ValueTask WaitForCapacityAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _buffered) <= _highWater)
        {
            return default;
        }

        return new ValueTask(WaitForDrainAsync(cancellationToken));
    }

    private Task WaitForDrainAsync(CancellationToken cancellationToken)
    {
        TaskCompletionSource drained;
        lock (_sync)
        {
            ThrowIfFaulted();
            if (_buffered <= _highWater)
            {
                return Task.CompletedTask;
            }

            drained = _drained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        return drained.Task.WaitAsync(cancellationToken);
    }

    // ---- the writer loop ----

    private void Run()
    {
        try
        {
            RunLoop();
        }
        catch (Exception ex) when (IsWriteFailure(ex))
        {
            OnWriteFailed(ex);
        }
        finally
        {
            _stopped.TrySetResult();
        }
    }

    private void RunLoop()
    {
        Stream stream = _stream!;
        while (true)
        {
            _signal.Wait();
            bool stop;
            lock (_sync)
            {
                if (_fault is not null)
                {
                    return;
                }

                if (_sending)
                {
                    // An appending thread is sending; it wakes this loop again if it leaves anything behind.
                    continue;
                }

                _sending = true;
                FlushLocked();
                stop = _stopRequested;
            }

            SendFlushed(stream);
            lock (_sync)
            {
                _sending = false;
            }

            if (stop)
            {
                stream.Flush();
                return;
            }
        }
    }

    private void OnSent(long bytes)
    {
        Volatile.Write(ref _lastWriteTicks, Environment.TickCount64);
        TaskCompletionSource? drained = null;
        lock (_sync)
        {
            _buffered -= bytes;
            _sentTotal += bytes;
            if (_drained is not null && _buffered <= _lowWater)
            {
                drained = _drained;
                _drained = null;
            }
        }

        drained?.TrySetResult();
    }

    /// <summary>Sends everything appended so far, then stops the loop (graceful close).</summary>
    public async Task FlushAndStopAsync(TimeSpan timeout)
    {
        lock (_sync)
        {
            if (_fault is not null || _stream is null)
            {
                return;
            }

            _stopRequested = true;
        }

        _signal.Set();
        try
        {
            await _stopped.Task.WaitAsync(timeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // The socket is closed next anyway; nothing more can be done for the unsent bytes.
        }
    }

    /// <summary>Stops accepting frames: later appends throw <paramref name="reason"/>, waiters for capacity fail.</summary>
    public void Fail(Exception reason)
    {
        TaskCompletionSource? drained;
        lock (_sync)
        {
            if (_fault is not null)
            {
                return;
            }

            _fault = reason;
            drained = _drained;
            _drained = null;
        }

        drained?.TrySetException(reason);
        _signal.Set();
    }
}

/// <summary>Sees the bytes of frames as they are appended (for frame tracing).</summary>
internal interface IOutboundFrameObserver
{
    /// <summary>Called under the writer lock with one or more whole frames.</summary>
    void OnFramesWritten(ReadOnlySpan<byte> frames);
}

/// <summary>Runs inside the writer lock right before a publish is appended (assigns confirm sequence numbers).</summary>
internal interface IPublishHook
{
    /// <summary>Called once per publish, under the writer lock, before its frames are appended.</summary>
    void BeforeAppend();

    /// <summary>Called once per publish, under the writer lock, after its frames were appended.</summary>
    /// <param name="committedTotal">Bytes appended since the start, this publish included: where it ends.</param>
    /// <param name="sentTotal">Bytes written to the socket since the start.</param>
    void AfterAppend(long committedTotal, long sentTotal);
}
