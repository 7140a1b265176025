using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using CoolAmqp.Channels;
using CoolAmqp.Framing;
using CsCheck;
using NUnit.Framework;

namespace CoolAmqp.Tests.Channels;

/// <summary>
/// The confirm tracker driven by the frame sequences RabbitMQ sends on a confirm-mode channel: which publish fails
/// with <see cref="MessageReturnedException"/> when returns and acks interleave. Every sequence here is one
/// <see cref="RabbitChannelModel"/> can produce (the comments say which broker events lead to it), except the two
/// tests that say they are about frames RabbitMQ does not send.
/// </summary>
[TestFixture]
public class ConfirmTrackerTests
{
    private const string Exchange = "x";

    private Harness _h = null!;

    internal enum Outcome
    {
        Pending,
        Confirmed,
        Returned,
        Nacked,
        ChannelError,
    }

    [SetUp]
    public void NewTracker() => _h = new Harness();

    [Test]
    public void An_unroutable_publish_before_a_routed_one_to_the_same_key_is_the_returned_one()
    {
        // 1 routes nowhere (return, then the flush after it: ack 1); a binding appears; 2 routes, its queue confirms.
        _h.Publish("k");
        _h.Publish("k");
        _h.Return(1);
        _h.Tracker.Ack(1, multiple: false);
        _h.Tracker.Ack(2, multiple: false);
        _h.AssertOutcomes(Outcome.Returned, Outcome.Confirmed);
    }

    [Test]
    public void A_routed_publish_before_an_unroutable_one_to_the_same_key_succeeds_while_its_queue_has_not_confirmed_yet()
    {
        // 1 routes to a queue that has not confirmed it when 2 (binding gone) routes nowhere: the flush after 2
        // cannot ack multiple (1 is unconfirmed), so it acks 2 alone; 1 is acked when its queue confirms.
        _h.Publish("k");
        _h.Publish("k");
        _h.Return(2);
        _h.Tracker.Ack(2, multiple: false);
        _h.AssertOutcomes(Outcome.Pending, Outcome.Returned);
        _h.Tracker.Ack(1, multiple: false);
        _h.AssertOutcomes(Outcome.Confirmed, Outcome.Returned);
    }

    [Test]
    public void A_multiple_ack_confirms_the_routed_publishes_below_its_own_tag_and_fails_only_the_returned_one_at_its_tag()
    {
        // 1's queue confirmed before 2 routed nowhere: the flush after 2 is one ack, multiple, up to 2.
        _h.Publish("k");
        _h.Publish("k");
        _h.Return(2);
        _h.Tracker.Ack(2, multiple: true);
        _h.AssertOutcomes(Outcome.Confirmed, Outcome.Returned);
    }

    [Test]
    public void The_returned_publish_can_come_after_a_multiple_ack_in_the_same_flush()
    {
        // 1 (key k) confirmed by its queue, 2 (another key) not yet, 3 (key k) routes nowhere: the flush after 3 is
        // "ack 1 multiple" (below the unconfirmed 2), then "ack 3". The multiple ack's tag is a mandatory publish
        // to k, but 3 is still pending with the returned content: 1 is not the returned one.
        _h.Publish("k");
        _h.Publish("slow");
        _h.Publish("k");
        _h.Return(3);
        _h.Tracker.Ack(1, multiple: true);
        _h.AssertOutcomes(Outcome.Confirmed, Outcome.Pending, Outcome.Pending);
        _h.Tracker.Ack(3, multiple: false);
        _h.Tracker.Ack(2, multiple: false);
        _h.AssertOutcomes(Outcome.Confirmed, Outcome.Confirmed, Outcome.Returned);
    }

