using System;
using System.Collections;
using System.Collections.Generic;
using CoolAmqp.Framing;
using NUnit.Framework;

namespace CoolAmqp.Tests.Framing;

public class FieldTableTests
{
    private static byte[] Encode(FieldTable table)
    {
        byte[] buffer = new byte[table.GetSize()];
        int written = table.WriteTo(buffer);
        Assert.That(written, Is.EqualTo(buffer.Length), "WriteTo must write exactly GetSize() bytes");
        return buffer;
    }

    private static FieldTable RoundTrip(FieldTable table)
    {
        byte[] encoded = Encode(table);
        Assert.That(encoded.Length - 4, Is.EqualTo((int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(encoded)),
            "length prefix");
        return FieldTable.Decode(encoded.AsSpan(4));
    }

    // Each CLR value, the wire bytes of its type code and payload, and the value it decodes back to.
    private static IEnumerable<TestCaseData> TypedValues()
    {
        yield return new TestCaseData(true, "74 01", true).SetArgDisplayNames("t bool true");
        yield return new TestCaseData(false, "74 00", false).SetArgDisplayNames("t bool false");
        yield return new TestCaseData((sbyte)-2, "62 FE", (sbyte)-2).SetArgDisplayNames("b sbyte");
        yield return new TestCaseData((byte)200, "42 C8", (byte)200).SetArgDisplayNames("B byte");
        yield return new TestCaseData((short)-2, "73 FFFE", (short)-2).SetArgDisplayNames("s short");
        yield return new TestCaseData((ushort)65535, "75 FFFF", (ushort)65535).SetArgDisplayNames("u ushort");
        yield return new TestCaseData(1000, "49 000003E8", 1000).SetArgDisplayNames("I int");
        yield return new TestCaseData(int.MinValue, "49 80000000", int.MinValue).SetArgDisplayNames("I int min");
        yield return new TestCaseData(4000000000u, "69 EE6B2800", 4000000000u).SetArgDisplayNames("i uint");
        yield return new TestCaseData(-1L, "6C FFFFFFFFFFFFFFFF", -1L).SetArgDisplayNames("l long");
        yield return new TestCaseData(1.5f, "66 3FC00000", 1.5f).SetArgDisplayNames("f float");
        yield return new TestCaseData(-2.25d, "64 C002000000000000", -2.25d).SetArgDisplayNames("d double");
        yield return new TestCaseData(new AmqpDecimal(2, -1234), "44 02 FFFFFB2E", new AmqpDecimal(2, -1234)).SetArgDisplayNames("D AmqpDecimal");
        yield return new TestCaseData(12.50m, "44 02 000004E2", new AmqpDecimal(2, 1250)).SetArgDisplayNames("D decimal");
        yield return new TestCaseData("héllo", "53 00000006 68C3A96C6C6F", "héllo").SetArgDisplayNames("S string utf8");
        yield return new TestCaseData("", "53 00000000", "").SetArgDisplayNames("S empty string");
        yield return new TestCaseData(new byte[] { 1, 2, 3 }, "78 00000003 010203", new byte[] { 1, 2, 3 }).SetArgDisplayNames("x byte[]");
        yield return new TestCaseData(new ReadOnlyMemory<byte>([9, 8]), "78 00000002 0908", new byte[] { 9, 8 }).SetArgDisplayNames("x ReadOnlyMemory");
        yield return new TestCaseData(new AmqpTimestamp(1700000000), "54 000000006553F100", new AmqpTimestamp(1700000000)).SetArgDisplayNames("T timestamp");
        yield return new TestCaseData(DateTimeOffset.FromUnixTimeSeconds(1700000000).AddMilliseconds(999), "54 000000006553F100",
            new AmqpTimestamp(1700000000)).SetArgDisplayNames("T DateTimeOffset truncated to seconds");
        yield return new TestCaseData(null, "56", null).SetArgDisplayNames("V null");
        yield return new TestCaseData(new object?[] { 1, "a", null }, "41 0000000C 49 00000001 53 00000001 61 56",
            new object?[] { 1, "a", null }).SetArgDisplayNames("A array");
        yield return new TestCaseData(new List<object?>(), "41 00000000", Array.Empty<object?>()).SetArgDisplayNames("A empty list");
        yield return new TestCaseData(new FieldTable { ["k"] = (byte)1 }, "46 00000004 016B 42 01",
            new FieldTable { ["k"] = (byte)1 }).SetArgDisplayNames("F table");
        yield return new TestCaseData(new Dictionary<string, object?> { ["k"] = (byte)1 }, "46 00000004 016B 42 01",
            new FieldTable { ["k"] = (byte)1 }).SetArgDisplayNames("F dictionary");
    }

    [TestCaseSource(nameof(TypedValues))]
    public void Every_type_encodes_with_RabbitMQ_type_code_and_round_trips(object? value, string valueHex, object? decoded)
    {
        var table = new FieldTable { { "v", value } };
        byte[] encoded = Encode(table);

        byte[] expectedValue = Hex.Parse(valueHex);
        byte[] expected = [0, 0, 0, (byte)(2 + expectedValue.Length), 1, (byte)'v', .. expectedValue];
        Assert.That(Hex.Format(encoded), Is.EqualTo(Hex.Format(expected)));

        FieldTable back = FieldTable.Decode(encoded.AsSpan(4));
        object? actual = back["v"];
        Assert.That(actual?.GetType(), Is.EqualTo(decoded?.GetType()), "decoded CLR type");
        if (decoded is FieldTable expectedTable)
        {
            Assert.That(actual, Is.EqualTo(expectedTable));
        }
        else
        {
            Assert.That(actual, Is.EqualTo(decoded).AsCollection.Or.EqualTo(decoded));
        }

        Assert.That(back, Is.EqualTo(new FieldTable { { "v", decoded } }));
    }

    [Test]
    public void Golden_bytes_of_a_small_table()
    {
        var table = new FieldTable
        {
            { "a", 1 },
            { "b", "hi" },
            { "c", true },
            { "d", null },
        };

        byte[] expected = Hex.Parse(
            "00000017" +               // body length 23
            "01 61 | 49 | 00000001" +  // "a" I 1
            "01 62 | 53 | 00000002 6869" + // "b" S "hi"
            "01 63 | 74 | 01" +        // "c" t true
            "01 64 | 56");             // "d" V
        Assert.That(Hex.Format(Encode(table)), Is.EqualTo(Hex.Format(expected)));
        Assert.That(table.GetSize(), Is.EqualTo(27));
        Assert.That(FieldTable.Decode(expected.AsSpan(4)), Is.EqualTo(table));
    }

    [Test]
    public void A_key_that_is_not_UTF8_is_a_format_error_not_a_changed_key()
    {
        // Found by fuzzing: 0xFF decoded to U+FFFD (3 bytes), so a decoded 100-byte key re-encoded to 300 bytes and
        // the table could not be sent again.
        byte[] key = new byte[100];
        key.AsSpan().Fill(0xFF);
        byte[] body = [100, .. key, (byte)'V'];
        Assert.That(() => FieldTable.Decode(body), Throws.TypeOf<AmqpFrameFormatException>().With.Message.Contains("UTF-8"));
        var reader = new FieldTableReader(body);
        Assert.That(reader.MoveNext(), Is.True);
        Assert.That(reader.Key.ToArray(), Is.EqualTo(key), "the raw key stays readable");
    }

    [Test]
    public void Empty_table_is_four_zero_bytes()
    {
        Assert.That(Encode(new FieldTable()), Is.EqualTo(new byte[4]));
        Assert.That(FieldTable.Decode(ReadOnlySpan<byte>.Empty), Is.Empty);
    }

    [Test]
    public void Wire_table_helpers_use_the_codec()
    {
        var table = new FieldTable { { "x-message-ttl", 60000 } };
        Assert.That(Wire.TableSize(table), Is.EqualTo(table.GetSize()));
        Assert.That(Wire.TableSize(null), Is.EqualTo(4));
        byte[] buffer = new byte[Wire.TableSize(table)];
        Assert.That(Wire.WriteTable(buffer, table), Is.EqualTo(buffer.Length));
        int position = 0;
        ReadOnlySpan<byte> body = Wire.ReadTable(buffer, ref position, "test");
        Assert.That(FieldTable.Decode(body)["x-message-ttl"], Is.EqualTo(60000));
        Assert.That(position, Is.EqualTo(buffer.Length));
    }

    [Test]
    public void Nested_tables_and_arrays_round_trip()
    {
        var table = new FieldTable
        {
            ["capabilities"] = new FieldTable
            {
                ["publisher_confirms"] = true,
                ["consumer_cancel_notify"] = true,
                ["deep"] = new FieldTable { ["list"] = new object?[] { new FieldTable { ["z"] = 1L }, new object?[] { "x", (short)3 } } },
            },
            ["x-death"] = new List<object?>
            {
                new Dictionary<string, object?> { ["count"] = 1L, ["reason"] = "expired", ["time"] = new AmqpTimestamp(5) },
            },
            ["bin"] = new byte[] { 0xCE },
        };

        FieldTable back = RoundTrip(table);
        Assert.That(back, Is.EqualTo(table));
        Assert.That(back.GetHashCode(), Is.EqualTo(table.GetHashCode()));
        var capabilities = (FieldTable)back["capabilities"]!;
        Assert.That(capabilities["publisher_confirms"], Is.True);
        var deaths = (object?[])back["x-death"]!;
        Assert.That(deaths, Has.Length.EqualTo(1));
        Assert.That(((FieldTable)deaths[0]!)["reason"], Is.EqualTo("expired"));
    }

    [Test]
    public void Random_value_trees_round_trip()
    {
        var random = new Random(4242);
        for (int i = 0; i < 300; i++)
        {
            FieldTable table = RandomTable(random, 0);
            FieldTable back = RoundTrip(table);
            Assert.That(back, Is.EqualTo(table), $"iteration {i}: {table}");
            Assert.That(Encode(back), Is.EqualTo(Encode(table)), $"iteration {i}: re-encoding differs");
        }
    }

    internal static FieldTable RandomTable(Random random, int depth)
    {
        var table = new FieldTable();
        int count = random.Next(depth == 0 ? 8 : 4);
        for (int i = 0; i < count; i++)
        {
            table[RandomString(random, 1 + random.Next(12))] = RandomValue(random, depth);
        }

        return table;
    }

    private static object? RandomValue(Random random, int depth)
    {
        int kind = random.Next(depth < 3 ? 17 : 15);
        return kind switch
        {
            0 => random.Next(2) == 0,
            1 => (sbyte)random.Next(-128, 128),
            2 => (byte)random.Next(256),
            3 => (short)random.Next(short.MinValue, short.MaxValue + 1),
            4 => (ushort)random.Next(ushort.MaxValue + 1),
            5 => random.Next(int.MinValue, int.MaxValue),
            6 => (uint)random.NextInt64(uint.MaxValue + 1L),
            7 => random.NextInt64(long.MinValue, long.MaxValue),
            8 => (float)(random.NextDouble() * 1000 - 500),
            9 => random.NextDouble() * 1e9,
            10 => new AmqpDecimal((byte)random.Next(256), random.Next(int.MinValue, int.MaxValue)),
            11 => RandomString(random, random.Next(40)),
            12 => RandomBytes(random),
            13 => new AmqpTimestamp((ulong)random.NextInt64(long.MaxValue)),
            14 => null,
            15 => RandomTable(random, depth + 1),
            _ => RandomArray(random, depth + 1),
        };
    }

    private static object?[] RandomArray(Random random, int depth)
    {
        object?[] items = new object?[random.Next(4)];
        for (int i = 0; i < items.Length; i++)
        {
            items[i] = RandomValue(random, depth);
        }

        return items;
    }

    private static byte[] RandomBytes(Random random)
    {
        byte[] bytes = new byte[random.Next(20)];
        random.NextBytes(bytes);
        return bytes;
    }

    private static string RandomString(Random random, int length)
    {
        const string alphabet = "abcxyz-_.ABC019 é€😀";
        var chars = new char[length];
        for (int i = 0; i < length; i++)
        {
            chars[i] = alphabet[random.Next(alphabet.Length - 2)];
        }

        return new string(chars);
    }

    [Test]
    public void Lengths_match_for_multibyte_keys_and_values()
    {
        var table = new FieldTable { ["ключ"] = "значение😀" };
        byte[] encoded = Encode(table);
        Assert.That(encoded[4], Is.EqualTo(8), "key length is in UTF-8 bytes");
        Assert.That(System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(encoded.AsSpan(14)), Is.EqualTo(20), "value length in UTF-8 bytes");
        Assert.That(RoundTrip(table), Is.EqualTo(table));
    }

    [Test]
    public void Key_of_255_bytes_is_accepted_and_256_refused()
    {
        var table = new FieldTable { [new string('k', 255)] = 1 };
        Assert.That(RoundTrip(table), Is.EqualTo(table));

        var error = Assert.Throws<ArgumentException>(() => new FieldTable { [new string('k', 256)] = 1 });
        Assert.That(error!.Message, Does.Contain("256 UTF-8 bytes"));
        // 128 two-byte characters: short in chars, too long in bytes.
        Assert.Throws<ArgumentException>(() => new FieldTable { [new string('é', 128)] = 1 });
        var nested = new FieldTable { ["n"] = new Dictionary<string, object?> { [new string('k', 300)] = 1 } };
        Assert.Throws<ArgumentException>(() => nested.GetSize());
    }

    [Test]
    public void Unsupported_type_names_key_and_type()
    {
        var error = Assert.Throws<ArgumentException>(() => new FieldTable { ["when"] = Guid.Empty });
        Assert.That(error!.Message, Does.Contain("'when'").And.Contain("System.Guid"));

        error = Assert.Throws<ArgumentException>(() => new FieldTable { ["u"] = 1UL });
        Assert.That(error!.Message, Does.Contain("'u'").And.Contain("System.UInt64"));

        var nested = new FieldTable { ["outer"] = new List<object?> { 1, new Uri("http://x") } };
        error = Assert.Throws<ArgumentException>(() => nested.GetSize());
        Assert.That(error!.Message, Does.Contain("'outer'").And.Contain("System.Uri"));
        Assert.Throws<ArgumentException>(() => nested.WriteTo(new byte[100]));
    }

    [Test]
    public void Decimal_that_does_not_fit_is_refused_with_key()
    {
        var table = new FieldTable { ["price"] = 12345678901.5m };
        var error = Assert.Throws<ArgumentException>(() => table.GetSize());
        Assert.That(error!.Message, Does.Contain("'price'"));
    }

    [Test]
    public void Self_containing_table_is_refused_not_a_stack_overflow()
    {
        var table = new FieldTable();
        table["self"] = table;
        Assert.Throws<ArgumentException>(() => table.GetSize());
        Assert.Throws<ArgumentException>(() => table.WriteTo(new byte[1 << 16]));

        var list = new List<object?>();
        list.Add(list);
        var withList = new FieldTable { ["l"] = list };
        Assert.Throws<ArgumentException>(() => withList.GetSize());
    }

    [Test]
    public void Nesting_depth_is_capped_at_64_on_decode()
    {
        Assert.That(() => FieldTable.Decode(NestedTableBody(64)), Throws.Nothing);
        Assert.That(() => FieldTable.Decode(NestedTableBody(65)), Throws.TypeOf<AmqpFrameFormatException>().With.Message.Contains("64"));
        Assert.That(() => FieldTable.Decode(NestedArrayBody(65)), Throws.TypeOf<AmqpFrameFormatException>());
        // A hostile peer can nest far deeper within one frame; that must still be a format error, not a crash.
        Assert.That(() => FieldTable.Decode(NestedTableBody(20000)), Throws.TypeOf<AmqpFrameFormatException>());
    }

    // {"n": {"n": ... {} }} with `levels` nested tables below the top one; each level is key, 'F', length.
    private static byte[] NestedTableBody(int levels)
    {
        byte[] body = new byte[7 * levels];
        for (int i = 0; i < levels; i++)
        {
            body[7 * i] = 1;
            body[7 * i + 1] = (byte)'n';
            body[7 * i + 2] = (byte)'F';
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(body.AsSpan(7 * i + 3), (uint)(7 * (levels - 1 - i)));
        }

        return body;
    }

    private static byte[] NestedArrayBody(int levels)
    {
        byte[] value = [(byte)'V'];
        for (int i = 0; i < levels; i++)
        {
            byte[] length = new byte[4];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(length, (uint)value.Length);
            value = [(byte)'A', .. length, .. value];
        }

        return [1, (byte)'a', .. value];
    }

    [TestCase("01 61 5A", "0x5A")]                  // unknown type code 'Z'
    [TestCase("01 61 55 0001", "0x55")]             // 'U' is not a RabbitMQ code
    [TestCase("05 61", "key")]                      // key longer than the body
    [TestCase("01 61", "type code")]                // key without a value
    [TestCase("01 61 49 0000", "needed 4")]         // truncated int
    [TestCase("01 61 53 000000FF 6869", "needed 255")] // string length past the end
    [TestCase("01 61 46 00000002 0161", "type code")] // nested table truncated inside
    [TestCase("01 61 53 FFFFFFFF", "needed 4294967295")] // length beyond int range
    public void Malformed_input_throws_format_exception_naming_the_problem(string hex, string fragment)
    {
        byte[] body = Hex.Parse(hex);
        Assert.That(() => FieldTable.Decode(body), Throws.TypeOf<AmqpFrameFormatException>().With.Message.Contains(fragment));
    }

    [Test]
    public void Every_truncation_of_a_valid_table_is_rejected()
    {
        byte[] encoded = Encode(SampleTable());
        // Cutting between entries leaves a valid shorter table, so collect the entry boundaries.
        var valid = new HashSet<int> { 0 };
        var reader = new FieldTableReader(encoded.AsSpan(4));
        while (reader.MoveNext())
        {
            valid.Add(reader.BytesConsumed);
        }

        Assert.That(valid, Has.Count.EqualTo(SampleTable().Count + 1));
        for (int length = 0; length < encoded.Length - 4; length++)
        {
            byte[] prefix = encoded.AsSpan(4, length).ToArray();
            if (valid.Contains(length))
            {
                Assert.That(() => FieldTable.Decode(prefix), Throws.Nothing, $"prefix {length} ends on an entry boundary");
            }
            else
            {
                Assert.That(() => FieldTable.Decode(prefix), Throws.TypeOf<AmqpFrameFormatException>(), $"prefix {length}");
            }
        }
    }

    internal static FieldTable SampleTable() => new()
    {
        ["product"] = "CoolAmqp",
        ["version"] = "0.1.0",
        ["x-message-ttl"] = 60000,
        ["x-max-length"] = 10L,
        ["flag"] = true,
        ["ratio"] = 0.5d,
        ["price"] = new AmqpDecimal(2, 1999),
        ["at"] = new AmqpTimestamp(1700000000),
        ["raw"] = new byte[] { 1, 2, 3, 0xCE },
        ["capabilities"] = new FieldTable { ["publisher_confirms"] = true, ["basic.nack"] = true },
        ["list"] = new object?[] { 1, "two", null, (short)-3, new FieldTable { ["k"] = (byte)7 } },
        ["nothing"] = null,
    };

    [Test]
    public void Mutated_input_only_throws_format_exception()
    {
        byte[] sample = Encode(SampleTable()).AsSpan(4).ToArray();
        byte[] small = Encode(new FieldTable { ["a"] = 1, ["b"] = new object?[] { "x" } }).AsSpan(4).ToArray();
        var random = new Random(7);
        byte[][] seeds = [sample, small, Encode(RandomTable(random, 0)).AsSpan(4).ToArray()];

        (int accepted, int rejected) = Fuzz.Run(seeds, 20000, seed: 1234, input =>
        {
            FieldTable table = FieldTable.Decode(input);
            _ = table.ToString();
            // Whatever decodes must encode again.
            _ = table.GetSize();
        });

        Assert.That(accepted, Is.GreaterThan(100), "some mutations should still decode");
        Assert.That(rejected, Is.GreaterThan(1000), "most mutations should be rejected");
    }

    [Test]
    public void Mutated_input_only_throws_format_exception_from_the_zero_copy_reader()
    {
        byte[] sample = Encode(SampleTable()).AsSpan(4).ToArray();
        Fuzz.Run([sample], 5000, seed: 99, input =>
        {
            var reader = new FieldTableReader(input);
            while (reader.MoveNext())
            {
                _ = reader.Value.Type;
            }
        });
    }

    [Test]
    public void Capital_L_is_read_as_signed_64_bit_like_RabbitMQ()
    {
        byte[] body = Hex.Parse("01 6E 4C FFFFFFFFFFFFFFFE");
        Assert.That(FieldTable.Decode(body)["n"], Is.EqualTo(-2L));
    }

    [Test]
    public void Repeated_key_on_the_wire_keeps_last_value_in_first_position()
    {
        byte[] body = Hex.Parse("01 61 42 01 | 01 62 42 02 | 01 61 42 03");
        FieldTable table = FieldTable.Decode(body);
        Assert.That(table, Has.Count.EqualTo(2));
        Assert.That(table["a"], Is.EqualTo((byte)3));
        Assert.That(table.Keys, Is.EqualTo(new[] { "a", "b" }));
    }

    [Test]
    public void Dictionary_operations_keep_insertion_order()
    {
        var table = new FieldTable();
        for (int i = 0; i < 20; i++)
        {
            table.Add("k" + i, i);
        }

        Assert.That(table, Has.Count.EqualTo(20));
        Assert.That(table["k13"], Is.EqualTo(13));
        Assert.That(table.Remove("k3"), Is.True);
        Assert.That(table.Remove("k3"), Is.False);
        Assert.That(table.ContainsKey("k3"), Is.False);
        Assert.That(table["k19"], Is.EqualTo(19), "index rebuilt after remove");
        table["k0"] = "replaced";
        Assert.That(table.Keys, Has.Exactly(19).Items);
        Assert.That(FirstKey(table), Is.EqualTo("k0"));
        Assert.That(table.TryGetValue("k0", out object? value), Is.True);
        Assert.That(value, Is.EqualTo("replaced"));
        Assert.That(table.TryGetValue("nope", out _), Is.False);
        Assert.Throws<KeyNotFoundException>(() => _ = table["nope"]);
        Assert.Throws<ArgumentException>(() => table.Add("k1", 1));
        table.Add("k3", 3);
        Assert.That(table.Keys, Has.Exactly(20).Items);
        Assert.That(LastKey(table), Is.EqualTo("k3"));
        table.Clear();
        Assert.That(table, Is.Empty);
    }

    private static string FirstKey(FieldTable table)
    {
        foreach (KeyValuePair<string, object?> entry in table)
        {
            return entry.Key;
        }

        return "";
    }

    private static string LastKey(FieldTable table)
    {
        string last = "";
        foreach (KeyValuePair<string, object?> entry in table)
        {
            last = entry.Key;
        }

        return last;
    }

    [Test]
    public void Equality_is_deep_and_ignores_order()
    {
        var a = new FieldTable { ["x"] = new byte[] { 1, 2 }, ["y"] = new FieldTable { ["z"] = new object?[] { 1, "s" } } };
        var b = new FieldTable { ["y"] = new FieldTable { ["z"] = new List<object?> { 1, "s" } }, ["x"] = new ReadOnlyMemory<byte>([1, 2]) };
        Assert.That(a, Is.EqualTo(b));
        Assert.That(a.Equals((object)b), Is.True);
        Assert.That(a.GetHashCode(), Is.EqualTo(b.GetHashCode()));

        Assert.That(new FieldTable { ["n"] = 5 }, Is.Not.EqualTo(new FieldTable { ["n"] = 5L }), "int and long differ");
        Assert.That(new FieldTable { ["n"] = new byte[] { 1 } }, Is.Not.EqualTo(new FieldTable { ["n"] = new byte[] { 2 } }));
        Assert.That(new FieldTable { ["n"] = 1 }, Is.Not.EqualTo(new FieldTable { ["m"] = 1 }));
        Assert.That(new FieldTable { ["n"] = 1 }, Is.Not.EqualTo(new FieldTable { ["n"] = 1, ["m"] = 1 }));
        Assert.That(new FieldTable { ["n"] = new object?[] { 1 } }, Is.Not.EqualTo(new FieldTable { ["n"] = new object?[] { 1, 2 } }));
        Assert.That(a.Equals(null), Is.False);
    }

    [Test]
    public void ToString_is_readable()
    {
        var table = new FieldTable
        {
            ["x-message-ttl"] = 1000,
            ["x-queue-type"] = "quorum",
            ["tags"] = new object?[] { "a", 2.5d },
            ["n"] = new FieldTable { ["b"] = true, ["v"] = null },
            ["raw"] = new byte[] { 0xCA, 0xFE },
            ["price"] = new AmqpDecimal(2, 1250),
            ["at"] = new AmqpTimestamp(0),
        };
        Assert.That(table.ToString(), Is.EqualTo(
            "{x-message-ttl: 1000, x-queue-type: \"quorum\", tags: [\"a\", 2.5], n: {b: true, v: null}, raw: 0xCAFE, " +
            "price: 12.50, at: 1970-01-01T00:00:00Z}"));
    }

    [Test]
    public void Zero_copy_reader_finds_values_without_allocating()
    {
        byte[] body = Encode(SampleTable()).AsSpan(4).ToArray();
        Assert.That(FieldTableReader.TryFind(body, "x-message-ttl"u8, out FieldValue ttl), Is.True);
        Assert.That(ttl.Type, Is.EqualTo(FieldValueType.Int32));
        Assert.That(ttl.AsInt64(), Is.EqualTo(60000));
        Assert.That(FieldTableReader.TryFind(body, "missing"u8, out _), Is.False);

        Assert.That(FieldTableReader.TryFind(body, "capabilities"u8, out FieldValue capabilities), Is.True);
        Assert.That(capabilities.AsTable().TryFind("basic.nack"u8, out FieldValue nack) && nack.AsBoolean(), Is.True);
        Assert.That(FieldTableReader.TryFind(body, "product"u8, out FieldValue product) && product.AsBytes().SequenceEqual("CoolAmqp"u8), Is.True);
        Assert.That(() => { FieldTableReader.TryFind(body, "product"u8, out FieldValue p); return p.AsInt64(); },
            Throws.InvalidOperationException);

        FieldTableReader.TryFind(body, "list"u8, out FieldValue list);
        FieldArrayReader items = list.AsArray();
        int count = 0;
        while (items.MoveNext())
        {
            count++;
        }

        Assert.That(count, Is.EqualTo(5));

        long before = GC.GetAllocatedBytesForCurrentThread();
        long sum = 0;
        for (int i = 0; i < 100; i++)
        {
            var reader = new FieldTableReader(body);
            while (reader.MoveNext())
            {
                if (reader.Value.Type == FieldValueType.Int32)
                {
                    sum += reader.Value.AsInt64();
                }
            }
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.That(sum, Is.EqualTo(100L * 60000));
        Assert.That(allocated, Is.Zero);
    }

    [Test]
    public void Encoding_allocates_nothing()
    {
        FieldTable table = SampleTable();
        byte[] buffer = new byte[table.GetSize()];
        table.WriteTo(buffer);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
        {
            table.WriteTo(buffer.AsSpan(0, table.GetSize()));
        }

        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero);
    }

    [Test]
    public void Amqp_decimal_converts_to_and_from_decimal()
    {
        Assert.That(new AmqpDecimal(2, 1250).ToDecimal(), Is.EqualTo(12.50m));
        Assert.That(new AmqpDecimal(0, int.MinValue).ToDecimal(), Is.EqualTo((decimal)int.MinValue));
        Assert.That(AmqpDecimal.FromDecimal(-0.001m), Is.EqualTo(new AmqpDecimal(3, -1)));
        Assert.That(AmqpDecimal.FromDecimal((decimal)int.MinValue), Is.EqualTo(new AmqpDecimal(0, int.MinValue)));
        // 3000000000.00 has a 12-digit mantissa at scale 2, but 3e9 still does not fit 32 signed bits.
        Assert.Throws<OverflowException>(() => AmqpDecimal.FromDecimal(3000000000.00m));
        // 1.0000000000 (mantissa 10^10) sheds only the trailing zeros it must to fit 32 bits.
        Assert.That(AmqpDecimal.FromDecimal(1.0000000000m), Is.EqualTo(new AmqpDecimal(9, 1000000000)));
        Assert.That(AmqpDecimal.FromDecimal(1.50m), Is.EqualTo(new AmqpDecimal(2, 150)));
        Assert.Throws<OverflowException>(() => new AmqpDecimal(29, 1).ToDecimal());
        Assert.That(new AmqpDecimal(29, 1).ToString(), Is.EqualTo("1E-29"));
        Assert.That(new AmqpDecimal(1, 10), Is.Not.EqualTo(new AmqpDecimal(0, 1)));
    }

    [Test]
    public void Amqp_timestamp_converts_to_and_from_date_time_offset()
    {
        var when = new DateTimeOffset(2024, 1, 2, 3, 4, 5, TimeSpan.Zero);
        AmqpTimestamp timestamp = AmqpTimestamp.FromDateTimeOffset(when);
        Assert.That(timestamp.UnixSeconds, Is.EqualTo(1704164645UL));
        Assert.That(timestamp.ToDateTimeOffset(), Is.EqualTo(when));
        Assert.That(timestamp.ToString(), Is.EqualTo("2024-01-02T03:04:05Z"));
        Assert.Throws<ArgumentOutOfRangeException>(() => AmqpTimestamp.FromDateTimeOffset(DateTimeOffset.UnixEpoch.AddSeconds(-1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AmqpTimestamp(ulong.MaxValue).ToDateTimeOffset());
        Assert.That(new AmqpTimestamp(1) < new AmqpTimestamp(2), Is.True);
    }

    [Test]
    public void Non_generic_dictionary_with_string_keys_encodes_as_table()
    {
        var table = new FieldTable { ["h"] = new Hashtable { ["a"] = 1 }, ["d"] = new Dictionary<string, int> { ["b"] = 2 } };
        FieldTable back = RoundTrip(table);
        Assert.That(back["h"], Is.EqualTo(new FieldTable { ["a"] = 1 }));
        Assert.That(back["d"], Is.EqualTo(new FieldTable { ["b"] = 2 }));

        var badKeys = new FieldTable { ["h"] = new Hashtable { [1] = 1 } };
        Assert.Throws<ArgumentException>(() => badKeys.GetSize());
    }
}
