using System;
using System.Threading;
using CoolAmqp.Channels;

namespace CoolAmqp.Connections;

/// <summary>
/// Channel numbers of one connection: allocation (lowest free number first, so numbers are reused) up to the
/// negotiated channel-max, and lookup by number from the read loop without a lock.
/// </summary>
internal sealed class ChannelTable
{
    private readonly object _sync = new();
    private AmqpChannel?[] _slots = new AmqpChannel?[64];
    private ushort _channelMax = AmqpLimits.MaxChannelNumber;
    private int _count;
    private int _searchFrom = 1;

    /// <summary>Highest usable channel number (from connection.tune).</summary>
    public ushort ChannelMax
    {
        get => _channelMax;
        set => _channelMax = value == 0 ? AmqpLimits.MaxChannelNumber : value;
    }

    /// <summary>Number of channels registered.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>The channel with this number, or null.</summary>
    public AmqpChannel? Get(ushort id)
    {
        AmqpChannel?[] slots = Volatile.Read(ref _slots);
        return id < slots.Length ? Volatile.Read(ref slots[id]) : null;
    }

    /// <summary>Reserves the lowest free number for <paramref name="create"/>'s channel.</summary>
    /// <exception cref="InvalidOperationException">All numbers up to channel-max are taken.</exception>
    public AmqpChannel Add(Func<ushort, AmqpChannel> create)
    {
        lock (_sync)
        {
            for (int id = _searchFrom; id <= _channelMax; id++)
            {
                if (id >= _slots.Length)
                {
                    int size = Math.Min(Math.Max(_slots.Length * 2, id + 1), _channelMax + 1);
                    AmqpChannel?[] grown = new AmqpChannel?[size];
                    Array.Copy(_slots, grown, _slots.Length);
                    Volatile.Write(ref _slots, grown);
                }

                if (_slots[id] is null)
                {
                    AmqpChannel channel = create((ushort)id);
                    Volatile.Write(ref _slots[id], channel);
                    _count++;
                    _searchFrom = id + 1;
                    return channel;
                }
            }

            throw new InvalidOperationException(
                $"All {_channelMax} channels the broker allows on this connection are in use.");
        }
    }

    /// <summary>Frees the number of <paramref name="channel"/> (if it still holds it).</summary>
    public void Remove(AmqpChannel channel)
    {
        lock (_sync)
        {
            ushort id = channel.Id;
            if (id < _slots.Length && ReferenceEquals(_slots[id], channel))
            {
                Volatile.Write(ref _slots[id], null);
                _count--;
                if (id < _searchFrom)
                {
                    _searchFrom = id;
                }
            }
        }
    }

    /// <summary>Removes every channel and returns them (for failing them all when the connection breaks).</summary>
    public AmqpChannel[] RemoveAll()
    {
        lock (_sync)
        {
            AmqpChannel[] all = new AmqpChannel[_count];
            int n = 0;
            for (int i = 1; i < _slots.Length; i++)
            {
                if (_slots[i] is { } channel)
                {
                    all[n++] = channel;
                    _slots[i] = null;
                }
            }

            _count = 0;
            _searchFrom = 1;
            return n == all.Length ? all : all.AsSpan(0, n).ToArray();
        }
    }
}
