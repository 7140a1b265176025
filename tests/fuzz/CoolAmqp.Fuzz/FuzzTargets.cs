using System;
using System.Buffers;
using CoolAmqp.Framing;

namespace CoolAmqp.Fuzz;

/// <summary>
/// What the fuzzer feeds: the first byte picks a parser, the rest is its input. Every parser of bytes from the
/// broker is here: the frame decoder (over one or two segments), every generated method reader, the content-header
/// reader and the field-table codec. Each input must give a result or <see cref="AmqpFrameFormatException"/>; any
/// other exception is a bug (the fuzzer records it as a crash, the corpus replay test fails on it).
/// </summary>
internal static class FuzzTargets
{
    /// <summary>The parsers, by the first byte of an input modulo their count.</summary>
    public enum Target
    {
        /// <summary>Frames from a byte stream, split in two segments where the second byte says.</summary>
        Frames,

        /// <summary>A method-frame payload (class id, method id, arguments) through every generated reader.</summary>
        Method,

        /// <summary>A content-header payload with all its properties.</summary>
        ContentHeader,

        /// <summary>A field table: decoded, encoded again, and the encoding must be stable.</summary>
        FieldTable,
    }

    private const int TargetCount = 4;

    /// <summary>Runs one input; throws <see cref="AmqpFrameFormatException"/> for input the parsers reject.</summary>
    /// <param name="input">The fuzzer's bytes.</param>
    public static void Run(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
        {
            return;
        }

        ReadOnlySpan<byte> data = input.Slice(1);
        switch ((Target)(input[0] % TargetCount))
        {
            case Target.Frames:
                Frames(data);
                break;
            case Target.Method:
                MethodDispatcher.Decode(data);
                break;
            case Target.ContentHeader:
                Header(data);
                break;
            default:
                Table(data);
                break;
        }
    }

    /// <summary>Makes an input for <paramref name="target"/> from a parser's own bytes (for seeds).</summary>
    public static byte[] Input(Target target, ReadOnlySpan<byte> data)
    {
        var input = new byte[data.Length + 1];
        input[0] = (byte)target;
        data.CopyTo(input.AsSpan(1));
        return input;
    }

    private static void Frames(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }

        // The split point exercises headers and payloads that straddle two pipe segments, as the socket delivers them.
        byte[] bytes = data.Slice(1).ToArray();
        int split = bytes.Length == 0 ? 0 : data[0] % (bytes.Length + 1);
        ReadOnlySequence<byte> buffer = Segment.Join(bytes.AsMemory(0, split), bytes.AsMemory(split));
        byte[]? scratch = null;
        try
        {
            while (FrameDecoder.TryReadFrame(buffer, 131072, out FrameHeader header, out ReadOnlySequence<byte> payload,
                       out SequencePosition next))
            {
                ReadOnlySpan<byte> contiguous = FrameDecoder.Contiguous(payload, ref scratch);
                switch (header.Type)
                {
                    case FrameType.Method:
                        MethodDispatcher.Decode(contiguous);
                        break;
                    case FrameType.Header:
                        Header(contiguous);
                        break;
                }

                buffer = buffer.Slice(next);
            }
        }
        finally
        {
            FrameDecoder.ReturnScratch(ref scratch);
        }
    }

    private static void Header(ReadOnlySpan<byte> data) => ContentHeader.Read(data).Properties.ToProperties();

    private static void Table(ReadOnlySpan<byte> data)
    {
        FieldTable table = FieldTable.Decode(data);
        byte[] once = Encode(table);
        byte[] twice = Encode(FieldTable.Decode(once));
        if (!once.AsSpan().SequenceEqual(twice))
        {
            throw new InvalidOperationException("A field table decoded from its own encoding encodes differently.");
        }
    }

    /// <summary>The encoded body of <paramref name="table"/>, as <see cref="FieldTable.Decode(ReadOnlySpan{byte})"/> takes it.</summary>
    public static byte[] Encode(FieldTable table)
    {
        // Decode takes the body, without the 4-byte length prefix WriteTo puts first.
        var bytes = new byte[table.GetSize()];
        table.WriteTo(bytes);
        return bytes[4..];
    }

    /// <summary>A segment of a two-part sequence.</summary>
    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        private Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public static ReadOnlySequence<byte> Join(ReadOnlyMemory<byte> first, ReadOnlyMemory<byte> second)
        {
            var head = new Segment(first, 0);
            var tail = new Segment(second, first.Length);
            head.Next = tail;
            return new ReadOnlySequence<byte>(head, 0, tail, second.Length);
        }
    }
}
