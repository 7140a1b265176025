namespace CoolAmqp;

/// <summary>How a consumer receives message bodies (CoolAMQP's <c>body_receive_mode</c>).</summary>
public enum BodyReceiveMode
{
    /// <summary>Each message owns a fresh array holding its body and raw properties; valid forever. The default.</summary>
    Copied,

    /// <summary>Bodies live in buffers rented from <see cref="System.Buffers.ArrayPool{T}.Shared"/> and go back
    /// when the message is settled or disposed: no allocation per message for the body, but the body must be
    /// read before settling (see <see cref="ReceivedMessage"/>).</summary>
    Pooled,
}
