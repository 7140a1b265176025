using System;
using System.Threading;

namespace CoolAmqp.Compat;

/// <summary>.NET Core 3's <c>CancellationToken.UnsafeRegister</c>: netstandard2.0 has only the registration that
/// flows the execution context, which is what this falls back to (a small cost, no change in behaviour here).</summary>
internal static class CancellationTokenCompat
{
    extension(CancellationToken token)
    {
        public CancellationTokenRegistration UnsafeRegister(Action<object?> callback, object? state) =>
            token.Register(callback!, state);

        public CancellationTokenRegistration UnsafeRegister(Action<object?, CancellationToken> callback, object? state)
        {
            CancellationToken captured = token;
            return token.Register(s => callback(s, captured), state);
        }
    }
}
