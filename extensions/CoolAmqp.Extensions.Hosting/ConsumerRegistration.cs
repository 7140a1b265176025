using System;

namespace CoolAmqp.Extensions.Hosting;

/// <summary>A hosted consumer, as registered: its queue (also the name of its <see cref="CoolAmqpConsumerOptions"/>)
/// and its handler type, resolved from each message's scope.</summary>
internal sealed class ConsumerRegistration
{
    public ConsumerRegistration(string queue, Type handlerType)
    {
        Queue = queue;
        HandlerType = handlerType;
    }

    public string Queue { get; }

    public Type HandlerType { get; }
}
