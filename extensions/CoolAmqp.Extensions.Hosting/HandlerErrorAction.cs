namespace CoolAmqp.Extensions.Hosting;

/// <summary>What a hosted consumer does with a message whose <see cref="IMessageHandler.HandleAsync"/> threw (see
/// <see cref="CoolAmqpConsumerOptions.OnHandlerError"/>). The exception is logged either way; it does not stop the
/// consumer.</summary>
public enum HandlerErrorAction
{
    /// <summary>Reject it without requeue (<c>basic.reject</c>, requeue false): the broker dead-letters it if the
    /// queue has a dead-letter exchange, and drops it otherwise. A failing message is not retried in a loop.</summary>
    Reject = 0,

    /// <summary>Put it back in the queue (<c>basic.reject</c>, requeue true): it is delivered again, with
    /// <see cref="ReceivedMessage.Redelivered"/> set, possibly at once; a message that always fails loops.</summary>
    Requeue = 1,
}
