namespace CoolAmqp.Extensions.Hosting;

/// <summary>
/// Settings of one hosted consumer, named by its queue: set in code by
/// <see cref="CoolAmqpServiceCollectionExtensions.AddCoolAmqpConsumer{THandler}"/>, and from configuration under
/// <c>Consumers:&lt;queue&gt;</c> of the section given to
/// <see cref="CoolAmqpServiceCollectionExtensions.AddCoolAmqp(Microsoft.Extensions.DependencyInjection.IServiceCollection, Microsoft.Extensions.Configuration.IConfiguration, System.Action{CoolAmqpHostingOptions}?)"/>
/// (e.g. <c>CoolAmqp:Consumers:orders:PrefetchCount</c>). Configuration is applied after the code, so it wins.
/// </summary>
public sealed class CoolAmqpConsumerOptions
{
    /// <summary>basic.qos prefetch-count: at most this many unacknowledged messages in flight to the consumer; 0 for
    /// no limit. Has no effect with <see cref="AutoAck"/>. Default 100.</summary>
    public ushort PrefetchCount { get; set; } = 100;

    /// <summary>How many messages are handled at once. 1 (the default) handles them one by one in the order of
    /// delivery; more handles that many in parallel, without order.</summary>
    public int MaxConcurrency { get; set; } = 1;

    /// <summary>Whether the broker considers a message delivered as soon as it sends it (basic.consume no-ack), so
    /// nothing is acknowledged and a failed handler loses the message. Default <see langword="false"/>: each message is
    /// acknowledged after its handler succeeds.</summary>
    public bool AutoAck { get; set; }

    /// <summary>What to do with a message whose handler threw. Default <see cref="HandlerErrorAction.Reject"/>
    /// (dead-lettered if the queue has a dead-letter exchange, else dropped). Has no effect with
    /// <see cref="AutoAck"/>.</summary>
    public HandlerErrorAction OnHandlerError { get; set; } = HandlerErrorAction.Reject;

    /// <summary>Declare the queue (queue.declare) before consuming, with <see cref="Durable"/>. Default
    /// <see langword="false"/>: the queue must exist (declared by its owner, a definitions file, or the application
    /// through <see cref="Cluster.DeclareAsync(Queue, bool, bool, System.Threading.CancellationToken)"/>).</summary>
    public bool DeclareQueue { get; set; }

    /// <summary>Whether a queue declared by <see cref="DeclareQueue"/> survives a broker restart. Default
    /// <see langword="true"/>.</summary>
    public bool Durable { get; set; } = true;
}
