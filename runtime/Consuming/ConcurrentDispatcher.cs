using System;
using System.Threading.Channels;
using System.Threading.Tasks;

namespace CoolAmqp.Consuming;

/// <summary>A callback run for up to <see cref="ConsumerOptions.MaxConcurrency"/> messages at once: as many loops on
/// the thread pool, each taking the next message when its callback is done (so messages may finish out of
/// order).</summary>
internal sealed class ConcurrentDispatcher : Dispatcher
{
    private readonly Channel<ReceivedMessage> _messages = Channel.CreateUnbounded<ReceivedMessage>(
        new UnboundedChannelOptions { SingleWriter = true, AllowSynchronousContinuations = false });

    private readonly CallbackRunner _callbacks;
    private readonly bool _async;

    /// <param name="callbacks">Runs the callback.</param>
    /// <param name="concurrency">How many callbacks at once (at least 2).</param>
    /// <param name="async">Whether the callback is <see cref="ConsumerOptions.OnMessageAsync"/>.</param>
    public ConcurrentDispatcher(CallbackRunner callbacks, int concurrency, bool async)
    {
        _callbacks = callbacks;
        _async = async;
        for (int i = 0; i < concurrency; i++)
        {
            _ = Task.Run(RunAsync);
        }
    }

    /// <inheritdoc/>
    public override bool TryEnqueue(ReceivedMessage message) => _messages.Writer.TryWrite(message);

    /// <inheritdoc/>
    public override void Complete(Exception? failure) => _messages.Writer.TryComplete();

    private async Task RunAsync()
    {
        ChannelReader<ReceivedMessage> reader = _messages.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out ReceivedMessage? message))
            {
                if (_async)
                {
                    await _callbacks.RunAsync(message).ConfigureAwait(false);
                }
                else
                {
                    _callbacks.Run(message);
                }
            }
        }
    }
}
