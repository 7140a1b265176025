// Compiled in memory together with the generated code and runtime/Framing by CompilationTests; not part of the
// test assembly. Run() exercises the generated codecs and returns one line per failed check ("" when all pass).
using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using System.Text;
using CoolAmqp.Framing;

namespace CoolAmqp.Framing.Probe;

public static partial class FramingProbe
{
    private static readonly List<string> Failures = new();

    public static string Run()
    {
        Failures.Clear();
        Check(nameof(PublishLayout), PublishLayout);
        Check(nameof(DeclareBitsAndTable), DeclareBitsAndTable);
        Check(nameof(CloseKeepsFailingIds), CloseKeepsFailingIds);
        Check(nameof(EveryTruncationThrowsFormatException), EveryTruncationThrowsFormatException);
        Check(nameof(PropertiesRoundTripWithZeroPriority), PropertiesRoundTripWithZeroPriority);
        Check(nameof(PropertiesRejectUnknownFlags), PropertiesRejectUnknownFlags);
        Check(nameof(OversizedShortStringNamesTheField), OversizedShortStringNamesTheField);
        Check(nameof(SizeMatchesWrittenBytesForEveryMethod), SizeMatchesWrittenBytesForEveryMethod);
        Check(nameof(NamesConstantsAndReplyCodes), NamesConstantsAndReplyCodes);
        Check(nameof(DispatcherRoutes), DispatcherRoutes);
        Check(nameof(GarbageOnlyEverThrowsFormatException), GarbageOnlyEverThrowsFormatException);
        return string.Join("\n", Failures);
    }

    private static void Check(string name, Action check)
    {
        try
        {
            check();
        }
        catch (Exception exception)
        {
            Failures.Add($"{name}: {exception.GetType().Name}: {exception.Message}");
        }
    }

    private static void Expect(bool condition, string what)
    {
        if (!condition)
        {
            throw new InvalidOperationException(what);
        }
    }

    private static void ExpectBytes(ReadOnlySpan<byte> actual, byte[] expected, string what) =>
        Expect(actual.SequenceEqual(expected), $"{what}: got {Convert.ToHexString(actual)}, expected {Convert.ToHexString(expected)}");

    private static byte[] Encode<T>(T method) where T : struct, IAmqpMethod
    {
        var buffer = new byte[method.GetSize() + 16];
        int written = method.WriteArguments(buffer);
        Expect(written == method.GetSize(), $"{typeof(T).Name}: GetSize {method.GetSize()} but wrote {written}");
        return buffer.AsSpan(0, written).ToArray();
    }

    private static void PublishLayout()
    {
        byte[] bytes = Encode(new BasicPublish("ex", "rk", mandatory: true, immediate: false));
        ExpectBytes(bytes, new byte[] { 0, 0, 2, (byte)'e', (byte)'x', 2, (byte)'r', (byte)'k', 0x01 }, "basic.publish");
        BasicPublish.Reader reader = BasicPublish.Read(bytes);
        Expect(reader.Exchange == "ex" && reader.RoutingKey == "rk", "publish strings");
        Expect(reader.ExchangeBytes.SequenceEqual("ex"u8), "publish exchange bytes");
        Expect(reader.Mandatory && !reader.Immediate, "publish bits");
        BasicPublish copy = reader.ToMethod();
        Expect(copy.Exchange == "ex" && copy.Mandatory, "publish ToMethod");
        Expect(BasicPublish.CommandIdValue == ((60u << 16) | 40u) && new BasicPublish().HasContent && !new BasicPublish().Synchronous, "publish ids");
    }

    private static void DeclareBitsAndTable()
    {
        var declare = new QueueDeclare("q", passive: false, durable: true, exclusive: false, autoDelete: true, noWait: true);
        byte[] bytes = Encode(declare);
        // reserved short, shortstr "q", bits (durable=0x02, auto-delete=0x08, no-wait=0x10), empty table.
        ExpectBytes(bytes, new byte[] { 0, 0, 1, (byte)'q', 0x1A, 0, 0, 0, 0 }, "queue.declare");
        QueueDeclare.Reader reader = QueueDeclare.Read(bytes);
        Expect(!reader.Passive && reader.Durable && !reader.Exclusive && reader.AutoDelete && reader.NoWait, "declare bits");
        Expect(reader.ArgumentsBytes.IsEmpty, "declare table body");
        Expect(QueueDeclare.Responses.ToArray().SequenceEqual(new[] { QueueDeclareOk.CommandIdValue }), "declare responses");
    }

    private static void CloseKeepsFailingIds()
    {
        var close = new ConnectionClose(404, "NOT_FOUND", 60, 40);
        Expect(close.ClassId == 60 && close.MethodId == 40, "failing ids on the struct");
        Expect(OwnIds(close) == ((ushort)10, (ushort)50), "own ids through IAmqpMethod");
        byte[] bytes = Encode(close);
        ConnectionClose.Reader reader = ConnectionClose.Read(bytes);
        Expect(reader.ReplyCode == 404 && reader.ReplyText == "NOT_FOUND" && reader.ClassId == 60 && reader.MethodId == 40, "close reader");
    }

