using System.Collections.Generic;
using System.Threading;
using CoolAmqp.Channels;

namespace CoolAmqp.Connections;

/// <summary>
/// The channels that completed deliveries in one read batch: each hears <see cref="AmqpChannel.FlushDeliveries"/>
/// once the batch is parsed, so a consumer's dispatcher is woken (or runs its callbacks) once per batch, not per
/// message.
/// </summary>
/// <remarks>The reader fills it and flushes it. When the reading role is taken while the reader is in a callback of
/// the batch, the new reader flushes the channels the old one had not reached, so two threads may flush one batch:
/// each channel is claimed once.</remarks>
internal sealed class DeliveryBatch
{
    private static int s_lastStamp;

    private readonly List<AmqpChannel> _channels = new();
    private int _next;

    /// <summary>A batch with a new <see cref="Stamp"/>.</summary>
    /// <param name="turn">The reading turn it is read in.</param>
    public DeliveryBatch(long turn)
    {
        Stamp = Interlocked.Increment(ref s_lastStamp);
        Turn = turn;
    }

    /// <summary>The reading turn (<see cref="ReaderHandoff.Turn"/>) the batch was read in.</summary>
    public long Turn { get; }

    /// <summary>Identifies this batch's current contents: a channel is added once per stamp.</summary>
    public int Stamp { get; private set; }

    /// <summary>How many channels are in the batch.</summary>
    public int Count => _channels.Count;

    /// <summary>Reader: <paramref name="channel"/> completed a delivery (once per <see cref="Stamp"/>).</summary>
    public void Add(AmqpChannel channel) => _channels.Add(channel);

    /// <summary>Flushes every channel not yet claimed by another thread.</summary>
    public void Flush()
    {
        List<AmqpChannel> channels = _channels;
        int count = channels.Count;
        int i;
        while ((i = Interlocked.Increment(ref _next) - 1) < count)
        {
            channels[i].FlushDeliveries(Turn);
        }
    }

    /// <summary>Reader, after a flush it finished: empty, under a new stamp.</summary>
    public void Reset()
    {
        _channels.Clear();
        _next = 0;
        Stamp = Interlocked.Increment(ref s_lastStamp);
    }
}
