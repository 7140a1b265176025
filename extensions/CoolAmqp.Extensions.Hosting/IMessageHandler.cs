using System.Threading;
using System.Threading.Tasks;

namespace CoolAmqp.Extensions.Hosting;

/// <summary>
/// Handles the messages of a hosted consumer (registered with
/// <see cref="CoolAmqpServiceCollectionExtensions.AddCoolAmqpConsumer{THandler}"/>). A new dependency-injection scope
/// is created for each message and the handler is resolved from it, so a handler and the scoped services it uses
/// live for one message.
/// </summary>
/// <remarks>
/// How the message is settled (unless the consumer is <see cref="CoolAmqpConsumerOptions.AutoAck"/>): acknowledged
/// when <see cref="HandleAsync"/> completes; on an exception, as <see cref="CoolAmqpConsumerOptions.OnHandlerError"/>
/// says; left unsettled (so the broker requeues it when the consumer's channel closes) when the handler fails after
/// its token fired. A handler may settle the message itself (<see cref="ReceivedMessage.Ack"/>, <c>Nack</c>,
/// <c>Reject</c>); then nothing more is sent.
/// </remarks>
public interface IMessageHandler
{
    /// <summary>Handles one message.</summary>
    /// <param name="message">The message. Its body is valid until the handler returns.</param>
    /// <param name="cancellationToken">Fires when the host stops (or the consumer is cancelled): pass it to what the
    /// handler awaits, so that shutdown does not wait for slow work.</param>
    /// <returns>A task that completes when the message has been handled.</returns>
    Task HandleAsync(ReceivedMessage message, CancellationToken cancellationToken);
}
