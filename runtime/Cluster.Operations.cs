using System;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using CoolAmqp.Channels;
using CoolAmqp.Framing;
using CoolAmqp.Recovery;
using CoolAmqp.Telemetry;

namespace CoolAmqp;

/// <summary>Declarations, bindings, deletion, purge, basic.get and transactions. Each is one synchronous AMQP
/// method on the cluster's RPC channel; a channel error fails only that call (as an <see cref="AmqpException"/>)
/// and the next call gets a fresh channel.</summary>
public sealed partial class Cluster
{
    /// <summary>Declares a queue (and its binding, if the <see cref="Queue"/> names an exchange). For an anonymous
    /// queue the broker picks the name, which is then set on <paramref name="queue"/>.</summary>
    /// <param name="queue">The queue.</param>
    /// <param name="passive">Only check that the queue exists (and read its counts); nothing is created or bound.</param>
    /// <param name="persistent">Declare it again (with its auto-binding) on every new connection after a loss, as
    /// CoolAMQP's <c>declare(persistent=True)</c> does, until it is deleted through the cluster. A server-named queue
    /// gets a new name then (<see cref="QueueRenamed"/>).</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The queue's name and its message and consumer counts.</returns>
    /// <exception cref="AmqpException">E.g. NOT_FOUND for a passive declare of a missing queue, PRECONDITION_FAILED
    /// for a queue that exists with other settings, RESOURCE_LOCKED for another connection's exclusive queue.</exception>
    public async Task<QueueDeclareResult> DeclareAsync(Queue queue, bool passive = false, bool persistent = false,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(queue);
        using Activity? activity = CoolAmqpTelemetry.StartTopology("declare", queue.Name, queue.Exchange?.Name);
        try
        {
            Session session = await GetSessionAsync(cancellationToken).ConfigureAwait(false);
            AmqpChannel channel = await session.Rpc.GetChannelAsync(cancellationToken).ConfigureAwait(false);
            QueueDeclareResult result = await DeclareQueueOnAsync(channel, queue, passive, cancellationToken).ConfigureAwait(false);
            if (persistent && !passive)
            {
                _supervisor.Topology.Record(queue);
            }

            return result;
        }
        catch (Exception ex)
        {
            CoolAmqpTelemetry.Fail(activity, ex);
            throw;
        }
    }

    internal static async Task<QueueDeclareResult> DeclareQueueOnAsync(AmqpChannel channel, Queue queue, bool passive,
        CancellationToken cancellationToken)
    {
        // A server-named queue is named anew by each declaration with the empty name, so once this connection has
        // declared it, later uses (a consumer's declare among them) must name the queue the broker made: declared
        // passively, since a non-passive declare of an amq.* name is ACCESS_REFUSED. Its binding was made then.
        long connectionId = channel.Connection.Id;
        bool declaredHere = queue.IsAnonymous && queue.DeclaredOn == connectionId;
        string name = queue.IsAnonymous && !declaredHere ? string.Empty : queue.Name;
        bool asPassive = passive || declaredHere;
        RpcResponse ok = await channel.CallAsync(
            new QueueDeclare(name, asPassive, queue.Durable, queue.Exclusive, queue.AutoDelete, false, queue.Arguments),
            QueueDeclareOk.CommandIdValue, 0, cancellationToken).ConfigureAwait(false);
        string declared = ok.Name ?? name;
        if (queue.IsAnonymous && !declaredHere)
        {
            queue.Declared(declared, connectionId);
        }

        if (!asPassive && queue.Exchange is { } exchange)
        {
            await channel.CallAsync(new QueueBind(declared, exchange.Name, queue.RoutingKey, false, queue.BindArguments),
                QueueBindOk.CommandIdValue, 0, cancellationToken).ConfigureAwait(false);
        }

        return new QueueDeclareResult(declared, ok.MessageCount, ok.ConsumerCount);
    }

