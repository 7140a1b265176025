using System;
using System.Threading.Tasks;
using CoolAmqp.Connections;

namespace CoolAmqp.Consuming;

/// <summary><see cref="ConsumerOptions.OnMessageAsync"/> with a concurrency of 1: one loop on the thread pool awaits
/// each callback before the next, so messages are handled in order of delivery.</summary>
internal sealed class OrderedAsyncDispatcher : Dispatcher
{
    private readonly DeliveryQueue _queue = new();
    private readonly CallbackRunner _callbacks;

    /// <param name="callbacks">Runs the callback.</param>
    public OrderedAsyncDispatcher(CallbackRunner callbacks)
    {
        _callbacks = callbacks;
        _ = Task.Run(RunAsync);
    }

    /// <inheritdoc/>
    public override bool TryEnqueue(ReceivedMessage message) => _queue.TryEnqueue(message);

    /// <inheritdoc/>
    public override void OnBatchEnd(ReaderHandoff? reading, long turn) => _queue.Flush();

    /// <inheritdoc/>
    public override void Complete(Exception? failure) => _queue.Complete();

    private async Task RunAsync()
    {
        DeliveryQueue queue = _queue;
        while (true)
        {
            while (queue.TryDequeue(out QueuedDelivery item))
            {
                await _callbacks.RunAsync(item.Message!).ConfigureAwait(false);
            }

            if (queue.IsCompleted)
            {
                // Like a completed channel: what was queued before completion is still handed out.
                while (queue.TryDequeue(out QueuedDelivery late))
                {
                    await _callbacks.RunAsync(late.Message!).ConfigureAwait(false);
                }

                return;
            }

            await queue.WaitAsync().ConfigureAwait(false);
        }
    }
}
