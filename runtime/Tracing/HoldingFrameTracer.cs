using System;
using System.Collections.Generic;
using CoolAmqp.Framing;

namespace CoolAmqp.Tracing;

/// <summary>One frame recorded by <see cref="HoldingFrameTracer"/>, with a copy of its payload.</summary>
/// <param name="Direction">Whether the frame was received or sent.</param>
/// <param name="Timestamp">When it was received or sent.</param>
/// <param name="Channel">Its channel number.</param>
/// <param name="Type">Its frame type.</param>
/// <param name="CommandId">For a method frame, <c>class-id &lt;&lt; 16 | method-id</c>; 0 otherwise.</param>
/// <param name="MethodName">For a method frame, the method's name, e.g. <c>basic.publish</c>; otherwise <see langword="null"/>.</param>
/// <param name="Payload">A copy of the frame payload, with the secret of <c>connection.start-ok</c>, <c>connection.secure-ok</c>
/// and <c>connection.update-secret</c> (password, SASL response, token) overwritten with <c>*</c> bytes of the same length.</param>
public sealed record TracedFrame(
    FrameDirection Direction,
    DateTimeOffset Timestamp,
    ushort Channel,
    FrameType Type,
    uint CommandId,
    string? MethodName,
    byte[] Payload)
{
    /// <summary>The same one-line description as <see cref="AmqpFrame.Describe"/> (secrets redacted).</summary>
    /// <returns>The description.</returns>
    public string Describe() => new AmqpFrame(Channel, Type, Payload).Describe();
}

/// <summary>
/// Keeps every frame in memory (CoolAMQP's <c>HoldingFrameTracer</c>): for tests and debugging. Thread-safe.
/// </summary>
/// <remarks>Payloads are copied as they are, so a held <c>connection.start-ok</c> contains the SASL password;
/// use <see cref="TracedFrame.Describe"/> to print frames.</remarks>
public sealed class HoldingFrameTracer : IFrameTracer
{
    private readonly object _gate = new();
    private readonly Queue<TracedFrame> _frames = new();
    private readonly int _maxFrames;

    /// <summary>Creates a tracer that keeps up to <paramref name="maxFrames"/> frames, dropping the oldest beyond that.</summary>
    /// <param name="maxFrames">How many frames to keep; default unbounded (<see cref="int.MaxValue"/>).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxFrames"/> is less than 1.</exception>
    public HoldingFrameTracer(int maxFrames = int.MaxValue)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxFrames, 1);
        _maxFrames = maxFrames;
    }

    /// <summary>A snapshot of the held frames, oldest first.</summary>
    public IReadOnlyList<TracedFrame> Frames
    {
        get
        {
            lock (_gate)
            {
                return _frames.ToArray();
            }
        }
    }

    /// <summary>How many frames are held.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _frames.Count;
            }
        }
    }

    /// <inheritdoc/>
    public void OnFrame(DateTimeOffset timestamp, in AmqpFrame frame, FrameDirection direction)
    {
        var traced = new TracedFrame(direction, timestamp, frame.Channel, frame.Type, frame.CommandId, frame.MethodName, frame.PayloadWithoutSecrets());
        lock (_gate)
        {
            if (_frames.Count == _maxFrames)
            {
                _frames.Dequeue();
            }

            _frames.Enqueue(traced);
        }
    }

    /// <summary>Forgets all held frames.</summary>
    public void Clear()
    {
        lock (_gate)
        {
            _frames.Clear();
        }
    }
}
