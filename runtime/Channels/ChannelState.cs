namespace CoolAmqp.Channels;

/// <summary>The states of one AMQP channel. Only <see cref="AmqpChannel"/>'s transition method changes it.</summary>
internal enum ChannelState
{
    /// <summary>channel.open sent; waiting for open-ok.</summary>
    Opening,

    /// <summary>Usable.</summary>
    Open,

    /// <summary>channel.close sent by us; waiting for close-ok.</summary>
    Closing,

    /// <summary>Closed by us, by the broker (a channel error) or with the connection (terminal).</summary>
    Closed,
}
