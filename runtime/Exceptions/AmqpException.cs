using System;
using System.Globalization;
using CoolAmqp.Framing;

namespace CoolAmqp;

/// <summary>
/// The broker refused an operation: it closed the channel (a soft error, e.g. 404 NOT_FOUND) or the whole
/// connection (a hard error, e.g. 530 NOT_ALLOWED) with a reply code and text.
/// </summary>
/// <remarks>The message names the failed method when the broker said which one, e.g.
/// <c>basic.publish failed: 404 NOT_FOUND - no exchange 'x' in vhost '/'</c>.</remarks>
public class AmqpException : CoolAmqpException
{
    /// <summary>Creates the exception from the fields of a <c>channel.close</c> or <c>connection.close</c>.</summary>
    /// <param name="replyCode">The AMQP reply code, e.g. 404.</param>
    /// <param name="replyText">The broker's reply text, e.g. <c>NOT_FOUND - no exchange 'x' in vhost '/'</c>.</param>
    /// <param name="classId">Class id of the method that caused the close, or 0.</param>
    /// <param name="methodId">Method id of the method that caused the close, or 0.</param>
    public AmqpException(ushort replyCode, string replyText, ushort classId, ushort methodId)
        : this(replyCode, replyText, classId, methodId, null)
    {
    }

    /// <summary>Creates the exception from the fields of a close method, with the exception that caused it.</summary>
    /// <param name="replyCode">The AMQP reply code, e.g. 404.</param>
    /// <param name="replyText">The broker's reply text.</param>
    /// <param name="classId">Class id of the method that caused the close, or 0.</param>
    /// <param name="methodId">Method id of the method that caused the close, or 0.</param>
    /// <param name="innerException">The exception that caused this one, or <see langword="null"/>.</param>
    public AmqpException(ushort replyCode, string replyText, ushort classId, ushort methodId, Exception? innerException)
        : base(FormatMessage(replyCode, replyText, classId, methodId), innerException)
    {
        ReplyCode = replyCode;
        ReplyText = replyText ?? string.Empty;
        ClassId = classId;
        MethodId = methodId;
    }

    /// <summary>Creates the exception with a generic message and no reply code.</summary>
    public AmqpException()
        : base("The AMQP broker refused the operation.")
    {
        ReplyText = string.Empty;
    }

    /// <summary>Creates the exception with a message and no reply code.</summary>
    /// <param name="message">What went wrong.</param>
    public AmqpException(string message)
        : base(message)
    {
        ReplyText = string.Empty;
    }

    /// <summary>Creates the exception with a message, the exception that caused it and no reply code.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The exception that caused this one.</param>
    public AmqpException(string message, Exception innerException)
        : base(message, innerException)
    {
        ReplyText = string.Empty;
    }

    /// <summary>The AMQP reply code, e.g. 404 (NOT_FOUND); 0 when not known.</summary>
    public ushort ReplyCode { get; }

    /// <summary>The broker's reply text; empty when not known.</summary>
    public string ReplyText { get; }

    /// <summary>Class id of the method that failed (e.g. 60 for basic), or 0 when the broker did not say.</summary>
    public ushort ClassId { get; }

    /// <summary>Method id of the method that failed (e.g. 40 for basic.publish), or 0 when the broker did not say.</summary>
    public ushort MethodId { get; }

    /// <summary>The name of the method that failed, e.g. <c>basic.publish</c>, or <see langword="null"/> when unknown.</summary>
    public string? MethodName => GetMethodName(ClassId, MethodId);

    /// <summary>
    /// Whether the reply code is a connection (hard) error, after which the broker closes the whole connection,
    /// rather than a channel (soft) error (AMQP 0-9-1 section 1.3, "Constants").
    /// </summary>
    public bool IsHardError => ReplyCodes.IsHardError(ReplyCode);

    // 0.0 is how a broker says it was no method in particular.
    private static string? GetMethodName(ushort classId, ushort methodId) =>
        classId == 0 && methodId == 0 ? null : MethodNames.Get(((uint)classId << 16) | methodId);

    private static string FormatMessage(ushort replyCode, string? replyText, ushort classId, ushort methodId)
    {
        string text = replyText ?? string.Empty;
        string code = replyCode.ToString(CultureInfo.InvariantCulture);
        string? name = ReplyCodes.GetName(replyCode);

        // RabbitMQ's reply texts already start with the constant's name ("NOT_FOUND - no exchange ..."); others may not.
        string detail = name is null || text.StartsWith(name, StringComparison.Ordinal)
            ? (text.Length == 0 ? code : code + " " + text)
            : (text.Length == 0 ? code + " " + name : code + " " + name + " - " + text);

        string? method = GetMethodName(classId, methodId);
        if (method is not null)
        {
            return method + " failed: " + detail;
        }

        if (classId != 0 || methodId != 0)
        {
            return string.Create(CultureInfo.InvariantCulture, $"method {classId}.{methodId} failed: {detail}");
        }

        return "AMQP error: " + detail;
    }
}
