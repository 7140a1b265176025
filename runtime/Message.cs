using System;
using System.Text;

namespace CoolAmqp;

/// <summary>
/// A message to publish: a body of bytes and its <see cref="MessageProperties"/>. CoolAmqp never looks inside
/// the body. Immutable; one instance may be published many times and from many threads, provided nobody
/// changes the memory behind <see cref="Body"/> meanwhile.
/// </summary>
public sealed class Message
{
    /// <summary>Creates a message from its body bytes.</summary>
    /// <param name="body">The body. Not copied: keep the memory unchanged until publishing has finished.</param>
    /// <param name="properties">Properties to send; <see langword="null"/> sends none.</param>
    public Message(ReadOnlyMemory<byte> body, MessageProperties? properties = null)
    {
        Body = body;
        Properties = properties ?? MessageProperties.Empty;
    }

    /// <summary>Creates a message whose body is the UTF-8 encoding of <paramref name="body"/>.</summary>
    /// <param name="body">The text to send.</param>
    /// <param name="properties">Properties to send; <see langword="null"/> sends none.</param>
    public Message(string body, MessageProperties? properties = null)
        : this(Encoding.UTF8.GetBytes(body ?? throw new ArgumentNullException(nameof(body))), properties)
    {
    }

    /// <summary>The body bytes.</summary>
    public ReadOnlyMemory<byte> Body { get; }

    /// <summary>The properties; <see cref="MessageProperties.Empty"/> when none were given.</summary>
    public MessageProperties Properties { get; }

    /// <summary>Describes the message (its size and properties, not its body).</summary>
    /// <returns>A short description for logs.</returns>
    public override string ToString() => $"Message({Body.Length} bytes, {Properties})";
}
