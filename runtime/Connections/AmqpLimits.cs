namespace CoolAmqp.Connections;

/// <summary>Protocol limits the connection works with.</summary>
internal static class AmqpLimits
{
    /// <summary>Frames sent before tuning must fit frame-min-size (spec section 4.2.3).</summary>
    public const uint PreTuneFrameMax = 4096;

    /// <summary>Accepted size of inbound frames before tuning; generous, since some brokers send big
    /// server-properties tables in connection.start.</summary>
    public const uint PreTuneInboundFrameMax = 1024 * 1024;

    /// <summary>The frame-max the client answers in tune-ok when the node definition and the broker both ask for no
    /// limit (0): 128 KiB, RabbitMQ's default, so inbound frames are always bounded.</summary>
    public const uint DefaultFrameMax = 128 * 1024;

    /// <summary>The highest channel number AMQP can address.</summary>
    public const ushort MaxChannelNumber = ushort.MaxValue;

    /// <summary>Outbound bytes waiting for the socket above which publishers wait.</summary>
    public const long WriteHighWater = 8L * 1024 * 1024;
}
