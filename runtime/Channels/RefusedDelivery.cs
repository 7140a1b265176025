namespace CoolAmqp.Channels;

/// <summary>A basic.deliver refused for breaking a <see cref="ProtocolLimits"/> limit (read loop to consumer).</summary>
/// <param name="ConsumerTag">The consumer it was for.</param>
/// <param name="DeliveryTag">Its delivery tag on the channel.</param>
/// <param name="Redelivered">Whether the broker had delivered it before.</param>
/// <param name="Exchange">The exchange it was published to.</param>
/// <param name="RoutingKey">Its routing key.</param>
/// <param name="Rejected">Whether basic.reject (requeue false) was sent for it.</param>
/// <param name="Error">Which limit, and what happened to the message.</param>
internal sealed record RefusedDelivery(string ConsumerTag, ulong DeliveryTag, bool Redelivered, string Exchange,
    string RoutingKey, bool Rejected, ProtocolLimitExceededException Error);
