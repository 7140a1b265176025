namespace CoolAmqp;

/// <summary>Names of reply codes and failed methods for exception messages (cold path only).</summary>
internal static class ReplyCodeNames
{
    /// <summary>The spec's constant name for a reply code, e.g. <c>NOT_FOUND</c> for 404, or null.</summary>
    internal static string? Get(ushort replyCode) => replyCode switch
    {
        200 => "REPLY_SUCCESS",
        311 => "CONTENT_TOO_LARGE",
        312 => "NO_ROUTE",
        313 => "NO_CONSUMERS",
        320 => "CONNECTION_FORCED",
        402 => "INVALID_PATH",
        403 => "ACCESS_REFUSED",
        404 => "NOT_FOUND",
        405 => "RESOURCE_LOCKED",
        406 => "PRECONDITION_FAILED",
        501 => "FRAME_ERROR",
        502 => "SYNTAX_ERROR",
        503 => "COMMAND_INVALID",
        504 => "CHANNEL_ERROR",
        505 => "UNEXPECTED_FRAME",
        506 => "RESOURCE_ERROR",
        530 => "NOT_ALLOWED",
        540 => "NOT_IMPLEMENTED",
        541 => "INTERNAL_ERROR",
        _ => null,
    };

    /// <summary>Whether a reply code is a connection-level ("hard") error in the AMQP 0-9-1 spec.</summary>
    internal static bool IsHardError(ushort replyCode) => replyCode is 320 or 402 or (>= 501 and <= 506) or 530 or 540 or 541;

    /// <summary>The dotted name of a method, e.g. <c>basic.publish</c>, or null when unknown or zero.</summary>
    /// <remarks>Filled in from the generated <c>MethodNames</c> table once the generator is merged.</remarks>
    internal static string? MethodName(ushort classId, ushort methodId) => null;
}
