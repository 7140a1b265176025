using System;

namespace CoolAmqp.Framing;

/// <summary>
/// Implemented by every generated method struct (<c>BasicPublish</c>, <c>QueueDeclare</c>, ...).
/// Call sites are generic (<c>where T : struct, IAmqpMethod</c>) so writing a method never boxes it.
/// </summary>
internal interface IAmqpMethod
{
    /// <summary>The AMQP class index, e.g. 60 for basic.</summary>
    ushort ClassId { get; }

    /// <summary>The method index within its class, e.g. 40 for basic.publish.</summary>
    ushort MethodId { get; }

    /// <summary><c>ClassId &lt;&lt; 16 | MethodId</c>: one number that names the method.</summary>
    uint CommandId { get; }

    /// <summary>Whether the peer answers this method with a response method.</summary>
    bool Synchronous { get; }

    /// <summary>Whether a content header and body frames follow this method.</summary>
    bool HasContent { get; }

    /// <summary>The exact number of bytes <see cref="WriteArguments"/> writes.</summary>
    /// <exception cref="ArgumentException">A field value does not fit its AMQP type.</exception>
    int GetSize();

    /// <summary>Writes the method's arguments (not its class and method ids) and returns the bytes written.</summary>
    /// <exception cref="ArgumentException">A field value does not fit its AMQP type.</exception>
    int WriteArguments(Span<byte> destination);
}
