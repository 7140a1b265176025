using System.Diagnostics.CodeAnalysis;

namespace CoolAmqp.Framing;

/// <summary>
/// The type code of a field-table or field-array value as RabbitMQ writes it on the wire
/// (the AMQP 0-9-1 errata table, which RabbitMQ follows instead of the spec's grammar).
/// </summary>
/// <remarks>
/// The CLR type each code decodes to (see <see cref="FieldTable"/>) is given per member.
/// RabbitMQ also accepts <c>'L'</c> as a signed 64-bit integer; it is read as <see cref="Int64"/>
/// and never written. There is no unsigned 64-bit code.
/// </remarks>
[SuppressMessage("Design", "CA1028:Enum Storage should be Int32", Justification = "The values are wire octets.")]
[SuppressMessage("Naming", "CA1720:Identifier contains type name", Justification = "The members name the CLR type each code decodes to.")]
public enum FieldValueType : byte
{
    /// <summary><c>'t'</c>: boolean octet → <see cref="bool"/>.</summary>
    Boolean = (byte)'t',

    /// <summary><c>'b'</c>: signed 8-bit → <see cref="sbyte"/>.</summary>
    SByte = (byte)'b',

    /// <summary><c>'B'</c>: unsigned 8-bit → <see cref="byte"/>.</summary>
    Byte = (byte)'B',

    /// <summary><c>'s'</c>: signed 16-bit → <see cref="short"/>.</summary>
    Int16 = (byte)'s',

    /// <summary><c>'u'</c>: unsigned 16-bit → <see cref="ushort"/>.</summary>
    UInt16 = (byte)'u',

    /// <summary><c>'I'</c>: signed 32-bit → <see cref="int"/>.</summary>
    Int32 = (byte)'I',

    /// <summary><c>'i'</c>: unsigned 32-bit → <see cref="uint"/>.</summary>
    UInt32 = (byte)'i',

    /// <summary><c>'l'</c>: signed 64-bit → <see cref="long"/>.</summary>
    Int64 = (byte)'l',

    /// <summary><c>'f'</c>: IEEE 754 single → <see cref="float"/>.</summary>
    Single = (byte)'f',

    /// <summary><c>'d'</c>: IEEE 754 double → <see cref="double"/>.</summary>
    Double = (byte)'d',

    /// <summary><c>'D'</c>: scale octet + signed 32-bit unscaled value → <see cref="AmqpDecimal"/>.</summary>
    Decimal = (byte)'D',

    /// <summary><c>'S'</c>: long string (32-bit length + UTF-8) → <see cref="string"/>.</summary>
    LongString = (byte)'S',

    /// <summary><c>'x'</c>: byte array (32-bit length + bytes) → <c>byte[]</c>.</summary>
    Bytes = (byte)'x',

    /// <summary><c>'A'</c>: field array (32-bit byte length + values) → <c>object?[]</c>.</summary>
    Array = (byte)'A',

    /// <summary><c>'T'</c>: unsigned 64-bit seconds since the Unix epoch → <see cref="AmqpTimestamp"/>.</summary>
    Timestamp = (byte)'T',

    /// <summary><c>'F'</c>: nested field table → <see cref="FieldTable"/>.</summary>
    Table = (byte)'F',

    /// <summary><c>'V'</c>: no value → <see langword="null"/>.</summary>
    Void = (byte)'V',
}
