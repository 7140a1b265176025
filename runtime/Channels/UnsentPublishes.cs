using System;

namespace CoolAmqp.Channels;

/// <summary>
/// Where each plain (unconfirmed) publish ends in the connection's outbound byte stream, for those the socket may not
/// have taken yet: when the connection breaks, the ones that end past what was written are known to be lost, and the
/// application is told how many (nobody awaits a plain publish past its append). Updated only under the writer lock;
/// read after the writer failed.
/// </summary>
internal sealed class UnsentPublishes
{
    private long[] _ends = new long[256];
    private int _head;
    private int _count;

    /// <summary>A publish was appended, ending at <paramref name="end"/>; <paramref name="sent"/> bytes have left so far.</summary>
    public void Appended(long end, long sent)
    {
        Trim(sent);
        if (_count == _ends.Length)
        {
            Grow();
        }

        _ends[(_head + _count) & (_ends.Length - 1)] = end;
        _count++;
    }

    /// <summary>How many recorded publishes end past <paramref name="sent"/> (did not wholly reach the socket).</summary>
    public int CountUnsent(long sent)
    {
        Trim(sent);
        return _count;
    }

    private void Trim(long sent)
    {
        int mask = _ends.Length - 1;
        while (_count > 0 && _ends[_head] <= sent)
        {
            _head = (_head + 1) & mask;
            _count--;
        }
    }

    private void Grow()
    {
        var grown = new long[_ends.Length * 2];
        int mask = _ends.Length - 1;
        for (int i = 0; i < _count; i++)
        {
            grown[i] = _ends[(_head + i) & mask];
        }

        _ends = grown;
        _head = 0;
    }
}
