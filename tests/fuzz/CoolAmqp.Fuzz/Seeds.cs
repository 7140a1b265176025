using System;
using System.Collections.Generic;
using System.IO;
using System.Reflection;
using System.Text;
using CoolAmqp.Framing;

namespace CoolAmqp.Fuzz;

/// <summary>The starting corpus: well-formed bytes of every parser, made with the runtime's own encoder.</summary>
internal static class Seeds
{
    /// <summary>Writes the seeds into <paramref name="directory"/>, one file each; returns how many.</summary>
    public static int Write(string directory)
    {
        Directory.CreateDirectory(directory);
        int count = 0;
        foreach ((string name, byte[] input) in All())
        {
            File.WriteAllBytes(Path.Combine(directory, "seed-" + name), input);
            count++;
        }

        return count;
    }

    private static IEnumerable<(string Name, byte[] Input)> All()
    {
        // Every method of the spec, with its fields at their defaults.
        MethodInfo payload = typeof(Seeds).GetMethod(nameof(MethodPayload), BindingFlags.NonPublic | BindingFlags.Static)!;
        foreach (Type type in typeof(IAmqpMethod).Assembly.GetTypes())
        {
            if (!type.IsValueType || !typeof(IAmqpMethod).IsAssignableFrom(type))
            {
                continue;
            }

            object method = Activator.CreateInstance(type)!;
            var bytes = (byte[])payload.MakeGenericMethod(type).Invoke(null, [method])!;
            string name = ((IAmqpMethod)method).CommandId.ToString("x8", System.Globalization.CultureInfo.InvariantCulture);
            yield return ("method-" + name, FuzzTargets.Input(FuzzTargets.Target.Method, bytes));
        }

        FieldTable table = Table();
        byte[] start = Frame(0, new ConnectionStart(0, 9, table, Encoding.ASCII.GetBytes("PLAIN AMQPLAIN"), Encoding.ASCII.GetBytes("en_US")));
        yield return ("method-start-table", FuzzTargets.Input(FuzzTargets.Target.Method, PayloadOf(start)));
        yield return ("table", FuzzTargets.Input(FuzzTargets.Target.FieldTable, FuzzTargets.Encode(table)));

        BasicProperties properties = Properties(table);
        byte[] header = new byte[FrameEncoder.ContentHeaderFrameSize(in properties)];
        FrameEncoder.WriteContentHeaderFrame(header, 1, BasicProperties.ClassIndex, 5, in properties);
        yield return ("header", FuzzTargets.Input(FuzzTargets.Target.ContentHeader, PayloadOf(header)));

        // A stream as the socket gives it: a delivery (method, header, body), a heartbeat, a confirm, a close.
        byte[] deliver = Frame(1, new BasicDeliver("ctag", 7, false, "ex", "key"));
        byte[] body = new byte[FrameEncoder.BodyFramesSize(5, 131072)];
        FrameEncoder.WriteBodyFrames(body, 1, "hello"u8, 131072);
        byte[] heartbeat = new byte[FrameEncoder.Overhead];
        FrameEncoder.WriteHeartbeat(heartbeat);
        byte[] ack = Frame(1, new BasicAck(42, true));
        byte[] close = Frame(0, new ConnectionClose(320, "CONNECTION_FORCED - broker forced connection closure", 0, 0));
        byte[] stream = [.. deliver, .. header, .. body, .. heartbeat, .. ack, .. close];
        yield return ("frames", Frames(3, stream));
        yield return ("frames-split-in-header", Frames((byte)(deliver.Length + 3), stream));
    }

    private static byte[] MethodPayload<T>(T method)
        where T : struct, IAmqpMethod => PayloadOf(Frame(1, method));

    private static byte[] Frame<T>(ushort channel, T method)
        where T : struct, IAmqpMethod
    {
        byte[] frame = new byte[FrameEncoder.MethodFrameSize(in method)];
        FrameEncoder.WriteMethodFrame(frame, channel, in method);
        return frame;
    }

    private static byte[] PayloadOf(byte[] frame) =>
        frame.AsSpan(FrameHeader.Length, frame.Length - FrameEncoder.Overhead).ToArray();

    private static byte[] Frames(byte split, byte[] stream)
    {
        byte[] data = new byte[stream.Length + 1];
        data[0] = split;
        stream.CopyTo(data, 1);
        return FuzzTargets.Input(FuzzTargets.Target.Frames, data);
    }

    private static FieldTable Table()
    {
        var nested = new FieldTable { { "x-match", "all" }, { "depth", 2 } };
        return new FieldTable
        {
            { "bool", true },
            { "byte", (sbyte)-3 },
            { "short", (short)-300 },
            { "int", 70000 },
            { "long", 1L << 40 },
            { "float", 1.5f },
            { "double", 2.25 },
            { "decimal", new AmqpDecimal(2, 12345) },
            { "string", "text" },
            { "bytes", new byte[] { 1, 2, 3 } },
            { "timestamp", new AmqpTimestamp(1_700_000_000) },
            { "void", null },
            { "table", nested },
            { "array", new List<object?> { 1, "two", nested } },
        };
    }


    private static BasicProperties Properties(FieldTable headers) => new()
    {
        ContentType = "application/json",
        ContentEncoding = "utf-8",
        Headers = headers,
        DeliveryMode = 2,
        Priority = 5,
        CorrelationId = "corr",
        ReplyTo = "reply",
        Expiration = "60000",
        MessageId = "id-1",
        Timestamp = 1_700_000_000,
        Type = "type",
        UserId = "guest",
        AppId = "app",
        Reserved = "cluster",
    };
}