    [Test]
    public void A_single_ack_of_a_routed_publish_to_the_same_key_in_the_returns_flush_is_told_apart_by_content()
    {
        // 1 (k) unconfirmed, 2 (k) confirmed by its queue, 3 (k) routes nowhere: the flush after 3 is "ack 2",
        // "ack 3" (no multiple: 1 is unconfirmed). The order alone would fit 2 as well: the bodies decide.
        _h.Publish("k");
        _h.Publish("k");
        _h.Publish("k");
        _h.Return(3);
        _h.Tracker.Ack(2, multiple: false);
        _h.Tracker.Ack(3, multiple: false);
        _h.Tracker.Ack(1, multiple: false);
        _h.AssertOutcomes(Outcome.Confirmed, Outcome.Confirmed, Outcome.Returned);
    }

    [Test]
    public void Indistinguishable_publishes_the_order_cannot_tell_apart_fail_the_oldest()
    {
        // As above, but 2 and 3 are the same message: nothing on the wire tells them apart, so the oldest
        // candidate at the first ack after the return is taken.
        _h.Publish("k");
        _h.Publish("k", body: "same");
        _h.Publish("k", body: "same");
        _h.Return(3);
        _h.Tracker.Ack(2, multiple: false);
        _h.Tracker.Ack(3, multiple: false);
        _h.Tracker.Ack(1, multiple: false);
        _h.AssertOutcomes(Outcome.Confirmed, Outcome.Returned, Outcome.Confirmed);
    }

    [Test]
    public void A_later_return_is_never_matched_to_a_publish_older_than_the_last_returned_one()
    {
        // 1 routes nowhere; 2 routes to a queue that confirms late; 3 routes nowhere. Returns come in publish
        // order: the second return is 3's even though 2 is an older pending mandatory publish to the same key.
        _h.Publish("k");
        _h.Publish("k");
        _h.Publish("k");
        _h.Return(1);
        _h.Tracker.Ack(1, multiple: false);
        _h.Return(3);
        _h.Tracker.Ack(3, multiple: false);
        _h.Tracker.Ack(2, multiple: false);
        _h.AssertOutcomes(Outcome.Returned, Outcome.Confirmed, Outcome.Returned);
    }

    [Test]
    public void A_nack_after_a_return_fails_the_refused_publish_and_the_returned_one_fails_at_its_ack()
    {
        // 1 (k) refused by its queue (reject-publish), 2 (k) routes nowhere: the flush after 2 sends its acks
        // first, then the nacks: "ack 2", "nack 1".
        _h.Publish("k");
        _h.Publish("k");
        _h.Return(2);
        _h.Tracker.Ack(2, multiple: false);
        _h.Tracker.Nack(1, multiple: false);
        _h.AssertOutcomes(Outcome.Nacked, Outcome.Returned);
    }

    [Test]
    public void A_nack_never_takes_a_held_return()
    {
        // Not a RabbitMQ sequence (it acks an unroutable message, and acks before nacks in a flush): a nack of the
        // only candidate fails it as nacked, and the return, which no pending publish can be any more, is dropped.
        _h.Publish("k");
        _h.Return(1);
        _h.Tracker.Nack(1, multiple: false);
        _h.AssertOutcomes(Outcome.Nacked);
        Assert.That(_h.Tracker.HeldReturns, Is.Zero);
        Assert.That(_h.Unmatched, Has.Count.EqualTo(1), "the dropped return is reported");
    }

    [Test]
    public void Returns_of_two_publishes_to_the_same_key_each_fail_their_own()
    {
        _h.Publish("k");
        _h.Publish("other");
        _h.Publish("k");
        _h.Return(1);
        _h.Tracker.Ack(1, multiple: false);
        _h.Return(3);
        _h.Tracker.Ack(3, multiple: true);
        _h.AssertOutcomes(Outcome.Returned, Outcome.Confirmed, Outcome.Returned);
    }

    [Test]
    public void A_publish_that_is_not_mandatory_is_never_the_returned_one()
    {
        _h.Publish("k", mandatory: false);
        _h.Publish("k");
        _h.Return(2);
        _h.Tracker.Ack(2, multiple: true);
        _h.AssertOutcomes(Outcome.Confirmed, Outcome.Returned);
    }

