using System;

namespace CoolAmqp.Channels;

/// <summary>
/// Publishes waiting for publisher confirms on one channel incarnation, in a ring buffer indexed by sequence
/// number (RabbitMQ's confirm extension: the n-th publish after confirm.select has delivery tag n; an ack or
/// nack with multiple set covers every tag up to and including its own). Thread-safe.
/// </summary>
internal sealed class ConfirmTracker
{
    private readonly object _sync = new();
    private PendingConfirm?[] _ring = new PendingConfirm?[64];
    private ulong _oldest = 1;
    private ulong _next = 1;
    private Exception? _failure;

    /// <summary>Number of publishes not confirmed yet.</summary>
    public int Count
    {
        get
        {
            lock (_sync)
            {
                return (int)(_next - _oldest);
            }
        }
    }

    /// <summary>Registers the next publish (call in publish order, right before it is appended).</summary>
    /// <exception cref="InvalidOperationException">The tracker was failed (its channel closed).</exception>
    public void Add(PendingConfirm pending)
    {
        lock (_sync)
        {
            if (_failure is not null)
            {
                throw new InvalidOperationException("The publisher channel closed.", _failure);
            }

            if (_next - _oldest == (ulong)_ring.Length)
            {
                Grow();
            }

            pending.Sequence = _next;
            _ring[Index(_next)] = pending;
            _next++;
        }
    }

    /// <summary>basic.ack from the broker.</summary>
    public void Ack(ulong deliveryTag, bool multiple) => Resolve(deliveryTag, multiple, nack: false);

    /// <summary>basic.nack from the broker.</summary>
    public void Nack(ulong deliveryTag, bool multiple) => Resolve(deliveryTag, multiple, nack: true);

    /// <summary>A basic.return arrived: mark the earliest unconfirmed mandatory publish to the same exchange and
    /// routing key (the broker returns a message before it confirms it, and handles a channel's publishes in
    /// order). Returns false when none matches.</summary>
    public bool MarkReturned(ReturnedMessage returned)
    {
        lock (_sync)
        {
            for (ulong sequence = _oldest; sequence < _next; sequence++)
            {
                PendingConfirm? pending = _ring[Index(sequence)];
                if (pending is { Mandatory: true, Returned: null } &&
                    string.Equals(pending.Exchange, returned.Exchange, StringComparison.Ordinal) &&
                    string.Equals(pending.RoutingKey, returned.RoutingKey, StringComparison.Ordinal))
                {
                    pending.Returned = returned;
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>Fails everything pending (the channel or the connection closed) and refuses later adds.</summary>
    /// <param name="reason">Why. A <see cref="ConnectionDeadException"/> (the link, not the broker, ended the channel)
    /// fails each publish with a <see cref="PublishOutcomeUnknownException"/> of its own, naming it; anything else
    /// (the broker's channel error) fails them all with <paramref name="reason"/> itself.</param>
    public void FailAll(Exception reason)
    {
        lock (_sync)
        {
            _failure ??= reason;
            for (ulong sequence = _oldest; sequence < _next; sequence++)
            {
                ref PendingConfirm? slot = ref _ring[Index(sequence)];
                if (slot is not null)
                {
                    slot.TryFail(reason is ConnectionDeadException
                        ? new PublishOutcomeUnknownException(slot.Exchange, slot.RoutingKey, reason)
                        : reason);
                    slot.ReleaseByTracker();
                    slot = null;
                }
            }

            _oldest = _next;
        }
    }

    private void Resolve(ulong deliveryTag, bool multiple, bool nack)
    {
        lock (_sync)
        {
            if (deliveryTag >= _next || deliveryTag < _oldest)
            {
                // Already resolved (a repeated multiple ack) or never published: nothing to do.
                return;
            }

            ulong from = multiple ? _oldest : deliveryTag;
            for (ulong sequence = from; sequence <= deliveryTag; sequence++)
            {
                ref PendingConfirm? slot = ref _ring[Index(sequence)];
                if (slot is null)
                {
                    continue;
                }

                if (nack)
                {
                    slot.TryFail(new MessageNackedException(
                        $"The broker refused responsibility for the message (basic.nack, delivery tag {sequence})."));
                }
                else if (slot.Returned is { } returned)
                {
                    slot.TryFail(new MessageReturnedException(returned.ReplyCode, returned.ReplyText,
                        returned.Exchange, returned.RoutingKey));
                }
                else
                {
                    slot.TrySucceed();
                }

                slot.ReleaseByTracker();
                slot = null;
            }

            while (_oldest < _next && _ring[Index(_oldest)] is null)
            {
                _oldest++;
            }
        }
    }

    private int Index(ulong sequence) => (int)(sequence & (ulong)(_ring.Length - 1));

    private void Grow()
    {
        var grown = new PendingConfirm?[_ring.Length * 2];
        ulong mask = (ulong)(grown.Length - 1);
        for (ulong sequence = _oldest; sequence < _next; sequence++)
        {
            grown[(int)(sequence & mask)] = _ring[Index(sequence)];
        }

        _ring = grown;
    }
}
