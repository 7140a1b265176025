using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using CoolAmqp.Framing;
using CsCheck;
using NUnit.Framework;

namespace CoolAmqp.Tests.Framing;

/// <summary>Every generated method: random field values survive WriteArguments → Read → ToMethod, and bad input only throws the format exception.</summary>
public class MethodRoundTripTests
{
    // BMP characters of 1 to 3 UTF-8 bytes; 80 of them stay within a shortstr's 255 bytes.
    private const string ShortStrChars = "abcxyzABC019-_.:/ éñß€中";

    private static Gen<object?> GenFor(Type type) => type switch
    {
        _ when type == typeof(byte) => Gen.Byte.Select(v => (object?)v),
        _ when type == typeof(ushort) => Gen.UShort.Select(v => (object?)v),
        _ when type == typeof(uint) => Gen.UInt.Select(v => (object?)v),
        _ when type == typeof(ulong) => Gen.ULong.Select(v => (object?)v),
        _ when type == typeof(bool) => Gen.Bool.Select(v => (object?)v),
        _ when type == typeof(string) => Gen.Char[ShortStrChars].Array[0, 80].Select(chars => (object?)new string(chars)),
        _ when type == typeof(ReadOnlyMemory<byte>) => Gen.Byte.Array[0, 300].Select(bytes => (object?)new ReadOnlyMemory<byte>(bytes)),
        _ when type == typeof(FieldTable) => Gen.Int.Select(seed => seed % 5 == 0 ? null : (object?)FieldTableTests.RandomTable(new Random(seed), 0)),
        _ => throw new NotSupportedException($"No generator for field type {type}"),
    };

    private static IAmqpMethod Build(Type methodType, PropertyInfo[] fields, object?[] values)
    {
        object boxed = Activator.CreateInstance(methodType)!;
        for (int i = 0; i < fields.Length; i++)
        {
            fields[i].SetValue(boxed, values[i]);
        }

        return (IAmqpMethod)boxed;
    }

    [Test]
    public void Catalog_finds_every_method_of_the_spec()
    {
        // AMQP 0-9-1 as RabbitMQ speaks it: 49 standard methods plus the extensions (exchange.bind/unbind and their
        // -ok, basic.nack, confirm.select/-ok, connection.blocked/unblocked, connection.update-secret/-ok).
        Assert.That(MethodCatalog.MethodTypes, Has.Count.GreaterThanOrEqualTo(60));
        Assert.That(MethodCatalog.MethodTypes.Select(MethodCatalog.SpecName),
            Is.SupersetOf(new[] { "connection.start-ok", "basic.publish", "basic.deliver", "queue.declare", "basic.nack", "confirm.select" }));
    }

    [TestCaseSource(typeof(MethodCatalog), nameof(MethodCatalog.Cases))]
    public void Random_fields_round_trip(Type methodType)
    {
        PropertyInfo[] fields = MethodCatalog.Fields(methodType);
        Gen<object?[]> values = Gen.Const(Array.Empty<object?>());
        foreach (PropertyInfo field in fields)
        {
            Gen<object?> next = GenFor(field.PropertyType);
            values = values.SelectMany(sofar => next.Select(value => (object?[])[.. sofar, value]));
        }

        values.Sample(sample =>
        {
            IAmqpMethod method = Build(methodType, fields, sample);
            byte[] arguments = MethodCatalog.EncodeArguments(method);
            IAmqpMethod back = MethodCatalog.Decode(methodType, arguments);
            MethodCatalog.AssertSameFields(method, back);
            Assert.That(MethodCatalog.EncodeArguments(back), Is.EqualTo(arguments), "re-encoding the decoded method");
        }, iter: 100, threads: 1);
    }

    [TestCaseSource(typeof(MethodCatalog), nameof(MethodCatalog.Cases))]
    public void Truncated_and_mutated_arguments_only_throw_format_exception(Type methodType)
    {
        var random = new Random(MethodCatalog.SpecName(methodType).Length * 7919 + (int)((IAmqpMethod)Activator.CreateInstance(methodType)!).CommandId);
        PropertyInfo[] fields = MethodCatalog.Fields(methodType);
        var seeds = new List<byte[]>();
        for (int i = 0; i < 4; i++)
        {
            object?[] values = fields.Select(f => RandomValue(f.PropertyType, random)).ToArray();
            seeds.Add(MethodCatalog.EncodeArguments(Build(methodType, fields, values)));
        }

        // Readers ignore trailing bytes but need every field: each strict prefix is short.
        foreach (byte[] seed in seeds)
        {
            Fuzz.AllPrefixesRejected(seed, input => MethodCatalog.Decode(methodType, input));
        }

        Fuzz.Run(seeds, 400, random.Next(), input => MethodCatalog.Decode(methodType, input));
    }

    internal static object? RandomValue(Type type, Random random)
    {
        if (type == typeof(byte)) return (byte)random.Next(256);
        if (type == typeof(ushort)) return (ushort)random.Next(65536);
        if (type == typeof(uint)) return (uint)random.NextInt64(uint.MaxValue + 1L);
        if (type == typeof(ulong)) return (ulong)random.NextInt64();
        if (type == typeof(bool)) return random.Next(2) == 1;
        if (type == typeof(string)) return new string(Enumerable.Range(0, random.Next(20)).Select(_ => ShortStrChars[random.Next(ShortStrChars.Length)]).ToArray());
        if (type == typeof(ReadOnlyMemory<byte>))
        {
            byte[] bytes = new byte[random.Next(20)];
            random.NextBytes(bytes);
            return new ReadOnlyMemory<byte>(bytes);
        }

        if (type == typeof(FieldTable)) return FieldTableTests.RandomTable(random, 0);
        throw new NotSupportedException(type.ToString());
    }

    private static IEnumerable<TestCaseData> ShortStrFields() =>
        from type in MethodCatalog.MethodTypes
        from field in MethodCatalog.Fields(type)
        where field.PropertyType == typeof(string)
        select new TestCaseData(type, field.Name).SetArgDisplayNames(MethodCatalog.SpecName(type), MethodCatalog.FieldSpecName(field));

    [TestCaseSource(nameof(ShortStrFields))]
    public void Shortstr_over_255_bytes_names_method_and_field(Type methodType, string propertyName)
    {
        PropertyInfo[] fields = MethodCatalog.Fields(methodType);
        object?[] values = fields.Select(f => f.Name == propertyName ? new string('é', 128) : RandomValue(f.PropertyType, new Random(1))).ToArray();
        IAmqpMethod method = Build(methodType, fields, values);
        string specName = MethodCatalog.SpecName(methodType);
        string fieldName = MethodCatalog.FieldSpecName(fields.Single(f => f.Name == propertyName));

        Assert.That(() => method.GetSize(), Throws.ArgumentException.With.Message.Contains(specName).And.Message.Contains(fieldName));
        Assert.That(() => method.WriteArguments(new byte[4096]), Throws.ArgumentException.With.Message.Contains(specName).And.Message.Contains(fieldName));

        values = fields.Select(f => f.Name == propertyName ? new string('x', 255) : RandomValue(f.PropertyType, new Random(1))).ToArray();
        Assert.That(() => MethodCatalog.EncodeArguments(Build(methodType, fields, values)), Throws.Nothing, "255 bytes fit");
    }
}