    [Test]
    public void A_return_is_held_until_the_ack_of_its_publish()
    {
        _h.Publish("k");
        _h.Return(1);
        Assert.That(_h.Tracker.HeldReturns, Is.EqualTo(1));
        _h.AssertOutcomes(Outcome.Pending);
        _h.Tracker.Ack(1, multiple: false);
        Assert.That(_h.Tracker.HeldReturns, Is.Zero);
        _h.AssertOutcomes(Outcome.Returned);
    }

    [Test]
    public void A_return_no_pending_mandatory_publish_can_be_is_refused_and_not_held()
    {
        _h.Publish("k", mandatory: false);
        _h.Publish("k");
        _h.Tracker.Ack(2, multiple: false);
        Assert.That(_h.Tracker.Returned(Harness.ReturnOf("k", "1")), Is.False, "only a non-mandatory publish to k is pending");
        Assert.That(_h.Tracker.Returned(Harness.ReturnOf("elsewhere", "2")), Is.False, "nothing to that key at all");
        Assert.That(_h.Tracker.HeldReturns, Is.Zero);
        _h.Tracker.Ack(1, multiple: false);
        _h.AssertOutcomes(Outcome.Confirmed, Outcome.Confirmed);
    }

    [Test]
    public void A_channel_that_closes_with_a_held_return_fails_every_pending_publish_with_the_channels_error()
    {
        _h.Publish("k");
        _h.Publish("k");
        _h.Return(1);
        var reason = new ConnectionDeadException("gone");
        _h.Tracker.FailAll(reason);
        _h.AssertOutcomes(Outcome.ChannelError, Outcome.ChannelError);
        Assert.That(_h.Tracker.HeldReturns, Is.Zero);
        Assert.That(_h.Unmatched, Is.Empty, "a return dropped with its channel is not reported as unmatched");
    }

    [Test]
    public void The_returned_exception_carries_the_brokers_reply()
    {
        _h.Publish("k");
        Assert.That(_h.Tracker.Returned(new ReturnedMessage(312, "NO_ROUTE", Exchange, "k", MessageProperties.Empty,
            _h.Published[0].Message.Body)), Is.True);
        _h.Tracker.Ack(1, multiple: false);
        var error = Assert.Throws<MessageReturnedException>(() => _h.Published[0].Completion.GetAwaiter().GetResult());
        Assert.Multiple(() =>
        {
            Assert.That(error!.ReplyCode, Is.EqualTo(312));
            Assert.That(error.ReplyText, Is.EqualTo("NO_ROUTE"));
            Assert.That(error.Exchange, Is.EqualTo(Exchange));
            Assert.That(error.RoutingKey, Is.EqualTo("k"));
        });
    }

    [Test]
    public void Properties_tell_apart_publishes_with_the_same_body()
    {
        // A headers exchange routes by properties: 2 (k) matched a binding and its queue confirmed, 3 (k) did not
        // match; same body, different headers. The flush after 3 is "ack 2", "ack 3" (1 still unconfirmed).
        DateTimeOffset at = DateTimeOffset.UnixEpoch.AddSeconds(10.5);
        var routed = new MessageProperties { Headers = new FieldTable { { "route", "yes" } }, Timestamp = at };
        var unrouted = new MessageProperties { Headers = new FieldTable { { "route", "no" } }, Timestamp = at };
        _h.Publish("k");
        _h.Publish("k", body: "same", properties: routed);
        _h.Publish("k", body: "same", properties: unrouted);

        // What the broker sends back is the wire form: the timestamp without its fraction of a second.
        MessageProperties wire = MessageProperties.FromWire(unrouted.ToWire());
        Assert.That(_h.Tracker.Returned(new ReturnedMessage(312, "NO_ROUTE", Exchange, "k", wire, "same"u8.ToArray())), Is.True);
        _h.Tracker.Ack(2, multiple: false);
        _h.Tracker.Ack(3, multiple: false);
        _h.Tracker.Ack(1, multiple: false);
        _h.AssertOutcomes(Outcome.Confirmed, Outcome.Confirmed, Outcome.Returned);
    }

