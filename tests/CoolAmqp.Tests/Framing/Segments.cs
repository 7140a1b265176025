using System;
using System.Buffers;

namespace CoolAmqp.Tests.Framing;

/// <summary>Builds multi-segment <see cref="ReadOnlySequence{T}"/>s, as a pipe hands out data that spans buffers.</summary>
internal sealed class Segment : ReadOnlySequenceSegment<byte>
{
    private Segment(ReadOnlyMemory<byte> memory, Segment? previous)
    {
        Memory = memory;
        if (previous is not null)
        {
            RunningIndex = previous.RunningIndex + previous.Memory.Length;
            previous.Next = this;
        }
    }

    /// <summary>Splits <paramref name="data"/> at the given ascending offsets, each piece copied into its own array.</summary>
    public static ReadOnlySequence<byte> Split(byte[] data, params int[] cuts)
    {
        Segment? first = null, last = null;
        int start = 0;
        foreach (int cut in (int[])[.. cuts, data.Length])
        {
            last = new Segment(data.AsSpan(start, cut - start).ToArray(), last);
            first ??= last;
            start = cut;
        }

        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }
}
