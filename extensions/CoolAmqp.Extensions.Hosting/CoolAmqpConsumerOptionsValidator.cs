using Microsoft.Extensions.Options;

namespace CoolAmqp.Extensions.Hosting;

/// <summary>Refuses consumer settings the consumer could not run with, naming the queue.</summary>
internal sealed class CoolAmqpConsumerOptionsValidator : IValidateOptions<CoolAmqpConsumerOptions>
{
    public ValidateOptionsResult Validate(string? name, CoolAmqpConsumerOptions options)
    {
        if (options.MaxConcurrency < 1)
        {
            return ValidateOptionsResult.Fail(
                $"{nameof(CoolAmqpConsumerOptions)}.{nameof(CoolAmqpConsumerOptions.MaxConcurrency)} of the consumer of '{name}' must be at least 1, not {options.MaxConcurrency}.");
        }

        return options.OnHandlerError is HandlerErrorAction.Reject or HandlerErrorAction.Requeue
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(
                $"{nameof(CoolAmqpConsumerOptions)}.{nameof(CoolAmqpConsumerOptions.OnHandlerError)} of the consumer of '{name}' is not a {nameof(HandlerErrorAction)}: {options.OnHandlerError}.");
    }
}
