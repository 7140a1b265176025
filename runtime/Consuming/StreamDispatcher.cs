using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Channels;

namespace CoolAmqp.Consuming;

/// <summary>A consumer the application reads (<see cref="ConsumerOptions.ReadFromConsumer"/>,
/// <see cref="Consumer.ReadAllAsync"/>).</summary>
internal sealed class StreamDispatcher : Dispatcher
{
    private readonly Channel<ReceivedMessage> _messages = Channel.CreateUnbounded<ReceivedMessage>(
        new UnboundedChannelOptions { SingleWriter = true, AllowSynchronousContinuations = false });

    /// <summary>The messages in order; ends when the consumer does (with its failure, if it failed).</summary>
    public IAsyncEnumerable<ReceivedMessage> ReadAllAsync(CancellationToken cancellationToken) =>
        _messages.Reader.ReadAllAsync(cancellationToken);

    /// <inheritdoc/>
    public override bool TryEnqueue(ReceivedMessage message) => _messages.Writer.TryWrite(message);

    /// <inheritdoc/>
    public override void Complete(Exception? failure) => _messages.Writer.TryComplete(failure);
}
