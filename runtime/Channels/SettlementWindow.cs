using System;
using System.Numerics;
using CoolAmqp.Connections;

namespace CoolAmqp.Channels;

/// <summary>
/// Which delivery tags of one channel incarnation still await settling, so that a settle the broker already
/// knows about (a repeat, or a tag an earlier multiple-settle covered) is never sent again: RabbitMQ answers a
/// second settle of a tag with 406 PRECONDITION_FAILED and closes the channel.
/// </summary>
/// <remarks>
/// Tags on a channel count up from 1 (RabbitMQ numbers every delivery and get-ok, no-ack ones included), so
/// the outstanding ones fit a window <c>[base, next)</c>: a bitmap ring indexed by the tag itself, one bit per
/// tag, set while the tag awaits settling. It grows (doubling) only when the window outgrows it, which a
/// prefetch limit bounds; nothing is allocated per delivery or per settle. Not thread-safe: the channel
/// guards it, and holds that guard while it writes the frame a decision produced, so frames leave in the order
/// of the decisions.
/// </remarks>
internal sealed class SettlementWindow
{
    /// <summary>A window wider than this (2^31 tags, 256 MiB of bits) means a broker numbering deliveries wrongly.</summary>
    private const ulong MaxSpan = 1UL << 31;

    private ulong[] _words = new ulong[4];
    private ulong _base = 1;
    private ulong _next = 1;

    /// <summary>The lowest tag that may still await settling: every tag below it is settled (or never needed it).</summary>
    public ulong Base => _base;

    /// <summary>One past the highest delivery tag seen.</summary>
    public ulong Next => _next;

    /// <summary>How many tags the ring holds before it must grow.</summary>
    public int Capacity => _words.Length * 64;

    /// <summary>A delivery (or get-ok) with <paramref name="tag"/> arrived.</summary>
    /// <param name="tag">Its delivery tag.</param>
    /// <param name="needsSettling">False for a no-ack delivery: it takes a tag but is never settled.</param>
    /// <exception cref="ProtocolViolationException">The window would span more than 2^31 tags.</exception>
    public void Delivered(ulong tag, bool needsSettling)
    {
        if (tag < _next)
        {
            // Not above the last tag: a broker that reuses tags. Nothing sound can be tracked for it; settling it
            // sends nothing rather than risk settling another delivery.
            return;
        }

        if (_base == _next)
        {
            // Nothing outstanding (every bit is clear): the window restarts at this tag, whatever gap no-ack
            // deliveries left.
            _base = tag;
        }

        if (!needsSettling)
        {
            _next = tag + 1;
            if (_base == tag)
            {
                _base = _next;
            }

            return;
        }

        if (tag - _base >= (ulong)Capacity)
        {
            Grow(tag - _base + 1);
        }

        _next = tag + 1;
        _words[WordIndex(tag)] |= 1UL << (int)(tag & 63);
    }

    /// <summary>Settles one tag.</summary>
    /// <returns>Whether it awaited settling (and so a frame must go to the broker).</returns>
    public bool SettleOne(ulong tag)
    {
        if (tag < _base || tag >= _next)
        {
            return false;
        }

        ref ulong word = ref _words[WordIndex(tag)];
        ulong bit = 1UL << (int)(tag & 63);
        if ((word & bit) == 0)
        {
            return false;
        }

        word &= ~bit;
        if (tag == _base)
        {
            AdvanceBase();
        }

        return true;
    }

    /// <summary>Settles every tag up to and including <paramref name="tag"/>.</summary>
    /// <param name="tag">The highest tag to settle.</param>
    /// <param name="highest">The highest tag that awaited settling, to send with multiple set: the broker settles
    /// every unsettled tag up to it, which are exactly the ones this settles.</param>
    /// <returns>Whether any tag awaited settling.</returns>
    public bool SettleUpTo(ulong tag, out ulong highest)
    {
        highest = 0;
        if (tag < _base || _base == _next)
        {
            return false;
        }

        ulong last = Math.Min(tag, _next - 1);
        if (!TryFindHighest(_base, last, out highest))
        {
            return false;
        }

        // Bits above highest and up to last are clear already.
        ClearRange(_base, highest);
        _base = highest + 1;
        AdvanceBase();
        return true;
    }

    private int WordIndex(ulong tag) => (int)((tag >> 6) & (ulong)(_words.Length - 1));

    /// <summary>Moves the base up to the lowest tag still set (or to next when none is).</summary>
    private void AdvanceBase()
    {
        ulong tag = _base;
        while (tag < _next)
        {
            ulong word = _words[WordIndex(tag)] >> (int)(tag & 63);
            if (word != 0)
            {
                tag += (ulong)BitOperations.TrailingZeroCount(word);
                _base = Math.Min(tag, _next);
                return;
            }

            tag = (tag | 63) + 1;
        }

        _base = _next;
    }

    private bool TryFindHighest(ulong low, ulong high, out ulong found)
    {
        ulong tag = high;
        while (true)
        {
            // Bits of this word from the start of the word (or low) up to tag.
            int top = (int)(tag & 63);
            ulong word = _words[WordIndex(tag)];
            ulong mask = top == 63 ? ulong.MaxValue : (1UL << (top + 1)) - 1;
            ulong wordStart = tag & ~63UL;
            if (low > wordStart)
            {
                mask &= ulong.MaxValue << (int)(low & 63);
            }

            word &= mask;
            if (word != 0)
            {
                found = wordStart + (ulong)(63 - BitOperations.LeadingZeroCount(word));
                return true;
            }

            if (wordStart <= low)
            {
                found = 0;
                return false;
            }

            tag = wordStart - 1;
        }
    }

    private void ClearRange(ulong low, ulong high)
    {
        ulong tag = low;
        while (tag <= high)
        {
            ulong wordEnd = tag | 63;
            int from = (int)(tag & 63);
            int to = (int)(Math.Min(wordEnd, high) & 63);
            ulong mask = (to == 63 ? ulong.MaxValue : (1UL << (to + 1)) - 1) & (ulong.MaxValue << from);
            _words[WordIndex(tag)] &= ~mask;
            if (wordEnd >= high)
            {
                return;
            }

            tag = wordEnd + 1;
        }
    }

    private void Grow(ulong span)
    {
        if (span > MaxSpan)
        {
            throw new ProtocolViolationException(
                $"Delivery tags on one channel span more than {MaxSpan} unsettled tags (from {_base} to {_base + span - 1}).");
        }

        int length = _words.Length;
        while ((ulong)length * 64 < span)
        {
            length *= 2;
        }

        // Re-seat every word the window [base, next) touches at its index in the larger ring. The first and the
        // last word may share one slot of the old ring: each takes only the bits of its own tags.
        var words = new ulong[length];
        ulong oldMask = (ulong)(_words.Length - 1);
        ulong newMask = (ulong)(length - 1);
        if (_base < _next)
        {
            ulong first = _base >> 6;
            ulong last = (_next - 1) >> 6;
            for (ulong w = first; w <= last; w++)
            {
                ulong bits = _words[(int)(w & oldMask)];
                if (w == first)
                {
                    bits &= ulong.MaxValue << (int)(_base & 63);
                }

                if (w == last)
                {
                    int top = (int)((_next - 1) & 63);
                    bits &= top == 63 ? ulong.MaxValue : (1UL << (top + 1)) - 1;
                }

                words[(int)(w & newMask)] = bits;
            }
        }

        _words = words;
    }
}
