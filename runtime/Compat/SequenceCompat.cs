using System;
using System.Buffers;

namespace CoolAmqp.Compat;

/// <summary>.NET Core 3's <c>ReadOnlySequence&lt;T&gt;.FirstSpan</c>.</summary>
internal static class SequenceCompat
{
    extension<T>(ReadOnlySequence<T> sequence)
    {
        public ReadOnlySpan<T> FirstSpan => sequence.First.Span;
    }
}
