namespace CoolAmqp.Tracing;

/// <summary>Which way a traced frame went.</summary>
public enum FrameDirection
{
    /// <summary>Received from the broker (CoolAMQP's <c>'to_client'</c>).</summary>
    ToClient,

    /// <summary>Sent to the broker (CoolAMQP's <c>'to_server'</c>).</summary>
    ToServer,
}
