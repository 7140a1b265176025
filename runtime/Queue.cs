using System;
using System.Diagnostics.CodeAnalysis;
using System.Threading;
using CoolAmqp.Framing;

namespace CoolAmqp;

/// <summary>
/// A queue to declare, bind or consume from. A queue created with the empty name is server-named (anonymous):
/// the broker names it when it is first declared, and from then on the <see cref="Queue"/> object stands for that
/// one broker queue: <see cref="Name"/> holds the broker's name, and every later use on the same connection
/// (consume, bind, unbind, purge, delete, another declare) goes to it. A consumer declaring it again declares it
/// passively. After the queue is deleted through the cluster, or on a new connection, the next declaration makes
/// a new queue with a new name.
/// </summary>
/// <remarks>
/// If <see cref="Exchange"/> is set, the queue is bound to it with <see cref="RoutingKey"/> (and
/// <see cref="BindArguments"/>) right after it is declared, as CoolAMQP's auto-binding does.
/// Queues compare by reference: the same object is the same queue, since its name may change.
/// </remarks>
[SuppressMessage("Naming", "CA1711:Identifiers should not have incorrect suffix",
    Justification = "It is an AMQP queue; the name mirrors CoolAMQP's Queue and the protocol's vocabulary.")]
public sealed class Queue
{
    private string _name;
    private long _declaredOn;

    /// <summary>Defines a queue.</summary>
    /// <param name="name">Queue name (at most 255 UTF-8 bytes); "" lets the broker choose one (anonymous queue).</param>
    /// <param name="durable">Whether the queue survives a broker restart.</param>
    /// <param name="exclusive">Whether only this connection may use it; the broker deletes it when the connection closes.</param>
    /// <param name="autoDelete">Whether the broker deletes it when its last consumer goes.</param>
    /// <param name="arguments">Extra <c>queue.declare</c> arguments (e.g. <c>x-message-ttl</c>, <c>x-queue-type</c>).</param>
    /// <param name="exchange">An exchange to bind the queue to after declaring it, or <see langword="null"/>.</param>
    /// <param name="routingKey">The routing key of that binding; default "".</param>
    /// <param name="bindArguments">Arguments of that binding (e.g. for a headers exchange), or <see langword="null"/>.</param>
    public Queue(
        string name = "",
        bool durable = false,
        bool exclusive = false,
        bool autoDelete = false,
        FieldTable? arguments = null,
        Exchange? exchange = null,
        string routingKey = "",
        FieldTable? bindArguments = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(routingKey);
        _name = name;
        IsAnonymous = name.Length == 0;
        Durable = durable;
        Exclusive = exclusive;
        AutoDelete = autoDelete;
        Arguments = arguments;
        Exchange = exchange;
        RoutingKey = routingKey;
        BindArguments = bindArguments;
    }

    /// <summary>
    /// The queue's name: the one given, or for an anonymous queue the name the broker assigned in its last
    /// <c>queue.declare-ok</c> ("" before the first declaration). Set by the library only.
    /// </summary>
    public string Name
    {
        get => Volatile.Read(ref _name);
        internal set => Volatile.Write(ref _name, value ?? throw new ArgumentNullException(nameof(value)));
    }

    /// <summary>The connection (<c>AmqpConnection.Id</c>) on which a server-named queue got its current name; 0 if none.</summary>
    internal long DeclaredOn => Volatile.Read(ref _declaredOn);

    /// <summary>A declaration on connection <paramref name="connectionId"/> named this server-named queue.</summary>
    internal void Declared(string name, long connectionId)
    {
        Name = name;
        Volatile.Write(ref _declaredOn, connectionId);
    }

    /// <summary>The queue was deleted: a server-named queue is named anew by its next declaration.</summary>
    internal void Forgotten() => Volatile.Write(ref _declaredOn, 0);

    /// <summary>Whether the queue was defined without a name, so the broker names it.</summary>
    public bool IsAnonymous { get; }

    /// <summary>Whether the queue survives a broker restart.</summary>
    public bool Durable { get; }

    /// <summary>Whether only the declaring connection may use the queue.</summary>
    public bool Exclusive { get; }

    /// <summary>Whether the broker deletes the queue when its last consumer goes.</summary>
    public bool AutoDelete { get; }

    /// <summary>Extra <c>queue.declare</c> arguments, or <see langword="null"/>.</summary>
    public FieldTable? Arguments { get; }

    /// <summary>Exchange to bind the queue to after declaring it, or <see langword="null"/> for no auto-binding.</summary>
    public Exchange? Exchange { get; }

    /// <summary>Routing key of the auto-binding to <see cref="Exchange"/>.</summary>
    public string RoutingKey { get; }

    /// <summary>Arguments of the auto-binding to <see cref="Exchange"/>, or <see langword="null"/>.</summary>
    public FieldTable? BindArguments { get; }

    /// <summary>Describes the queue, e.g. <c>Queue('jobs', durable)</c>.</summary>
    /// <returns>A short description for logs.</returns>
    public override string ToString() =>
        $"Queue('{Name}'{(IsAnonymous ? ", anonymous" : string.Empty)}{(Durable ? ", durable" : string.Empty)}{(Exclusive ? ", exclusive" : string.Empty)}{(AutoDelete ? ", auto-delete" : string.Empty)}{(Exchange is null ? string.Empty : $", bound to '{Exchange.Name}' with '{RoutingKey}'")})";
}
