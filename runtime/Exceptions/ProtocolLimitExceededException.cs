using System;
using System.Globalization;

namespace CoolAmqp;

/// <summary>
/// The broker sent something larger or deeper than a <see cref="ProtocolLimits"/> limit allows: a message body over
/// <see cref="ProtocolLimits.MaxBodySize"/>, or a field table nested deeper than
/// <see cref="ProtocolLimits.MaxFieldTableDepth"/> or holding more than <see cref="ProtocolLimits.MaxFieldTableEntries"/>
/// entries. It was refused before anything was allocated for it (see <see cref="ProtocolLimits"/> for what happens to
/// a refused delivery).
/// </summary>
public sealed class ProtocolLimitExceededException : CoolAmqpException
{
    /// <summary>Creates the exception naming the limit, the value the broker sent and the value allowed.</summary>
    /// <param name="limit">The name of the <see cref="ProtocolLimits"/> property, e.g. <c>MaxBodySize</c>.</param>
    /// <param name="actual">What the broker sent (bytes, levels or entries).</param>
    /// <param name="allowed">What the limit allows.</param>
    /// <param name="message">What was refused, and why.</param>
    public ProtocolLimitExceededException(string limit, long actual, long allowed, string message)
        : base(message)
    {
        Limit = limit ?? string.Empty;
        Actual = actual;
        Allowed = allowed;
    }

    /// <summary>Creates the exception with a generic message.</summary>
    public ProtocolLimitExceededException()
        : base("The broker sent more than a protocol limit allows.")
    {
        Limit = string.Empty;
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What happened.</param>
    public ProtocolLimitExceededException(string message)
        : base(message)
    {
        Limit = string.Empty;
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    /// <param name="message">What happened.</param>
    /// <param name="innerException">The cause.</param>
    public ProtocolLimitExceededException(string message, Exception innerException)
        : base(message, innerException)
    {
        Limit = string.Empty;
    }

    /// <summary>The <see cref="ProtocolLimits"/> property that was exceeded (<c>MaxBodySize</c>,
    /// <c>MaxFieldTableDepth</c> or <c>MaxFieldTableEntries</c>); empty when not known.</summary>
    public string Limit { get; }

    /// <summary>What the broker sent: body bytes, nesting levels or entries of one table.</summary>
    public long Actual { get; }

    /// <summary>What the limit allows.</summary>
    public long Allowed { get; }

    internal static ProtocolLimitExceededException BodyTooLarge(string what, ulong bodySize, long limit) => new(
        nameof(ProtocolLimits.MaxBodySize), bodySize > long.MaxValue ? long.MaxValue : (long)bodySize, limit,
        string.Create(CultureInfo.InvariantCulture,
            $"{what} has a body of {bodySize} bytes, over ProtocolLimits.MaxBodySize ({limit} bytes)."));

    internal static ProtocolLimitExceededException TableTooDeep(string what, int depth, int limit) => new(
        nameof(ProtocolLimits.MaxFieldTableDepth), depth, limit,
        string.Create(CultureInfo.InvariantCulture,
            $"{what} nests tables and arrays {depth} levels deep, over ProtocolLimits.MaxFieldTableDepth ({limit})."));

    internal static ProtocolLimitExceededException TooManyEntries(string what, int limit) => new(
        nameof(ProtocolLimits.MaxFieldTableEntries), limit + 1L, limit,
        string.Create(CultureInfo.InvariantCulture,
            $"{what} holds a table or array of more than {limit} entries, over ProtocolLimits.MaxFieldTableEntries ({limit})."));
}
