namespace CoolAmqp.Channels;

/// <summary>
/// What a synchronous method's response carried, copied out of the receive buffer on the read loop (the
/// method's reader is only valid there). One shape for every response keeps the RPC path non-generic.
/// </summary>
internal readonly struct RpcResponse
{
    /// <summary>Which method answered (class-id &lt;&lt; 16 | method-id).</summary>
    public uint CommandId { get; init; }

    /// <summary>queue.declare-ok's queue name or basic.consume-ok's consumer tag.</summary>
    public string? Name { get; init; }

    /// <summary>Message count of queue.declare-ok, purge-ok, delete-ok and basic.get-ok.</summary>
    public uint MessageCount { get; init; }

    /// <summary>Consumer count of queue.declare-ok.</summary>
    public uint ConsumerCount { get; init; }

    /// <summary>The message of basic.get-ok.</summary>
    public InboundDelivery? Delivery { get; init; }

    /// <summary>Why the message of basic.get-ok was refused (it broke a <see cref="ProtocolLimits"/> limit), or null.</summary>
    public ProtocolLimitExceededException? Refused { get; init; }
}
