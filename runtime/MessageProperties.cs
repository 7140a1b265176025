using System;
using CoolAmqp.Framing;

namespace CoolAmqp;

/// <summary>
/// The 14 AMQP basic content properties of a message (AMQP 0-9-1 class <c>basic</c>, field list).
/// A property is sent exactly when it is non-null, so a zero <see cref="Priority"/> is sent as 0.
/// </summary>
/// <remarks>
/// Immutable once built (except the contents of <see cref="Headers"/>, which you should not change after
/// publishing). Use <c>with</c> to derive a variant: <c>props with { Priority = 5 }</c>.
/// </remarks>
public sealed record MessageProperties
{
    /// <summary>No properties at all; what <see cref="Message"/> uses when none are given.</summary>
    public static MessageProperties Empty { get; } = new();

    private readonly DateTimeOffset? _timestamp;

    /// <summary>MIME content type, e.g. <c>application/json</c> (shortstr, at most 255 UTF-8 bytes).</summary>
    public string? ContentType { get; init; }

    /// <summary>MIME content encoding, e.g. <c>gzip</c>.</summary>
    public string? ContentEncoding { get; init; }

    /// <summary>Application headers (also used by headers exchanges for routing).</summary>
    public FieldTable? Headers { get; init; }

    /// <summary>1 = transient, 2 = persistent; see <see cref="DeliveryModes"/>.</summary>
    public byte? DeliveryMode { get; init; }

    /// <summary>Message priority, 0 to 9 in practice.</summary>
    public byte? Priority { get; init; }

    /// <summary>Application correlation identifier, e.g. the id of the request this replies to.</summary>
    public string? CorrelationId { get; init; }

    /// <summary>Address (usually a queue name) to reply to.</summary>
    public string? ReplyTo { get; init; }

    /// <summary>Per-message TTL in milliseconds, as a decimal string (RabbitMQ's convention), e.g. <c>"60000"</c>.</summary>
    public string? Expiration { get; init; }

    /// <summary>Application message identifier.</summary>
    public string? MessageId { get; init; }

    /// <summary>Message timestamp. AMQP carries whole seconds since the Unix epoch, so sub-second parts are dropped
    /// when sent; a received value beyond <see cref="DateTimeOffset.MaxValue"/> reads as <see cref="DateTimeOffset.MaxValue"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Set to a moment before 1970-01-01 (AMQP timestamps are unsigned).</exception>
    public DateTimeOffset? Timestamp
    {
        get => _timestamp;
        init
        {
            if (value is { } t && t < DateTimeOffset.UnixEpoch)
            {
                throw new ArgumentOutOfRangeException(nameof(Timestamp), t, "An AMQP timestamp cannot be before 1970-01-01.");
            }

            _timestamp = value;
        }
    }

    /// <summary>Message type name.</summary>
    public string? Type { get; init; }

    /// <summary>Creating user id; RabbitMQ checks it equals the connection's user.</summary>
    public string? UserId { get; init; }

    /// <summary>Creating application id.</summary>
    public string? AppId { get; init; }

    /// <summary>Intra-cluster routing identifier (deprecated in AMQP 0-9-1, carried for completeness).</summary>
    public string? ClusterId { get; init; }

    /// <summary>Whether <see cref="DeliveryMode"/> is <see cref="DeliveryModes.Persistent"/>.</summary>
    public bool IsPersistent => DeliveryMode == DeliveryModes.Persistent;

    /// <summary>Whether no property is set.</summary>
    public bool IsEmpty =>
        ContentType is null && ContentEncoding is null && Headers is null && DeliveryMode is null && Priority is null
        && CorrelationId is null && ReplyTo is null && Expiration is null && MessageId is null && Timestamp is null
        && Type is null && UserId is null && AppId is null && ClusterId is null;

    /// <summary>The generated wire form, for encoding a content header. Allocates nothing.</summary>
    /// <returns>The same properties as a <see cref="BasicProperties"/>; absent stays absent.</returns>
    internal BasicProperties ToWire() => new()
    {
        ContentType = ContentType,
        ContentEncoding = ContentEncoding,
        Headers = Headers,
        DeliveryMode = DeliveryMode,
        Priority = Priority,
        CorrelationId = CorrelationId,
        ReplyTo = ReplyTo,
        Expiration = Expiration,
        MessageId = MessageId,
        Timestamp = Timestamp is { } timestamp ? (ulong)timestamp.ToUnixTimeSeconds() : null,
        Type = Type,
        UserId = UserId,
        AppId = AppId,
        Reserved = ClusterId,
    };

    /// <summary>Decodes a content header's property section: the flags word followed by the present values
    /// (the content-header payload after class id, weight and body size). Empty input means no properties.</summary>
    /// <param name="raw">The property section.</param>
    /// <returns>The decoded properties (<see cref="Empty"/> when no flag is set).</returns>
    /// <exception cref="AmqpFrameFormatException">The section is malformed.</exception>
    internal static MessageProperties FromWire(ReadOnlySpan<byte> raw)
    {
        if (raw.IsEmpty)
        {
            return Empty;
        }

        BasicProperties.Reader r = BasicProperties.Read(raw);
        return r.Flags == 0 ? Empty : FromWire(r.ToProperties());
    }

    /// <summary>Converts the generated wire form back.</summary>
    /// <param name="wire">The wire form.</param>
    /// <returns>The same properties.</returns>
    internal static MessageProperties FromWire(in BasicProperties wire) => new()
    {
        ContentType = wire.ContentType,
        ContentEncoding = wire.ContentEncoding,
        Headers = wire.Headers,
        DeliveryMode = wire.DeliveryMode,
        Priority = wire.Priority,
        CorrelationId = wire.CorrelationId,
        ReplyTo = wire.ReplyTo,
        Expiration = wire.Expiration,
        MessageId = wire.MessageId,
        Timestamp = wire.Timestamp is { } seconds ? FromUnixSeconds(seconds) : null,
        Type = wire.Type,
        UserId = wire.UserId,
        AppId = wire.AppId,
        ClusterId = wire.Reserved,
    };

    private const ulong MaxUnixSeconds = 253_402_300_799; // 9999-12-31T23:59:59Z, DateTimeOffset.MaxValue

    private static DateTimeOffset FromUnixSeconds(ulong seconds) =>
        seconds > MaxUnixSeconds ? DateTimeOffset.MaxValue : DateTimeOffset.FromUnixTimeSeconds((long)seconds);
}

/// <summary>Values of <see cref="MessageProperties.DeliveryMode"/>.</summary>
public static class DeliveryModes
{
    /// <summary>The broker may keep the message in memory only (1).</summary>
    public const byte Transient = 1;

    /// <summary>The broker writes the message to disk in a durable queue (2).</summary>
    public const byte Persistent = 2;
}
