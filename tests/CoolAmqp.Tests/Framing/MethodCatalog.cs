using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using System.Reflection.Emit;
using System.Text;
using CoolAmqp.Framing;
using NUnit.Framework;

namespace CoolAmqp.Tests.Framing;

/// <summary>
/// Every generated method struct, found by reflection, with a decoder built per type (Read → ToMethod, emitted as IL
/// because a ref struct reader cannot pass through reflection), so tests run once per method without a hand-written switch.
/// </summary>
internal static class MethodCatalog
{
    private static readonly Dictionary<Type, Func<byte[], IAmqpMethod>> Decoders = new();

    public static IReadOnlyList<Type> MethodTypes { get; } = typeof(IAmqpMethod).Assembly.GetTypes()
        .Where(t => t.IsValueType && typeof(IAmqpMethod).IsAssignableFrom(t))
        .OrderBy(t => ((IAmqpMethod)Activator.CreateInstance(t)!).CommandId)
        .ToArray();

    public static IEnumerable<TestCaseData> Cases() =>
        MethodTypes.Select(t => new TestCaseData(t).SetArgDisplayNames(SpecName(t)));

    /// <summary>The spec name, e.g. <c>basic.publish</c>, from the generated <c>Name</c> constant.</summary>
    public static string SpecName(Type methodType) =>
        (string)methodType.GetField("Name", BindingFlags.Public | BindingFlags.Static)!.GetRawConstantValue()!;

    /// <summary>The settable field properties (the method's non-reserved fields), in declaration order.</summary>
    public static PropertyInfo[] Fields(Type methodType) => methodType
        .GetProperties(BindingFlags.Public | BindingFlags.Instance)
        .Where(p => p.SetMethod is { IsPublic: true })
        .OrderBy(p => p.MetadataToken)
        .ToArray();

    /// <summary>The spec name of a field from its property name: <c>RoutingKey</c> → <c>routing-key</c>.</summary>
    public static string FieldSpecName(PropertyInfo property)
    {
        var builder = new StringBuilder();
        foreach (char c in property.Name)
        {
            if (char.IsUpper(c) && builder.Length > 0)
            {
                builder.Append('-');
            }

            builder.Append(char.ToLowerInvariant(c));
        }

        return builder.ToString();
    }

    public static IAmqpMethod Decode(Type methodType, byte[] arguments)
    {
        Func<byte[], IAmqpMethod>? decoder;
        lock (Decoders)
        {
            if (!Decoders.TryGetValue(methodType, out decoder))
            {
                decoder = BuildDecoder(methodType);
                Decoders.Add(methodType, decoder);
            }
        }

        return decoder(arguments);
    }

    private static Func<byte[], IAmqpMethod> BuildDecoder(Type methodType)
    {
        MethodInfo read = methodType.GetMethod("Read", BindingFlags.Public | BindingFlags.Static, [typeof(ReadOnlySpan<byte>)])!;
        MethodInfo toMethod = read.ReturnType.GetMethod("ToMethod", Type.EmptyTypes)!;
        MethodInfo toSpan = typeof(ReadOnlySpan<byte>).GetMethod("op_Implicit", [typeof(byte[])])!;

        var method = new DynamicMethod("Decode" + methodType.Name, typeof(IAmqpMethod), [typeof(byte[])], typeof(MethodCatalog).Module, skipVisibility: true);
        ILGenerator il = method.GetILGenerator();
        LocalBuilder reader = il.DeclareLocal(read.ReturnType);
        il.Emit(OpCodes.Ldarg_0);
        il.Emit(OpCodes.Call, toSpan);
        il.Emit(OpCodes.Call, read);
        il.Emit(OpCodes.Stloc, reader);
        il.Emit(OpCodes.Ldloca, reader);
        il.Emit(OpCodes.Call, toMethod);
        il.Emit(OpCodes.Box, methodType);
        il.Emit(OpCodes.Ret);
        return method.CreateDelegate<Func<byte[], IAmqpMethod>>();
    }

    /// <summary>Encodes a method's arguments, checking that WriteArguments writes exactly GetSize() bytes.</summary>
    public static byte[] EncodeArguments(IAmqpMethod method)
    {
        byte[] buffer = new byte[method.GetSize()];
        int written = method.WriteArguments(buffer);
        Assert.That(written, Is.EqualTo(buffer.Length), $"{method.GetType().Name}: WriteArguments vs GetSize");
        return buffer;
    }

    /// <summary>Compares two methods field by field: byte memory by content, a null table as the empty table it is sent as.</summary>
    public static void AssertSameFields(IAmqpMethod expected, IAmqpMethod actual)
    {
        Assert.That(actual.GetType(), Is.EqualTo(expected.GetType()));
        foreach (PropertyInfo property in Fields(expected.GetType()))
        {
            object? want = property.GetValue(expected);
            object? got = property.GetValue(actual);
            string what = $"{SpecName(expected.GetType())} {property.Name}";
            switch (want)
            {
                case ReadOnlyMemory<byte> bytes:
                    Assert.That(((ReadOnlyMemory<byte>)got!).ToArray(), Is.EqualTo(bytes.ToArray()), what);
                    break;
                case null when property.PropertyType == typeof(FieldTable):
                    Assert.That(got, Is.EqualTo(new FieldTable()), what);
                    break;
                case null when property.PropertyType == typeof(string):
                    Assert.That(got, Is.EqualTo(""), what);
                    break;
                default:
                    Assert.That(got, Is.EqualTo(want), what);
                    break;
            }
        }
    }
}
