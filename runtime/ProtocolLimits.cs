using System;
using CoolAmqp.Framing;

namespace CoolAmqp;

/// <summary>
/// Limits on what the broker may send, so that a hostile or broken peer cannot make the client allocate without
/// bound (<see cref="ClusterOptions.Limits"/>). Every limit is checked before anything is allocated for the input it
/// guards. Related limits live elsewhere: the frame size is negotiated (<see cref="NodeDefinition.FrameMax"/>, and the
/// client never agrees to "no limit"), so is the channel count (<see cref="NodeDefinition.ChannelMax"/>), and every
/// step of the handshake is bounded by <see cref="NodeDefinition.ConnectionTimeout"/>.
/// </summary>
/// <remarks>
/// A delivery that breaks a limit is refused, not buffered: its body frames are read and dropped as they arrive, it is
/// rejected without requeue (<c>basic.reject</c>, <c>requeue=false</c>: a queue with a dead-letter exchange
/// dead-letters it, others drop it; a no-ack delivery is already gone), a warning is logged, and the application hears
/// of it as a <see cref="DeliveryRefused"/> event (and <see cref="ConsumerOptions.OnDeliveryRefused"/>), or
/// <see cref="Cluster.GetAsync"/> fails with <see cref="ProtocolLimitExceededException"/>. The connection stays up:
/// closing it would only have the broker deliver the same message again. Limits broken during the handshake
/// (the broker's server-properties table) fail the connect with a <see cref="ConnectionDeadException"/> whose inner
/// exception is the <see cref="ProtocolLimitExceededException"/>.
/// </remarks>
public sealed record ProtocolLimits
{
    /// <summary>The default of <see cref="MaxBodySize"/>: 128 MiB (134,217,728 bytes).</summary>
    public const long DefaultMaxBodySize = 128L * 1024 * 1024;

    /// <summary>The default (and largest allowed value) of <see cref="MaxFieldTableDepth"/>: 64.</summary>
    public const int DefaultMaxFieldTableDepth = 64;

    /// <summary>The default of <see cref="MaxFieldTableEntries"/>: 4096.</summary>
    public const int DefaultMaxFieldTableEntries = 4096;

    private readonly long _maxBodySize = DefaultMaxBodySize;
    private readonly int _maxFieldTableDepth = DefaultMaxFieldTableDepth;
    private readonly int _maxFieldTableEntries = DefaultMaxFieldTableEntries;

    /// <summary>The limits with every default.</summary>
    public static ProtocolLimits Default { get; } = new();

    /// <summary>The largest body of one inbound message (delivery, <c>basic.get</c> answer or returned message), in
    /// bytes, as announced by its content header; a larger one is refused before any body buffer is taken. Default
    /// 128 MiB (<see cref="DefaultMaxBodySize"/>), what RabbitMQ 3.8 to 3.13 accept by default (RabbitMQ 4 accepts
    /// 16 MiB by default, at most 512 MiB when configured) and what RabbitMQ.Client 7 accepts by default.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Set to less than 1 or more than <see cref="Array.MaxLength"/>.</exception>
    public long MaxBodySize
    {
        get => _maxBodySize;
        init
        {
            if (value < 1 || value > Array.MaxLength)
            {
                throw new ArgumentOutOfRangeException(nameof(MaxBodySize), value,
                    $"The body size limit must be from 1 to {Array.MaxLength} bytes.");
            }

            _maxBodySize = value;
        }
    }

    /// <summary>How deeply tables and arrays may nest inside an inbound field table (message headers, the broker's
    /// server-properties): a flat table has depth 0, a table holding a table or an array depth 1. Checked while the
    /// encoded table is scanned, before any of it is decoded. Default 64 (<see cref="DefaultMaxFieldTableDepth"/>),
    /// which is also the most allowed: the decoder and encoder refuse anything deeper in any case.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Set to less than 0 or more than 64.</exception>
    public int MaxFieldTableDepth
    {
        get => _maxFieldTableDepth;
        init
        {
            if (value < 0 || value > DefaultMaxFieldTableDepth)
            {
                throw new ArgumentOutOfRangeException(nameof(MaxFieldTableDepth), value,
                    $"The field table depth limit must be from 0 to {DefaultMaxFieldTableDepth}.");
            }

            _maxFieldTableDepth = value;
        }
    }

    /// <summary>How many entries one inbound field table (or elements one field array) may hold, counted at each level
    /// separately. Checked while the encoded table is scanned, before any of it is decoded. Default 4096
    /// (<see cref="DefaultMaxFieldTableEntries"/>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Set to less than 1.</exception>
    public int MaxFieldTableEntries
    {
        get => _maxFieldTableEntries;
        init
        {
            if (value < 1)
            {
                throw new ArgumentOutOfRangeException(nameof(MaxFieldTableEntries), value,
                    "The field table entry limit must be at least 1.");
            }

            _maxFieldTableEntries = value;
        }
    }

    /// <summary>Checks an inbound table body against the table limits (scanned, nothing decoded): throws rather than
    /// returning.</summary>
    /// <exception cref="ProtocolLimitExceededException">A limit was exceeded.</exception>
    /// <exception cref="AmqpFrameFormatException">The table is malformed.</exception>
    internal void EnforceTableLimits(ReadOnlySpan<byte> body, string what)
    {
        TableLimit exceeded = FieldCodec.CheckLimits(body, MaxFieldTableDepth, MaxFieldTableEntries, out int found);
        if (exceeded != TableLimit.None)
        {
            throw TableLimitException(exceeded, found, what);
        }
    }

    /// <summary>The error for what <see cref="FieldCodec.CheckLimits"/> found exceeded.</summary>
    internal ProtocolLimitExceededException TableLimitException(TableLimit exceeded, int found, string what) =>
        exceeded == TableLimit.Depth
            ? ProtocolLimitExceededException.TableTooDeep(what, found, MaxFieldTableDepth)
            : ProtocolLimitExceededException.TooManyEntries(what, MaxFieldTableEntries);
}
