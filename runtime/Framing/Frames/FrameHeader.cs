namespace CoolAmqp.Framing;

/// <summary>The 7-byte header of a frame (spec 4.2.3): type octet, channel short, payload size long.</summary>
internal readonly struct FrameHeader
{
    /// <summary>The byte count of the encoded header.</summary>
    public const int Length = 7;

    public FrameHeader(FrameType type, ushort channel, uint size)
    {
        Type = type;
        Channel = channel;
        Size = size;
    }

    /// <summary>Method, content header, content body or heartbeat.</summary>
    public FrameType Type { get; }

    /// <summary>The channel; 0 for connection-level methods and heartbeats.</summary>
    public ushort Channel { get; }

    /// <summary>The payload size, without the header and the frame-end octet.</summary>
    public uint Size { get; }

    public override string ToString() => $"{Type} frame, channel {Channel}, {Size} bytes";
}
