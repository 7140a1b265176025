using System;
using CoolAmqp.Framing;

namespace CoolAmqp;

/// <summary>The exchange types RabbitMQ ships with, as the strings <c>exchange.declare</c> takes.</summary>
public static class ExchangeType
{
    /// <summary>Routes to queues bound with a routing key equal to the message's.</summary>
    public const string Direct = "direct";

    /// <summary>Routes to every bound queue, ignoring the routing key.</summary>
    public const string Fanout = "fanout";

    /// <summary>Routes by dotted routing-key patterns (<c>*</c> one word, <c>#</c> zero or more).</summary>
    public const string Topic = "topic";

    /// <summary>Routes by matching message headers against binding arguments.</summary>
    public const string Headers = "headers";
}

/// <summary>
/// An exchange to declare or publish to. Immutable. Two exchanges are equal when name, type and flags are
/// equal (<see cref="Arguments"/> are not compared).
/// </summary>
public sealed class Exchange : IEquatable<Exchange>
{
    /// <summary>The default exchange (empty name, direct): routes a message to the queue named by its routing key.
    /// It cannot be declared or deleted.</summary>
    public static Exchange Default { get; } = new(string.Empty, ExchangeType.Direct, durable: true);

    /// <summary>Defines an exchange.</summary>
    /// <param name="name">Exchange name (at most 255 UTF-8 bytes); "" is the default exchange.</param>
    /// <param name="type">Exchange type, see <see cref="ExchangeType"/>; plug-in types (e.g. <c>x-delayed-message</c>) are allowed.</param>
    /// <param name="durable">Whether the exchange survives a broker restart.</param>
    /// <param name="autoDelete">Whether the broker deletes the exchange when its last binding goes.</param>
    /// <param name="isInternal">Whether clients cannot publish to it directly (only exchange-to-exchange bindings).</param>
    /// <param name="arguments">Extra <c>exchange.declare</c> arguments, e.g. <c>alternate-exchange</c>.</param>
    /// <exception cref="ArgumentException"><paramref name="type"/> is empty.</exception>
    public Exchange(
        string name,
        string type = ExchangeType.Direct,
        bool durable = false,
        bool autoDelete = false,
        bool isInternal = false,
        FieldTable? arguments = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentException.ThrowIfNullOrEmpty(type);
        Name = name;
        Type = type;
        Durable = durable;
        AutoDelete = autoDelete;
        IsInternal = isInternal;
        Arguments = arguments;
    }

    /// <summary>Exchange name; "" for the default exchange.</summary>
    public string Name { get; }

    /// <summary>Exchange type, e.g. <see cref="ExchangeType.Topic"/>.</summary>
    public string Type { get; }

    /// <summary>Whether the exchange survives a broker restart.</summary>
    public bool Durable { get; }

    /// <summary>Whether the broker deletes the exchange when its last binding goes.</summary>
    public bool AutoDelete { get; }

    /// <summary>Whether clients cannot publish to it directly.</summary>
    public bool IsInternal { get; }

    /// <summary>Extra <c>exchange.declare</c> arguments, or <see langword="null"/>.</summary>
    public FieldTable? Arguments { get; }

    /// <summary>Whether this is the default (nameless) exchange.</summary>
    public bool IsDefault => Name.Length == 0;

    /// <inheritdoc/>
    public bool Equals(Exchange? other) =>
        other is not null
        && string.Equals(Name, other.Name, StringComparison.Ordinal)
        && string.Equals(Type, other.Type, StringComparison.Ordinal)
        && Durable == other.Durable
        && AutoDelete == other.AutoDelete
        && IsInternal == other.IsInternal;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as Exchange);

    /// <inheritdoc/>
    public override int GetHashCode() =>
        HashCode.Combine(StringComparer.Ordinal.GetHashCode(Name), StringComparer.Ordinal.GetHashCode(Type), Durable, AutoDelete, IsInternal);

    /// <summary>Describes the exchange, e.g. <c>Exchange('logs', topic, durable)</c>.</summary>
    /// <returns>A short description for logs.</returns>
    public override string ToString() =>
        $"Exchange('{Name}', {Type}{(Durable ? ", durable" : string.Empty)}{(AutoDelete ? ", auto-delete" : string.Empty)}{(IsInternal ? ", internal" : string.Empty)})";
}