    private static (ushort, ushort) OwnIds<T>(T method) where T : struct, IAmqpMethod => (method.ClassId, method.MethodId);

    private static void EveryTruncationThrowsFormatException()
    {
        var samples = new (string Name, byte[] Bytes, Action<byte[]> Read)[]
        {
            ("basic.deliver", Encode(new BasicDeliver("tag", 42, true, "ex", "rk")), b => BasicDeliver.Read(b)),
            ("queue.declare-ok", Encode(new QueueDeclareOk("q", 1, 2)), b => QueueDeclareOk.Read(b)),
            ("connection.start", Encode(new ConnectionStart(0, 9, null, "PLAIN"u8.ToArray(), "en_US"u8.ToArray())), b => ConnectionStart.Read(b)),
            ("connection.tune", Encode(new ConnectionTune(2047, 131072, 60)), b => ConnectionTune.Read(b)),
            ("basic.properties", EncodeProperties(new BasicProperties { ContentType = "a", Priority = 0, Timestamp = 5, Headers = null, AppId = "x" }), b => BasicProperties.Read(b)),
        };
        foreach ((string name, byte[] bytes, Action<byte[]> read) in samples)
        {
            read(bytes);
            for (int length = 0; length < bytes.Length; length++)
            {
                byte[] prefix = bytes.AsSpan(0, length).ToArray();
                try
                {
                    read(prefix);
                    Expect(false, $"{name}: a {length}-byte prefix of {bytes.Length} parsed");
                }
                catch (AmqpFrameFormatException)
                {
                }
            }
        }

        // A length prefix that claims more than is there.
        try
        {
            BasicDeliver.Read(new byte[] { 200, 1, 2, 3 });
            Expect(false, "oversized shortstr length parsed");
        }
        catch (AmqpFrameFormatException)
        {
        }
    }

    private static byte[] EncodeProperties(BasicProperties properties)
    {
        var buffer = new byte[properties.GetSize()];
        int written = properties.WriteTo(buffer);
        Expect(written == buffer.Length, $"properties: GetSize {buffer.Length} but wrote {written}");
        return buffer;
    }

    private static void PropertiesRoundTripWithZeroPriority()
    {
        var properties = new BasicProperties { ContentType = "text/plain", DeliveryMode = 2, Priority = 0 };
        Expect(properties.Flags == (0x8000 | 0x1000 | 0x0800), $"flags {properties.Flags:X4}");
        byte[] bytes = EncodeProperties(properties);
        byte[] expected = [0x98, 0x00, 10, .. "text/plain"u8.ToArray(), 2, 0];
        ExpectBytes(bytes, expected, "properties");
        BasicProperties.Reader reader = BasicProperties.Read(bytes);
        Expect(reader.HasPriority && reader.Priority == 0 && reader.DeliveryMode == 2, "priority zero is present");
        Expect(!reader.HasHeaders && reader.Headers is null && reader.CorrelationId is null, "absent properties");
        BasicProperties copy = reader.ToProperties();
        Expect(copy.ContentType == "text/plain" && copy.Priority == 0 && copy.Timestamp is null && copy.Flags == properties.Flags, "ToProperties");
        Expect(new BasicProperties().GetSize() == 2, "empty properties are the flags word");
    }

    private static void PropertiesRejectUnknownFlags()
    {
        foreach (ushort flags in new ushort[] { 0x0001, 0x0002 })
        {
            try
            {
                BasicProperties.Read(new byte[] { (byte)(flags >> 8), (byte)flags });
                Expect(false, $"flags {flags:X4} accepted");
            }
            catch (AmqpFrameFormatException)
            {
            }
        }
    }

    private static void OversizedShortStringNamesTheField()
    {
        var publish = new BasicPublish(new string('x', 256), "rk", false, false);
        try
        {
            publish.GetSize();
            Expect(false, "256-byte shortstr accepted by GetSize");
        }
        catch (ArgumentException exception)
        {
            Expect(exception.Message.Contains("basic.publish") && exception.Message.Contains("exchange"), exception.Message);
        }

        try
        {
            publish.WriteArguments(new byte[1024]);
            Expect(false, "256-byte shortstr accepted by WriteArguments");
        }
        catch (ArgumentException exception)
        {
            Expect(exception.Message.Contains("basic.publish"), exception.Message);
        }

        Expect(new BasicPublish(new string('x', 255), "", false, false).GetSize() == 2 + 256 + 1 + 1, "255 bytes fit");
    }

