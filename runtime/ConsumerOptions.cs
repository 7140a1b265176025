using System;
using System.Threading;
using System.Threading.Tasks;
using CoolAmqp.Framing;

namespace CoolAmqp;

/// <summary>
/// How a <see cref="Consumer"/> behaves (CoolAMQP's <c>Consumer</c> parameters). Read the defaults: like
/// CoolAMQP, a consumer is no-ack unless told otherwise.
/// </summary>
/// <remarks>
/// Where messages go: to <see cref="OnMessage"/>, <see cref="OnMessageAsync"/> or <see cref="OnDelivery"/> if one
/// is set (at most one may be; in order, <see cref="MaxConcurrency"/> at a time; a synchronous callback runs on the
/// connection's reading thread while it is quick, and a slow or blocking one never stalls the connection: the README's
/// Threads section says how); otherwise to <see cref="Consumer.ReadAllAsync"/> if
/// <see cref="ReadFromConsumer"/> is set; otherwise to the cluster's events as <see cref="MessageReceived"/>
/// (<see cref="Cluster.DrainAsync"/>).
/// </remarks>
public sealed record ConsumerOptions
{
    /// <summary>Called for each message. Exceptions are logged and passed to <see cref="OnCallbackError"/>;
    /// they never stop the consumer or the connection. Default: none.</summary>
    public Action<ReceivedMessage>? OnMessage { get; init; }

    /// <summary>Called and awaited for each message (instead of <see cref="OnMessage"/>), with a token that fires when
    /// the consumer stops: cancelled by <see cref="Consumer.CancelAsync"/>, by the broker, or by the cluster's shutdown
    /// (pass it to what the callback awaits, so a shutdown does not wait for slow work). Default: none.</summary>
    public Func<ReceivedMessage, CancellationToken, ValueTask>? OnMessageAsync { get; init; }

    /// <summary>Called for each message as a <see cref="Delivery"/> (instead of <see cref="OnMessage"/> or
    /// <see cref="OnMessageAsync"/>): the allocation-free way to consume. The delivery and its body live in
    /// records and buffers the consumer's channel reuses (bodies are always pooled, whatever
    /// <see cref="BodyReceiveMode"/> says), so it is valid only until it is settled, or for a no-ack consumer until
    /// the callback returns; copy what you keep (<see cref="Delivery.ToReceivedMessage"/>). An acknowledged delivery
    /// still waiting for its turn when its channel closes is not handed out (the broker requeues it). Requires
    /// <see cref="MaxConcurrency"/> 1. Exceptions are logged and, with a copy of the delivery if it has not ended,
    /// passed to <see cref="OnCallbackError"/>. Default: none.</summary>
    public DeliveryCallback? OnDelivery { get; init; }

    /// <summary>Whether the broker considers messages delivered as soon as it sends them (no ack needed).
    /// Default <see langword="true"/>, as in CoolAMQP.</summary>
    public bool NoAck { get; init; } = true;

    /// <summary>basic.qos prefetch-count: at most this many unacknowledged messages in flight to this consumer;
    /// null or 0 for no limit. Default: none. Has no effect with <see cref="NoAck"/>.</summary>
    public ushort? PrefetchCount { get; init; }

    /// <summary>basic.qos prefetch-size in octets; 0 for no limit (RabbitMQ supports only 0). Default 0.</summary>
    public uint PrefetchSize { get; init; }

    /// <summary>Cancel the consumer (<see cref="ConsumerState.Cancelled"/>, <see cref="OnCancel"/>) when the
    /// connection goes down, rather than leaving it <see cref="ConsumerState.Offline"/>. The cluster does not
    /// reconnect yet, so an offline consumer stays offline. Default <see langword="false"/>.</summary>
    public bool CancelOnFailure { get; init; }

    /// <summary>When the first attempt to consume meets RESOURCE_LOCKED (405: an exclusive queue or consumer held
    /// by another connection), fail the ready task with that <see cref="AmqpException"/> and cancel, instead of
    /// retrying until it succeeds. Default <see langword="false"/>.</summary>
    public bool FailOnFirstTimeResourceLocked { get; init; }

    /// <summary>How bodies are received. Default <see cref="CoolAmqp.BodyReceiveMode.Copied"/>.</summary>
    public BodyReceiveMode BodyReceiveMode { get; init; } = BodyReceiveMode.Copied;

    /// <summary>How many messages the callback may process at once. 1 (the default) keeps the order of delivery;
    /// more runs that many callbacks in parallel, without order.</summary>
    public int MaxConcurrency { get; init; } = 1;

    /// <summary>Declare the queue (queue.declare with the <see cref="Queue"/>'s settings, and its binding if it
    /// has one) before consuming, as CoolAMQP does. Default <see langword="true"/>.</summary>
    public bool DeclareQueue { get; init; } = true;

    /// <summary>Ask to be the queue's only consumer (basic.consume exclusive). Default <see langword="false"/>.</summary>
    public bool Exclusive { get; init; }

    /// <summary>basic.consume arguments (e.g. <c>x-priority</c>). Default: none.</summary>
    public FieldTable? Arguments { get; init; }

    /// <summary>Without a callback, keep messages for <see cref="Consumer.ReadAllAsync"/> instead of sending them
    /// to the cluster's events. Default <see langword="false"/>.</summary>
    public bool ReadFromConsumer { get; init; }

    /// <summary>Called (on a thread-pool thread) when the consumer is cancelled for any reason. Default: none.</summary>
    public Action<Consumer>? OnCancel { get; init; }

    /// <summary>Called (on a thread-pool thread) when the broker cancels the consumer (consumer cancel
    /// notification, e.g. its queue was deleted). <see cref="OnCancel"/> runs too. Default: none.</summary>
    public Action<Consumer>? OnBrokerCancel { get; init; }

    /// <summary>Called (on a thread-pool thread) when a message for this consumer broke a
    /// <see cref="ClusterOptions.Limits"/> limit and was refused rather than buffered: rejected without requeue (unless
    /// the consumer is no-ack), logged as a warning and posted as the <see cref="DeliveryRefused"/> event that this
    /// callback gets too. Exceptions are logged. Default: none.</summary>
    public Action<DeliveryRefused>? OnDeliveryRefused { get; init; }

    /// <summary>Called when <see cref="OnMessage"/>, <see cref="OnMessageAsync"/> or <see cref="OnDelivery"/> throws,
    /// with the message and the exception (which is also logged). For <see cref="OnDelivery"/> the message is a copy
    /// (<see cref="Delivery.ToReceivedMessage"/>), and nothing is reported when the delivery had already been
    /// settled. Default: none.</summary>
    public Action<ReceivedMessage, Exception>? OnCallbackError { get; init; }
}