    [Test]
    public void Mandatory_publishes_that_are_not_returned_allocate_nothing_in_the_tracker()
    {
        var message = new Message("m"u8.ToArray());
        var window = new ValueTask[100];
        ulong tag = 0;

        void Round()
        {
            for (int i = 0; i < window.Length; i++)
            {
                PendingConfirm pending = PendingConfirm.Rent(message, Exchange, "k", mandatory: true);
                _h.Tracker.Add(pending);
#pragma warning disable CA2012 // A window of pending publishes, each read exactly once below.
                window[i] = pending.AsValueTask(default);
#pragma warning restore CA2012
            }

            tag += (ulong)window.Length;
            _h.Tracker.Ack(tag, multiple: true);
            foreach (ValueTask completion in window)
            {
                completion.GetAwaiter().GetResult();
            }
        }

        Round(); // fills the pool and grows the ring
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int round = 0; round < 10; round++)
        {
            Round();
        }

        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero);
    }

    /// <summary>Every frame sequence the model of RabbitMQ's channel produces, over random publishes (two keys;
    /// unroutable, routed and confirmed, or routed and refused; mandatory or not) and random timing of the queues'
    /// confirms, ends with exactly the unroutable mandatory publishes failed as returned, the refused ones nacked
    /// and the rest confirmed.</summary>
    [Test]
    public void Every_sequence_RabbitMQ_can_send_fails_exactly_the_returned_publishes()
    {
        Gen<(int Key, RabbitChannelModel.Route Route, bool Mandatory)> publish = Gen.Select(Gen.Int[0, 1],
            Gen.Int[0, 2].Select(r => (RabbitChannelModel.Route)r), Gen.Bool);
        Gen.Select(publish.Array[1, 12], Gen.Int[0, 1000].Array[0, 40]).Sample((publishes, choices) =>
        {
            // CsCheck runs samples on several threads: each has its own tracker.
            var h = new Harness();
            foreach (var (key, _, mandatory) in publishes)
            {
                h.Publish(key == 0 ? "a" : "b", mandatory);
            }

            var model = new RabbitChannelModel(publishes.Select(p => (p.Route, p.Mandatory)).ToArray(), choices);
            string trace = string.Join(", ", model.Frames);
            foreach (RabbitChannelModel.Frame frame in model.Frames)
            {
                switch (frame.Kind)
                {
                    case RabbitChannelModel.FrameKind.Return:
                        Assert.That(h.Tracker.Returned(Harness.ReturnOf(h.Published[(int)frame.Tag - 1].RoutingKey,
                            "m" + frame.Tag)), Is.True, trace);
                        break;
                    case RabbitChannelModel.FrameKind.Ack:
                        h.Tracker.Ack(frame.Tag, frame.Multiple);
                        break;
                    default:
                        h.Tracker.Nack(frame.Tag, frame.Multiple);
                        break;
                }
            }

            Outcome[] expected = publishes.Select(p => p.Route switch
            {
                RabbitChannelModel.Route.Unroutable => p.Mandatory ? Outcome.Returned : Outcome.Confirmed,
                RabbitChannelModel.Route.Refused => Outcome.Nacked,
                _ => Outcome.Confirmed,
            }).ToArray();
            Assert.That(h.Outcomes(), Is.EqualTo(expected), trace);
            Assert.That(h.Unmatched, Is.Empty, trace);
            Assert.That(h.Tracker.HeldReturns, Is.Zero, trace);
        }, iter: 3000);
    }

    [Test]
    public void Publishes_taken_from_a_lost_channel_stay_pending_in_order_and_complete_with_the_next_channels_confirms()
    {
        _h.Publish("a", mandatory: false);
        _h.Publish("b", mandatory: false);
        _h.Publish("c", mandatory: false);
        _h.Tracker.Ack(1, multiple: false);
        var taken = new List<PendingConfirm>();
        _h.Tracker.TakeAll(new ConnectionDeadException("cut"), taken);

        Assert.That(taken.Select(p => p.RoutingKey), Is.EqualTo(new[] { "b", "c" }), "the unconfirmed ones, in publish order");
        Assert.That(_h.Tracker.Count, Is.Zero);
        _h.AssertOutcomes(Outcome.Confirmed, Outcome.Pending, Outcome.Pending);
        Assert.Throws<InvalidOperationException>(() => _h.Tracker.Add(PendingConfirm.Rent(new Message("late"), Exchange, "d", false)),
            "the lost channel's tracker takes no more publishes");

        // On the next channel they get tags 1 and 2 of its own.
        var next = new ConfirmTracker();
        foreach (PendingConfirm pending in taken)
        {
            next.Add(pending);
        }

        next.Ack(1, multiple: false);
        next.Nack(2, multiple: false);
        _h.AssertOutcomes(Outcome.Confirmed, Outcome.Confirmed, Outcome.Nacked);
    }

    // ---- helpers ----

    /// <summary>A tracker, the publishes registered in it and what became of them.</summary>
    private sealed class Harness
    {
        public Harness() => Tracker = new ConfirmTracker(Unmatched.Add);

        public ConfirmTracker Tracker { get; }

        /// <summary>Returns the tracker dropped as matching no publish.</summary>
        public List<ReturnedMessage> Unmatched { get; } = [];

        public List<Published> Published { get; } = [];

        /// <summary>Tracks the next publish; its body is "m" + its delivery tag unless given.</summary>
        public void Publish(string routingKey, bool mandatory = true, string? body = null, MessageProperties? properties = null)
        {
            int tag = Published.Count + 1;
            var message = new Message(body ?? "m" + tag, properties);
            PendingConfirm pending = PendingConfirm.Rent(message, Exchange, routingKey, mandatory);
            Tracker.Add(pending);
            Published.Add(new Published(message, routingKey, pending.AsValueTask(default)));
        }

        /// <summary>The broker returns the publish with this tag (its routing key, body and properties).</summary>
        public void Return(int tag)
        {
            Published published = Published[tag - 1];
            Assert.That(Tracker.Returned(new ReturnedMessage(312, "NO_ROUTE", Exchange, published.RoutingKey,
                published.Message.Properties, published.Message.Body)), Is.True, "a pending publish can be the returned one");
        }

        public static ReturnedMessage ReturnOf(string routingKey, string body) =>
            new(312, "NO_ROUTE", Exchange, routingKey, MessageProperties.Empty, System.Text.Encoding.UTF8.GetBytes(body));

        public void AssertOutcomes(params Outcome[] expected) => Assert.That(Outcomes(), Is.EqualTo(expected));

        public Outcome[] Outcomes()
        {
            var outcomes = new Outcome[Published.Count];
            for (int i = 0; i < outcomes.Length; i++)
            {
                Published published = Published[i];
                if (published.Outcome is { } known)
                {
                    outcomes[i] = known;
                    continue;
                }

                if (!published.Completion.IsCompleted)
                {
                    outcomes[i] = Outcome.Pending;
                    continue;
                }

                try
                {
                    published.Completion.GetAwaiter().GetResult();
                    outcomes[i] = Outcome.Confirmed;
                }
                catch (MessageReturnedException)
                {
                    outcomes[i] = Outcome.Returned;
                }
                catch (MessageNackedException)
                {
                    outcomes[i] = Outcome.Nacked;
                }
                catch (ConnectionDeadException)
                {
                    outcomes[i] = Outcome.ChannelError;
                }

                // A completion is read once; remember what it said.
                Published[i] = published with { Outcome = outcomes[i] };
            }

            return outcomes;
        }
    }

    private sealed record Published(Message Message, string RoutingKey, ValueTask Completion, Outcome? Outcome = null);
}