    private static void SizeMatchesWrittenBytesForEveryMethod()
    {
        Type[] methods = typeof(IAmqpMethod).Assembly.GetTypes()
            .Where(t => t.IsValueType && typeof(IAmqpMethod).IsAssignableFrom(t))
            .ToArray();
        Expect(methods.Length > 40, $"only {methods.Length} method structs");
        foreach (Type type in methods)
        {
            var method = (IAmqpMethod)Activator.CreateInstance(type)!;
            var buffer = new byte[method.GetSize()];
            int written = method.WriteArguments(buffer);
            Expect(written == buffer.Length, $"{type.Name}: GetSize {buffer.Length}, wrote {written}");
            uint commandId = (uint)type.GetField("CommandIdValue")!.GetRawConstantValue()!;
            Expect(method.CommandId == commandId && commandId == ((uint)method.ClassId << 16 | method.MethodId), $"{type.Name}: ids");
            Expect(MethodNames.Get(commandId) == (string)type.GetField("Name")!.GetRawConstantValue()!, $"{type.Name}: name");
        }
    }

    private static void NamesConstantsAndReplyCodes()
    {
        Expect(MethodNames.Get(BasicPublish.CommandIdValue) == "basic.publish", "basic.publish name");
        Expect(MethodNames.Get(0) is null, "unknown name");
        Expect(ReplyCodes.IsHardError(320) && !ReplyCodes.IsHardError(404) && ReplyCodes.IsSoftError(404), "reply codes");
        Expect((ushort)ReplyCode.NotFound == 404 && (ushort)ReplyCode.Success == 200, "ReplyCode enum");
        Expect((byte)FrameType.Heartbeat == 8 && AmqpConstants.FrameEnd == 206 && AmqpConstants.FrameMinSize == 4096, "constants");
        Expect(AmqpClassIds.Basic == 60 && BasicProperties.ClassIndex == 60, "class ids");
    }

    private static void DispatcherRoutes()
    {
        var handler = new RecordingHandler();
        byte[] deliver = Payload(BasicDeliver.CommandIdValue, Encode(new BasicDeliver("ctag", 7, false, "ex", "rk")));
        MethodDispatcher.Dispatch(ref handler, 3, deliver);
        Expect(handler.Calls.SequenceEqual(new[] { "BasicDeliver@3" }), "deliver routed: " + string.Join(",", handler.Calls));
        Expect(handler.LastDeliveryTag == 7, "delivery tag");

        foreach (byte[] bad in new[]
        {
            Payload(BasicPublish.CommandIdValue, Encode(new BasicPublish("e", "r", false, false))),
            Payload((99u << 16) | 99u, Array.Empty<byte>()),
            new byte[] { 0, 60, 0 },
            Payload(BasicDeliver.CommandIdValue, new byte[] { 4, (byte)'c' }),
        })
        {
            try
            {
                MethodDispatcher.Dispatch(ref handler, 1, bad);
                Expect(false, $"payload {Convert.ToHexString(bad)} dispatched");
            }
            catch (AmqpFrameFormatException)
            {
            }
        }
    }

    private static void GarbageOnlyEverThrowsFormatException()
    {
        // Seeded, bounded: every client-received method and the properties reader, over random argument bytes.
        var random = new Random(12345);
        uint[] commandIds = typeof(IAmqpMethod).Assembly.GetTypes()
            .Where(t => t.IsValueType && typeof(IAmqpMethod).IsAssignableFrom(t))
            .Select(t => (uint)t.GetField("CommandIdValue")!.GetRawConstantValue()!)
            .ToArray();
        var handler = new RecordingHandler();
        int parsed = 0;
        for (int round = 0; round < 100; round++)
        {
            foreach (uint commandId in commandIds)
            {
                var arguments = new byte[random.Next(0, 48)];
                random.NextBytes(arguments);
                if (round % 2 == 0 && arguments.Length > 0)
                {
                    arguments[0] = (byte)random.Next(0, 4);
                }

                parsed += Survives(() => MethodDispatcher.Dispatch(ref handler, 1, Payload(commandId, arguments)), MethodNames.Get(commandId)!);
            }

            var properties = new byte[random.Next(0, 48)];
            random.NextBytes(properties);
            parsed += Survives(() => BasicProperties.Read(properties).ToProperties(), "basic properties");
        }

        Expect(parsed > 100, $"only {parsed} garbage inputs parsed; the fuzz is not reaching the readers");
    }

    private static int Survives(Action action, string what)
    {
        try
        {
            action();
            return 1;
        }
        catch (AmqpFrameFormatException)
        {
            return 0;
        }
        catch (Exception exception)
        {
            throw new InvalidOperationException($"{what}: {exception.GetType().Name} on garbage: {exception.Message}", exception);
        }
    }

    private static byte[] Payload(uint commandId, byte[] arguments)
    {
        var payload = new byte[4 + arguments.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(payload, commandId);
        arguments.CopyTo(payload, 4);
        return payload;
    }

    /// <summary>The other On* methods come from a source the test generates from the model.</summary>
    internal sealed partial class RecordingHandler : IClientMethodHandler
    {
        public List<string> Calls { get; } = new();

        public ulong LastDeliveryTag { get; private set; }

        public void OnBasicDeliver(ushort channel, BasicDeliver.Reader method)
        {
            Calls.Add("BasicDeliver@" + channel);
            LastDeliveryTag = method.DeliveryTag;
        }
    }
}
