using System;

namespace CoolAmqp.Tracing;

/// <summary>
/// Sees every frame a connection sends or receives (CoolAMQP's <c>BaseFrameTracer</c>); pass one to the cluster
/// to log or record traffic.
/// </summary>
/// <remarks>
/// Called on the connection's I/O threads, possibly from the reading and the writing side at once, so an
/// implementation must be thread-safe, fast and must not throw. The frame's payload is a view into the
/// connection's buffer, valid only during the call: copy what you keep (as <see cref="HoldingFrameTracer"/> does).
/// Frames of <c>connection.start-ok</c> and <c>connection.secure-ok</c> carry the SASL response, i.e. the
/// password: never log their payload raw (<see cref="AmqpFrame.Describe"/> redacts it).
/// </remarks>
public interface IFrameTracer
{
    /// <summary>Called once per frame sent or received.</summary>
    /// <param name="timestamp">When the frame was sent or received.</param>
    /// <param name="frame">The frame; its payload is valid only during this call.</param>
    /// <param name="direction">Whether the frame was received or sent.</param>
    void OnFrame(DateTimeOffset timestamp, in AmqpFrame frame, FrameDirection direction);
}