/// <summary>
/// A model of the frames RabbitMQ 3.10's channel process (<c>rabbit_channel</c>) sends about publishes on a
/// confirm-mode channel. It handles publishes one at a time in order: one that routes nowhere gets basic.return at
/// once (if mandatory) and is confirmed at once; a routed one waits for its queue, which later confirms or refuses
/// it. After every publish, and at times after a queue's answer, it flushes: the acks (one multiple ack up to the
/// highest confirmed tag below the oldest unconfirmed or refused tag, single acks for the rest; a flush of one
/// confirm is a single ack), then the nacks the same way.
/// </summary>
internal sealed class RabbitChannelModel
{
    private readonly (Route Route, bool Mandatory)[] _publishes;
    private readonly int[] _choices;
    private readonly SortedSet<ulong> _unconfirmed = [];
    private readonly List<ulong> _confirmed = [];
    private readonly List<ulong> _refused = [];
    private readonly List<ulong> _atQueues = [];
    private int _choice;

    public RabbitChannelModel((Route Route, bool Mandatory)[] publishes, int[] choices)
    {
        _publishes = publishes;
        _choices = choices;
        Run();
    }

    public enum Route
    {
        Unroutable,
        Routed,
        Refused,
    }

    public enum FrameKind
    {
        Return,
        Ack,
        Nack,
    }

