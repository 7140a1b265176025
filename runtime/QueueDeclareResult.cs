namespace CoolAmqp;

/// <summary>What the broker answered to queue.declare (active or passive).</summary>
/// <param name="QueueName">The queue's name (the broker's choice for an anonymous queue).</param>
/// <param name="MessageCount">Messages ready in the queue (not counting unacknowledged ones).</param>
/// <param name="ConsumerCount">Active consumers of the queue.</param>
public readonly record struct QueueDeclareResult(string QueueName, uint MessageCount, uint ConsumerCount);
