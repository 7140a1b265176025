using System;
using System.Collections.Generic;
using CoolAmqp.Framing;
using CoolAmqp.Telemetry;

namespace CoolAmqp.Channels;

/// <summary>
/// Publishes waiting for publisher confirms on one channel incarnation, in a ring buffer indexed by sequence
/// number (RabbitMQ's confirm extension: the n-th publish after confirm.select has delivery tag n; an ack or
/// nack with multiple set covers every tag up to and including its own). Thread-safe.
/// </summary>
/// <remarks>
/// <para>A basic.return carries no delivery tag, so it is matched to its publish by the order in which RabbitMQ
/// (3.x, <c>rabbit_channel</c>) writes frames on a channel:</para>
/// <list type="number">
/// <item>The broker handles a channel's publishes one at a time, in order. For a mandatory publish that routes
/// nowhere it writes basic.return at once and records the publish as confirmed; after every publish it flushes
/// the confirms recorded so far. So returns come in publish order, and a return is followed by the confirms of
/// its flush before anything of a later publish.</item>
/// <item>A flush is one basic.ack with multiple set up to the highest confirmed tag below the oldest tag still
/// unconfirmed (or refused in the same flush), then single acks for the rest, ascending, then the nacks. The
/// returned publish is the highest tag of its flush (later publishes are not handled yet), so its ack always
/// carries its own delivery tag: it is either that multiple ack's tag or one of the single acks, never a lower
/// tag that a multiple ack covers, and never a nack.</item>
/// </list>
/// <para>So a return is held until an ack arrives whose own tag is an unconfirmed mandatory publish to the same
/// exchange and routing key, above the tag of the last matched return; that publish then fails with
/// <see cref="MessageReturnedException"/> and every other publish the ack covers succeeds. One case stays open:
/// when the broker could not use a multiple ack (an older publish is still unconfirmed by its queue), the same
/// flush may first single-ack another mandatory publish to the same exchange and routing key that was routed.
/// Only when such a later candidate is pending does the tracker look at content: the publish whose body and
/// properties equal the returned message's is the returned one (if several do, they are identical messages and
/// the oldest is taken; if none does, the oldest candidate is).</para>
/// <para>A held return whose publish the broker never confirms (the channel closes first) is dropped: that
/// publish fails with the channel's error, like every publish not confirmed before the channel closed.</para>
/// </remarks>
internal sealed class ConfirmTracker
{
    private readonly object _sync = new();
    private readonly Action<ReturnedMessage>? _unmatched;
    private PendingConfirm?[] _ring = new PendingConfirm?[64];
    private ulong _oldest = 1;
    private ulong _next = 1;
    private ulong _lastReturned;
    private Exception? _failure;

    // basic.returns whose publish has not been confirmed yet, oldest first; created at the first return.
    private List<ReturnedMessage>? _held;

    /// <summary>The broker's host, for metric tags.</summary>
    public string? ServerAddress { get; init; }

    /// <summary>Creates an empty tracker.</summary>
    /// <param name="unmatched">Told (outside the tracker's lock) of a held return dropped because no pending
    /// publish can be it any more; a return that matches nothing at all is reported by <see cref="Returned"/>.</param>
    public ConfirmTracker(Action<ReturnedMessage>? unmatched = null)
    {
        _unmatched = unmatched;
    }

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