    public List<Frame> Frames { get; } = [];

    private void Run()
    {
        ulong next = 1;
        while (next <= (ulong)_publishes.Length || _atQueues.Count > 0)
        {
            int choice = Next();
            if (next <= (ulong)_publishes.Length && (_atQueues.Count == 0 || choice % 2 == 0))
            {
                HandlePublish(next++);
                continue;
            }

            // A queue answers for one of the publishes it holds; the channel flushes now or after a later event.
            ulong tag = _atQueues[choice / 2 % _atQueues.Count];
            _atQueues.Remove(tag);
            _unconfirmed.Remove(tag);
            (_publishes[tag - 1].Route == Route.Refused ? _refused : _confirmed).Add(tag);
            if (choice / 7 % 2 == 0)
            {
                Flush();
            }
        }

        Flush();
    }

    private void HandlePublish(ulong tag)
    {
        var (route, mandatory) = _publishes[tag - 1];
        if (route == Route.Unroutable)
        {
            if (mandatory)
            {
                Frames.Add(new Frame(FrameKind.Return, tag, false));
            }

            _confirmed.Add(tag);
        }
        else
        {
            _unconfirmed.Add(tag);
            _atQueues.Add(tag);
        }

        Flush();
    }

    private void Flush()
    {
        var confirmed = _confirmed.Order().ToList();
        var refused = _refused.Order().ToList();
        _confirmed.Clear();
        _refused.Clear();
        if (confirmed.Count == 1)
        {
            Frames.Add(new Frame(FrameKind.Ack, confirmed[0], false));
        }
        else if (confirmed.Count > 1)
        {
            Coalesce(FrameKind.Ack, confirmed, refused);
        }

        if (refused.Count > 0)
        {
            Coalesce(FrameKind.Nack, refused, confirmed);
        }
    }

    private void Coalesce(FrameKind kind, List<ulong> tags, List<ulong> others)
    {
        ulong cutoff = _unconfirmed.Count == 0 ? tags[^1] + 1 : _unconfirmed.Min;
        if (others.Count > 0)
        {
            cutoff = Math.Min(cutoff, others.Min());
        }

        List<ulong> below = tags.Where(t => t < cutoff).ToList();
        if (below.Count > 0)
        {
            Frames.Add(new Frame(kind, below[^1], true));
        }

        foreach (ulong tag in tags.Where(t => t >= cutoff))
        {
            Frames.Add(new Frame(kind, tag, false));
        }
    }

    private int Next() => _choice < _choices.Length ? _choices[_choice++] : 0;

    public readonly record struct Frame(FrameKind Kind, ulong Tag, bool Multiple)
    {
        public override string ToString() => Kind == FrameKind.Return ? $"return({Tag})" : $"{Kind.ToString().ToLowerInvariant()}({Tag}{(Multiple ? ", multiple" : string.Empty)})";
    }
}
