using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using CoolAmqp.Channels;
using CoolAmqp.Framing;

namespace CoolAmqp.Recovery;

/// <summary>
/// What was declared with <c>persistent: true</c> (CoolAMQP's "redefined upon reconnect"), to declare again on every
/// new connection: exchanges, queues, queue bindings, exchange-to-exchange bindings, restored in that order so that
/// each finds what it refers to. Deleting or unbinding through the cluster forgets an entry. Thread-safe.
/// </summary>
internal sealed class Topology
{
    private readonly object _sync = new();
    private readonly List<Exchange> _exchanges = [];
    private readonly List<Queue> _queues = [];
    private readonly List<QueueBinding> _queueBindings = [];
    private readonly List<ExchangeBinding> _exchangeBindings = [];

    /// <summary>A queue binding; <see cref="Queue"/> is kept (not its name) so a server-named queue's binding follows
    /// the queue's new name.</summary>
    private sealed record QueueBinding(Queue? Queue, string QueueName, string Exchange, string RoutingKey, FieldTable? Arguments)
    {
        public string CurrentQueueName => Queue?.Name ?? QueueName;

        public bool Same(Queue? queue, string queueName, string exchange, string routingKey) =>
            (queue is not null ? ReferenceEquals(Queue, queue) : Queue is null && QueueName == queueName) &&
            Exchange == exchange && RoutingKey == routingKey;
    }

    private sealed record ExchangeBinding(string Destination, string Source, string RoutingKey, FieldTable? Arguments);

    /// <summary>How many entries are recorded (for tests and logs).</summary>
    public int Count
    {
        get
        {
            lock (_sync)
            {
                return _exchanges.Count + _queues.Count + _queueBindings.Count + _exchangeBindings.Count;
            }
        }
    }

    public void Record(Exchange exchange)
    {
        lock (_sync)
        {
            _exchanges.RemoveAll(e => e.Name == exchange.Name);
            _exchanges.Add(exchange);
        }
    }

    public void Record(Queue queue)
    {
        lock (_sync)
        {
            _queues.RemoveAll(q => ReferenceEquals(q, queue) || (!queue.IsAnonymous && !q.IsAnonymous && q.Name == queue.Name));
            _queues.Add(queue);
        }
    }

    public void RecordBinding(Queue? queue, string queueName, string exchange, string routingKey, FieldTable? arguments)
    {
        lock (_sync)
        {
            _queueBindings.RemoveAll(b => b.Same(queue, queueName, exchange, routingKey));
            _queueBindings.Add(new QueueBinding(queue, queueName, exchange, routingKey, arguments));
        }
    }

    public void RecordBinding(string destination, string source, string routingKey, FieldTable? arguments)
    {
        lock (_sync)
        {
            _exchangeBindings.RemoveAll(b => b.Destination == destination && b.Source == source && b.RoutingKey == routingKey);
            _exchangeBindings.Add(new ExchangeBinding(destination, source, routingKey, arguments));
        }
    }

    /// <summary>The exchange was deleted: it and every binding to or from it are forgotten.</summary>
    public void ForgetExchange(string name)
    {
        lock (_sync)
        {
            _exchanges.RemoveAll(e => e.Name == name);
            _queueBindings.RemoveAll(b => b.Exchange == name);
            _exchangeBindings.RemoveAll(b => b.Destination == name || b.Source == name);
        }
    }

    /// <summary>The queue was deleted: it and its bindings are forgotten.</summary>
    public void ForgetQueue(string name)
    {
        lock (_sync)
        {
            _queues.RemoveAll(q => q.Name == name);
            _queueBindings.RemoveAll(b => b.CurrentQueueName == name);
        }
    }

    public void ForgetBinding(Queue? queue, string queueName, string exchange, string routingKey)
    {
        lock (_sync)
        {
            _queueBindings.RemoveAll(b => b.Same(queue, queueName, exchange, routingKey) ||
                                          (queue is not null && b.Queue is null && b.QueueName == queue.Name &&
                                           b.Exchange == exchange && b.RoutingKey == routingKey));
        }
    }

    public void ForgetBinding(string destination, string source, string routingKey)
    {
        lock (_sync)
        {
            _exchangeBindings.RemoveAll(b => b.Destination == destination && b.Source == source && b.RoutingKey == routingKey);
        }
    }

    /// <summary>Declares everything again on <paramref name="rpc"/>. A step the broker refuses is reported through
    /// <paramref name="failed"/> and the rest goes on; a step that does not finish within <paramref name="stepTimeout"/>
    /// or meets a dead connection ends the whole restore with that exception (the connection is not usable).</summary>
    public async Task RestoreAsync(RpcChannel rpc, TimeSpan stepTimeout, Action<string, Exception> failed,
        Action<Queue, string> renamed, CancellationToken cancellationToken)
    {
        Exchange[] exchanges;
        Queue[] queues;
        QueueBinding[] queueBindings;
        ExchangeBinding[] exchangeBindings;
        lock (_sync)
        {
            exchanges = [.. _exchanges];
            queues = [.. _queues];
            queueBindings = [.. _queueBindings];
            exchangeBindings = [.. _exchangeBindings];
        }

        foreach (Exchange exchange in exchanges)
        {
            await StepAsync(exchange.ToString(), ct => rpc.CallAsync(new ExchangeDeclare(exchange.Name, exchange.Type, false,
                exchange.Durable, exchange.AutoDelete, exchange.IsInternal, false, exchange.Arguments),
                ExchangeDeclareOk.CommandIdValue, 0, ct)).ConfigureAwait(false);
        }

        foreach (Queue queue in queues)
        {
            string before = queue.Name;
            await StepAsync(queue.ToString(), async ct =>
            {
                AmqpChannel channel = await rpc.GetChannelAsync(ct).ConfigureAwait(false);
                await Cluster.DeclareQueueOnAsync(channel, queue, passive: false, ct).ConfigureAwait(false);
            }).ConfigureAwait(false);
            if (queue.IsAnonymous && queue.Name != before && before.Length > 0)
            {
                renamed(queue, before);
            }
        }

        foreach (QueueBinding binding in queueBindings)
        {
            await StepAsync($"binding of '{binding.CurrentQueueName}' to '{binding.Exchange}' with '{binding.RoutingKey}'",
                ct => rpc.CallAsync(new QueueBind(binding.CurrentQueueName, binding.Exchange, binding.RoutingKey, false,
                    binding.Arguments), QueueBindOk.CommandIdValue, 0, ct)).ConfigureAwait(false);
        }

        foreach (ExchangeBinding binding in exchangeBindings)
        {
            await StepAsync($"binding of exchange '{binding.Destination}' to '{binding.Source}' with '{binding.RoutingKey}'",
                ct => rpc.CallAsync(new ExchangeBind(binding.Destination, binding.Source, binding.RoutingKey, false,
                    binding.Arguments), ExchangeBindOk.CommandIdValue, 0, ct)).ConfigureAwait(false);
        }

        async Task StepAsync(string what, Func<CancellationToken, Task> step)
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(stepTimeout);
            try
            {
                await step(deadline.Token).ConfigureAwait(false);
            }
            catch (AmqpException ex)
            {
                // A channel error: only this entity. The RPC channel reopens for the next step.
                failed(what, ex);
            }
            catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
            {
                throw new ConnectionDeadException($"Recovering {what} did not finish within {stepTimeout.TotalSeconds:0.#} s.", ex);
            }
        }
    }
}