    /// <summary>Declares an exchange. Declaring the default exchange does nothing (it always exists).</summary>
    /// <param name="exchange">The exchange.</param>
    /// <param name="passive">Only check that it exists.</param>
    /// <param name="persistent">Declare it again on every new connection after a loss, until it is deleted through
    /// the cluster.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <exception cref="AmqpException">E.g. NOT_FOUND (passive, missing), PRECONDITION_FAILED (exists with other
    /// settings), COMMAND_INVALID (unknown type; closes the connection).</exception>
    public async Task DeclareAsync(Exchange exchange, bool passive = false, bool persistent = false,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(exchange);
        if (exchange.IsDefault)
        {
            return;
        }

        using (Activity? activity = CoolAmqpTelemetry.StartTopology("declare", exchange.Name, exchange.Name))
        {
            try
            {
                await CallAsync(new ExchangeDeclare(exchange.Name, exchange.Type, passive, exchange.Durable, exchange.AutoDelete,
                    exchange.IsInternal, false, exchange.Arguments), ExchangeDeclareOk.CommandIdValue, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                CoolAmqpTelemetry.Fail(activity, ex);
                throw;
            }
        }

        if (persistent && !passive)
        {
            _supervisor.Topology.Record(exchange);
        }
    }

    /// <summary>Binds <paramref name="queue"/> to <paramref name="exchange"/>.</summary>
    /// <param name="queue">The queue (a server-named queue by its current name).</param>
    /// <param name="exchange">The exchange.</param>
    /// <param name="routingKey">The binding's routing key.</param>
    /// <param name="arguments">Binding arguments (e.g. for a headers exchange), or null.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <param name="persistent">Bind again on every new connection after a loss (to the queue's new name, for a
    /// server-named queue), until unbound or deleted through the cluster.</param>
    public Task BindAsync(Queue queue, Exchange exchange, string routingKey = "", FieldTable? arguments = null,
        bool persistent = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(queue);
        ArgumentNullException.ThrowIfNull(exchange);
        return BindCoreAsync(queue, queue.Name, exchange.Name, routingKey, arguments, persistent, cancellationToken);
    }

    /// <summary>Binds the queue named <paramref name="queue"/> to the exchange named <paramref name="exchange"/>.</summary>
    /// <param name="queue">The queue's name.</param>
    /// <param name="exchange">The exchange's name.</param>
    /// <param name="routingKey">The binding's routing key.</param>
    /// <param name="arguments">Binding arguments (e.g. for a headers exchange), or null.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <param name="persistent">Bind again on every new connection after a loss, until unbound or deleted through
    /// the cluster.</param>
    public Task BindQueueAsync(string queue, string exchange, string routingKey = "", FieldTable? arguments = null,
        bool persistent = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(queue);
        ArgumentNullException.ThrowIfNull(exchange);
        return BindCoreAsync(null, queue, exchange, routingKey, arguments, persistent, cancellationToken);
    }

    private async Task BindCoreAsync(Queue? queue, string queueName, string exchange, string routingKey, FieldTable? arguments,
        bool persistent, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(routingKey);
        using (Activity? activity = CoolAmqpTelemetry.StartTopology("bind", queueName, exchange))
        {
            try
            {
                await CallAsync(new QueueBind(queueName, exchange, routingKey, false, arguments), QueueBindOk.CommandIdValue,
                    cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                CoolAmqpTelemetry.Fail(activity, ex);
                throw;
            }
        }

        if (persistent)
        {
            _supervisor.Topology.RecordBinding(queue, queueName, exchange, routingKey, arguments);
        }
    }

    /// <summary>Removes the binding of <paramref name="queue"/> to <paramref name="exchange"/>.</summary>
    public Task UnbindAsync(Queue queue, Exchange exchange, string routingKey = "", FieldTable? arguments = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(queue);
        ArgumentNullException.ThrowIfNull(exchange);
        ArgumentNullException.ThrowIfNull(routingKey);
        _supervisor.Topology.ForgetBinding(queue, queue.Name, exchange.Name, routingKey);
        return CallAsync(new QueueUnbind(queue.Name, exchange.Name, routingKey, arguments), QueueUnbindOk.CommandIdValue,
            cancellationToken);
    }

    /// <summary>Binds exchange <paramref name="destination"/> to exchange <paramref name="source"/> (a RabbitMQ
    /// extension): messages routed by <paramref name="source"/> with a matching key go on to
    /// <paramref name="destination"/>.</summary>
    /// <param name="destination">The exchange messages go on to.</param>
    /// <param name="source">The exchange messages come from.</param>
    /// <param name="routingKey">The binding's routing key.</param>
    /// <param name="arguments">Binding arguments (e.g. for a headers exchange), or null.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <param name="persistent">Bind again on every new connection after a loss, until unbound or deleted through
    /// the cluster.</param>
    public async Task BindAsync(Exchange destination, Exchange source, string routingKey = "", FieldTable? arguments = null,
        bool persistent = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(routingKey);
        using (Activity? activity = CoolAmqpTelemetry.StartTopology("bind", destination.Name, source.Name))
        {
            try
            {
                await CallAsync(new ExchangeBind(destination.Name, source.Name, routingKey, false, arguments),
                    ExchangeBindOk.CommandIdValue, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                CoolAmqpTelemetry.Fail(activity, ex);
                throw;
            }
        }

        if (persistent)
        {
            _supervisor.Topology.RecordBinding(destination.Name, source.Name, routingKey, arguments);
        }
    }

    /// <summary>Removes an exchange-to-exchange binding.</summary>
    public Task UnbindAsync(Exchange destination, Exchange source, string routingKey = "", FieldTable? arguments = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(routingKey);
        _supervisor.Topology.ForgetBinding(destination.Name, source.Name, routingKey);
        return CallAsync(new ExchangeUnbind(destination.Name, source.Name, routingKey, false, arguments),
            ExchangeUnbindOk.CommandIdValue, cancellationToken);
    }

    /// <summary>Deletes a queue (CoolAMQP's <c>delete_queue</c>).</summary>
    /// <returns>The number of messages deleted with it.</returns>
    public async Task<uint> DeleteQueueAsync(Queue queue, bool ifUnused = false, bool ifEmpty = false,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(queue);
        uint deleted = await DeleteQueueAsync(queue.Name, ifUnused, ifEmpty, cancellationToken).ConfigureAwait(false);
        // A server-named queue declared again after this gets a new name.
        queue.Forgotten();
        return deleted;
    }

    /// <summary>Deletes the queue named <paramref name="queue"/>.</summary>
    /// <returns>The number of messages deleted with it.</returns>
    public async Task<uint> DeleteQueueAsync(string queue, bool ifUnused = false, bool ifEmpty = false,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(queue);
        RpcResponse ok = await CallAsync(new QueueDelete(queue, ifUnused, ifEmpty, false), QueueDeleteOk.CommandIdValue,
            cancellationToken).ConfigureAwait(false);
        _supervisor.Topology.ForgetQueue(queue);
        return ok.MessageCount;
    }

    /// <summary>Deletes an exchange.</summary>
    public Task DeleteExchangeAsync(Exchange exchange, bool ifUnused = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(exchange);
        return DeleteExchangeAsync(exchange.Name, ifUnused, cancellationToken);
    }

    /// <summary>Deletes the exchange named <paramref name="exchange"/>.</summary>
    public async Task DeleteExchangeAsync(string exchange, bool ifUnused = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(exchange);
        await CallAsync(new ExchangeDelete(exchange, ifUnused, false), ExchangeDeleteOk.CommandIdValue, cancellationToken)
            .ConfigureAwait(false);
        _supervisor.Topology.ForgetExchange(exchange);
    }

    /// <summary>Removes every ready message from a queue.</summary>
    /// <returns>The number of messages removed.</returns>
    public async Task<uint> PurgeAsync(Queue queue, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(queue);
        RpcResponse ok = await CallAsync(new QueuePurge(queue.Name, false), QueuePurgeOk.CommandIdValue, cancellationToken)
            .ConfigureAwait(false);
        return ok.MessageCount;
    }

    /// <summary>Takes one message from a queue without a consumer (basic.get).</summary>
    /// <param name="queue">The queue.</param>
    /// <param name="noAck">Whether the message counts as delivered at once; otherwise settle it.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The message, or null when the queue is empty.</returns>
    /// <exception cref="ProtocolLimitExceededException">The message broke a <see cref="ClusterOptions.Limits"/> limit
    /// (its body is over <see cref="ProtocolLimits.MaxBodySize"/>, or its headers too deep or too large): it was not
    /// buffered and, unless <paramref name="noAck"/>, it was rejected without requeue. The channel and connection stay
    /// up.</exception>
    public async Task<ReceivedMessage?> GetAsync(Queue queue, bool noAck = true, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(queue);
        Session session = await GetSessionAsync(cancellationToken).ConfigureAwait(false);
        using Activity? activity = CoolAmqpTelemetry.Source.HasListeners()
            ? CoolAmqpTelemetry.StartReceive(queue.Name, session.Connection)
            : null;
        try
        {
            RpcResponse response = await session.Rpc.CallAsync(new BasicGet(queue.Name, noAck), BasicGetOk.CommandIdValue,
                BasicGetEmpty.CommandIdValue, cancellationToken, getNoAck: noAck).ConfigureAwait(false);
            if (response.Refused is { } refused)
            {
                throw refused;
            }

            ReceivedMessage? message = response.Delivery is { } delivery ? new ReceivedMessage(in delivery) : null;
            if (message is not null && CoolAmqpTelemetry.ConsumedMessages.Enabled)
            {
                CoolAmqpTelemetry.RecordConsumed("receive", message.Exchange, queue.Name, session.Connection.Settings.Host);
            }

            if (activity is not null)
            {
                CoolAmqpTelemetry.Received(activity, queue.Name, message);
            }

            return message;
        }
        catch (Exception ex)
        {
            CoolAmqpTelemetry.Fail(activity, ex);
            throw;
        }
    }

    /// <summary>Starts a transaction on a channel of its own (tx.select). Publish through it, then commit or roll
    /// back; disposing it closes the channel (uncommitted publishes are dropped).</summary>
    public async Task<Transaction> BeginTransactionAsync(CancellationToken cancellationToken = default)
    {
        Session session = await GetSessionAsync(cancellationToken).ConfigureAwait(false);
        return await Transaction.BeginAsync(session.Connection, cancellationToken).ConfigureAwait(false);
    }

    private async Task<RpcResponse> CallAsync<T>(T method, uint expected, CancellationToken cancellationToken)
        where T : struct, IAmqpMethod
    {
        Session session = await GetSessionAsync(cancellationToken).ConfigureAwait(false);
        return await session.Rpc.CallAsync(method, expected, 0, cancellationToken).ConfigureAwait(false);
    }
}