    /// <summary>Number of basic.returns waiting for their publish's confirm.</summary>
    public int HeldReturns
    {
        get
        {
            lock (_sync)
            {
                return _held?.Count ?? 0;
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

    /// <summary>A basic.return arrived: hold it until the ack of its publish tells which one it was (see the
    /// remarks on the class).</summary>
    /// <returns>False when no pending mandatory publish to its exchange and routing key can be it (nothing is held).</returns>
    public bool Returned(ReturnedMessage returned)
    {
        lock (_sync)
        {
            if (!HasCandidate(returned, _lastReturned + 1))
            {
                return false;
            }

            (_held ??= new List<ReturnedMessage>(2)).Add(returned);
            return true;
        }
    }

    /// <summary>Fails everything pending (the channel or the connection closed) and refuses later adds. Held
    /// returns are dropped: their publishes fail like the others.</summary>
    /// <param name="reason">Why. A <see cref="ConnectionDeadException"/> (the link, not the broker, ended the channel)
    /// fails each publish with a <see cref="PublishOutcomeUnknownException"/> of its own, naming it; anything else
    /// (the broker's channel error) fails them all with <paramref name="reason"/> itself.</param>
    public void FailAll(Exception reason) => EndAll(reason, into: null);

    /// <summary>Refuses later adds, like <see cref="FailAll"/>, but hands the unconfirmed publishes over instead of failing
    /// them: they move, still incomplete and in publish order, to <paramref name="into"/>, whose owner publishes them
    /// again on another channel (or fails them). Held returns are dropped: the broker forgets them with the channel.</summary>
    /// <param name="reason">Why the channel ended (later adds are refused with it).</param>
    /// <param name="into">Receives the publishes; the caller owns them from now on.</param>
    public void TakeAll(Exception reason, List<PendingConfirm> into) => EndAll(reason, into);

    /// <summary>Refuses later adds and empties the ring: each pending publish is moved to <paramref name="into"/>, or
    /// failed when that is null.</summary>
    private void EndAll(Exception reason, List<PendingConfirm>? into)
    {
        lock (_sync)
        {
            _failure ??= reason;
            _held?.Clear();
            for (ulong sequence = _oldest; sequence < _next; sequence++)
            {
                ref PendingConfirm? slot = ref _ring[Index(sequence)];
                if (slot is null)
                {
                    continue;
                }

                if (into is not null)
                {
                    into.Add(slot);
                }
                else
                {
                    if (CoolAmqpTelemetry.OperationDuration.Enabled)
                    {
                        CoolAmqpTelemetry.RecordConfirm(slot.Exchange, ServerAddress, slot.StartTimestamp,
                            CoolAmqpTelemetry.ErrorTypeOf(reason), outcome: null);
                    }

                    slot.TryFail(reason is ConnectionDeadException
                        ? new PublishOutcomeUnknownException(slot.Exchange, slot.RoutingKey, reason)
                        : reason);
                    slot.ReleaseByTracker();
                }

                slot = null;
            }

            _oldest = _next;
        }
    }

    private void Resolve(ulong deliveryTag, bool multiple, bool nack)
    {
        List<ReturnedMessage>? dropped = null;
        lock (_sync)
        {
            if (deliveryTag >= _next || deliveryTag < _oldest)
            {
                // Already resolved (a repeated multiple ack) or never published: nothing to do.
                return;
            }

            // Only the frame's own tag can be a returned publish, and only on an ack (class remarks).
            ReturnedMessage? returned = !nack && _held is { Count: > 0 } ? TakeReturnOf(deliveryTag) : null;
            ulong from = multiple ? _oldest : deliveryTag;
            bool observed = CoolAmqpTelemetry.ConfirmObserved;
            for (ulong sequence = from; sequence <= deliveryTag; sequence++)
            {
                ref PendingConfirm? slot = ref _ring[Index(sequence)];
                if (slot is null)
                {
                    continue;
                }

                if (nack)
                {
                    if (observed)
                    {
                        CoolAmqpTelemetry.RecordConfirm(slot.Exchange, ServerAddress, slot.StartTimestamp, "basic.nack",
                            CoolAmqpTelemetry.NackedMessages);
                    }

                    slot.TryFail(new MessageNackedException(
                        $"The broker refused responsibility for the message (basic.nack, delivery tag {sequence})."));
                }
                else if (sequence == deliveryTag && returned is not null)
                {
                    if (observed)
                    {
                        CoolAmqpTelemetry.RecordConfirm(slot.Exchange, ServerAddress, slot.StartTimestamp,
                            ReplyCodes.GetName(returned.ReplyCode) ?? "basic.return", CoolAmqpTelemetry.ReturnedMessages);
                    }

                    slot.TryFail(new MessageReturnedException(returned.ReplyCode, returned.ReplyText,
                        returned.Exchange, returned.RoutingKey));
                }
                else
                {
                    if (observed)
                    {
                        CoolAmqpTelemetry.RecordConfirm(slot.Exchange, ServerAddress, slot.StartTimestamp, error: null,
                            CoolAmqpTelemetry.ConfirmedMessages);
                    }

                    slot.TrySucceed();
                }

                slot.ReleaseByTracker();
                slot = null;
            }

            while (_oldest < _next && _ring[Index(_oldest)] is null)
            {
                _oldest++;
            }

            if (_held is { Count: > 0 })
            {
                dropped = DropStaleReturns();
            }
        }

        if (dropped is not null && _unmatched is not null)
        {
            foreach (ReturnedMessage stale in dropped)
            {
                _unmatched(stale);
            }
        }
    }

    /// <summary>The held return that belongs to the publish with tag <paramref name="tag"/>, which an ack is about
    /// to confirm, removed from the held list; null when that publish was not returned.</summary>
    private ReturnedMessage? TakeReturnOf(ulong tag)
    {
        PendingConfirm? pending = _ring[Index(tag)];
        if (pending is not { Mandatory: true } || tag <= _lastReturned)
        {
            return null;
        }

        List<ReturnedMessage> held = _held!;
        for (int i = 0; i < held.Count; i++)
        {
            ReturnedMessage returned = held[i];
            if (SameDestination(pending, returned) && IsReturnOf(tag, pending, returned))
            {
                held.RemoveAt(i);
                _lastReturned = tag;
                return returned;
            }
        }

        return null;
    }

    /// <summary>Whether <paramref name="returned"/> is the return of <paramref name="pending"/> (tag
    /// <paramref name="tag"/>, same exchange and routing key), given that its ack arrived now.</summary>
    private bool IsReturnOf(ulong tag, PendingConfirm pending, ReturnedMessage returned)
    {
        if (!HasCandidate(returned, tag + 1))
        {
            // The acks between a return and its publish's ack are of the same flush, ascending up to that
            // publish: it is this one or a later one, and no later one can be it.
            return true;
        }

        // A later mandatory publish to the same place is pending too and the order cannot tell them apart: the
        // content can (rare: see the class remarks).
        if (returned.IsCopyOf(pending.Message))
        {
            return true;
        }

        for (ulong sequence = tag + 1; sequence < _next; sequence++)
        {
            PendingConfirm? later = _ring[Index(sequence)];
            if (later is { Mandatory: true } && SameDestination(later, returned) && returned.IsCopyOf(later.Message))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Whether an unconfirmed mandatory publish to the exchange and routing key of
    /// <paramref name="returned"/> has a tag at or above <paramref name="from"/>.</summary>
    private bool HasCandidate(ReturnedMessage returned, ulong from)
    {
        for (ulong sequence = Math.Max(from, _oldest); sequence < _next; sequence++)
        {
            PendingConfirm? pending = _ring[Index(sequence)];
            if (pending is { Mandatory: true } && SameDestination(pending, returned))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Removes the held returns no pending publish can be any more (with RabbitMQ this does not happen:
    /// a return's ack follows it).</summary>
    private List<ReturnedMessage>? DropStaleReturns()
    {
        List<ReturnedMessage> held = _held!;
        List<ReturnedMessage>? dropped = null;
        for (int i = 0; i < held.Count; i++)
        {
            if (!HasCandidate(held[i], _lastReturned + 1))
            {
                (dropped ??= []).Add(held[i]);
                held.RemoveAt(i--);
            }
        }

        return dropped;
    }

    private static bool SameDestination(PendingConfirm pending, ReturnedMessage returned) =>
        string.Equals(pending.Exchange, returned.Exchange, StringComparison.Ordinal) &&
        string.Equals(pending.RoutingKey, returned.RoutingKey, StringComparison.Ordinal);

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
