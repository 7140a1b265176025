using System;
using System.Text;
using CoolAmqp.Framing;

namespace CoolAmqp;

/// <summary>Names of reply codes and failed methods for exception messages (cold path only).</summary>
internal static class ReplyCodeNames
{
    /// <summary>The spec's constant name for a reply code, e.g. <c>NOT_FOUND</c> for 404, or null when the code is not in the spec.</summary>
    internal static string? Get(ushort replyCode)
    {
        // The generated enum drops the "reply-" prefix and uses PascalCase (NotFound); RabbitMQ and the spec
        // spell the constants NOT_FOUND, which is what users grep logs for.
        string? pascal = Enum.GetName((ReplyCode)replyCode);
        if (pascal is null)
        {
            return null;
        }

        if (replyCode == (ushort)ReplyCode.Success)
        {
            return "REPLY_SUCCESS";
        }

        var sb = new StringBuilder(pascal.Length + 4);
        for (int i = 0; i < pascal.Length; i++)
        {
            char c = pascal[i];
            if (i > 0 && char.IsUpper(c))
            {
                sb.Append('_');
            }

            sb.Append(char.ToUpperInvariant(c));
        }

        return sb.ToString();
    }

    /// <summary>Whether a reply code is a connection-level ("hard") error in the AMQP 0-9-1 spec.</summary>
    internal static bool IsHardError(ushort replyCode) => ReplyCodes.IsHardError(replyCode);

    /// <summary>The dotted name of a method, e.g. <c>basic.publish</c>, or null when unknown or zero.</summary>
    internal static string? MethodName(ushort classId, ushort methodId) =>
        classId == 0 && methodId == 0 ? null : MethodNames.Get(((uint)classId << 16) | methodId);
}
