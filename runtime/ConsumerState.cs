namespace CoolAmqp;

/// <summary>Where a <see cref="Consumer"/> is in its life (CoolAMQP's <c>ST_OFFLINE</c>, <c>ST_SYNCING</c>,
/// <c>ST_ONLINE</c>, plus the terminal state after a cancel).</summary>
public enum ConsumerState
{
    /// <summary>Not consuming: waiting for a connection, or between attempts.</summary>
    Offline,

    /// <summary>Opening its channel, setting QoS, declaring its queue and registering with the broker.</summary>
    Syncing,

    /// <summary>Registered (basic.consume-ok received): messages flow.</summary>
    Online,

    /// <summary>Offline for good: cancelled by the application, by the broker, or after a failure it does not
    /// retry.</summary>
    Cancelled,
}
