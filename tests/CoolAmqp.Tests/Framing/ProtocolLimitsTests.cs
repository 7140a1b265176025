using System;
using System.Buffers.Binary;
using CoolAmqp.Framing;
using NUnit.Framework;

namespace CoolAmqp.Tests.Framing;

/// <summary>The field-table limit scan (depth and entries, before anything is decoded), the <see cref="ProtocolLimits"/>
/// option checks, and string lengths that point past their input.</summary>
public class ProtocolLimitsTests
{
    // {"n": {"n": ... {} }}: `levels` tables below the top one (each level: key, 'F', length).
    private static byte[] NestedTableBody(int levels)
    {
        byte[] body = new byte[7 * levels];
        for (int i = 0; i < levels; i++)
        {
            body[7 * i] = 1;
            body[7 * i + 1] = (byte)'n';
            body[7 * i + 2] = (byte)'F';
            BinaryPrimitives.WriteUInt32BigEndian(body.AsSpan(7 * i + 3), (uint)(7 * (levels - 1 - i)));
        }

        return body;
    }

    // {"a": [[[ ... ['V'] ... ]]]}: `levels` arrays below the top table.
    private static byte[] NestedArrayBody(int levels)
    {
        byte[] value = [(byte)'V'];
        for (int i = 0; i < levels; i++)
        {
            byte[] length = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(length, (uint)value.Length);
            value = [(byte)'A', .. length, .. value];
        }

        return [1, (byte)'a', .. value];
    }

    // `entries` entries with the empty key and a void value: 2 bytes each, the cheapest a peer can send.
    private static byte[] FlatBody(int entries)
    {
        byte[] body = new byte[2 * entries];
        for (int i = 0; i < entries; i++)
        {
            body[2 * i + 1] = (byte)'V';
        }

        return body;
    }

    // {"a": ['V' x elements]}
    private static byte[] ArrayBody(int elements)
    {
        byte[] body = new byte[2 + 5 + elements];
        body[0] = 1;
        body[1] = (byte)'a';
        body[2] = (byte)'A';
        BinaryPrimitives.WriteUInt32BigEndian(body.AsSpan(3), (uint)elements);
        body.AsSpan(7).Fill((byte)'V');
        return body;
    }

    [TestCase(0)]
    [TestCase(1)]
    [TestCase(5)]
    [TestCase(64)]
    public void A_table_nested_exactly_to_the_limit_passes_and_one_level_more_does_not(int limit)
    {
        Assert.That(FieldCodec.CheckLimits(NestedTableBody(limit), limit, 4096, out _), Is.EqualTo(TableLimit.None));
        Assert.That(FieldCodec.CheckLimits(NestedTableBody(limit + 1), limit, 4096, out int found), Is.EqualTo(TableLimit.Depth));
        Assert.That(found, Is.EqualTo(limit + 1), "the depth reached");
    }

    [Test]
    public void Arrays_count_as_levels_too()
    {
        Assert.That(FieldCodec.CheckLimits(NestedArrayBody(3), 3, 4096, out _), Is.EqualTo(TableLimit.None));
        Assert.That(FieldCodec.CheckLimits(NestedArrayBody(4), 3, 4096, out int found), Is.EqualTo(TableLimit.Depth));
        Assert.That(found, Is.EqualTo(4));
    }

    [Test]
    public void A_hostile_depth_is_refused_by_the_scan_without_recursing_into_it()
    {
        // Far deeper than the stack would take if the scan followed it: it stops at the limit.
        Assert.That(FieldCodec.CheckLimits(NestedTableBody(100_000), 64, 4096, out int found), Is.EqualTo(TableLimit.Depth));
        Assert.That(found, Is.EqualTo(65));
    }

    [Test]
    public void A_table_with_exactly_the_limit_of_entries_passes_and_one_more_does_not()
    {
        Assert.That(FieldCodec.CheckLimits(FlatBody(100), 64, 100, out _), Is.EqualTo(TableLimit.None));
        Assert.That(FieldCodec.CheckLimits(FlatBody(101), 64, 100, out int found), Is.EqualTo(TableLimit.Entries));
        Assert.That(found, Is.EqualTo(101));
    }

    [Test]
    public void Array_elements_count_against_the_entry_limit()
    {
        Assert.That(FieldCodec.CheckLimits(ArrayBody(10), 64, 10, out _), Is.EqualTo(TableLimit.None));
        Assert.That(FieldCodec.CheckLimits(ArrayBody(11), 64, 10, out _), Is.EqualTo(TableLimit.Entries));
    }

    [Test]
    public void Entries_are_counted_per_table_not_in_total()
    {
        // Three entries on top, two of them tables of three entries: within a limit of 3 (9 entries in all).
        var inner = new FieldTable { ["a"] = 1, ["b"] = 2, ["c"] = 3 };
        var table = new FieldTable { ["x"] = inner, ["y"] = "flat", ["z"] = new FieldTable { ["a"] = 1, ["b"] = 2, ["c"] = 3 } };
        byte[] encoded = new byte[table.GetSize()];
        table.WriteTo(encoded);
        Assert.That(FieldCodec.CheckLimits(encoded.AsSpan(4), 64, 3, out _), Is.EqualTo(TableLimit.None));
        Assert.That(FieldCodec.CheckLimits(encoded.AsSpan(4), 64, 2, out _), Is.EqualTo(TableLimit.Entries));
    }

    [Test]
    public void The_scan_allocates_nothing()
    {
        FieldTable sample = FieldTableTests.SampleTable();
        byte[] encoded = new byte[sample.GetSize()];
        sample.WriteTo(encoded);
        byte[] body = encoded.AsSpan(4).ToArray();
        Assert.That(FieldCodec.CheckLimits(body, 64, 4096, out _), Is.EqualTo(TableLimit.None));
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
        {
            _ = FieldCodec.CheckLimits(body, 64, 4096, out _);
        }

        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero);
    }

    [TestCase("01 61 53 000000FF 6869", "needed 255")]   // a long string whose length points past the table
    [TestCase("05 61", "key")]                           // a key whose length points past the table
    [TestCase("01 61 46 00000009 0162 53 00000001", "needed 9")] // a nested table running past its parent
    public void A_malformed_table_is_a_format_error_from_the_scan(string hex, string fragment)
    {
        byte[] body = Hex.Parse(hex);
        Assert.That(() => FieldCodec.CheckLimits(body, 64, 4096, out _),
            Throws.TypeOf<AmqpFrameFormatException>().With.Message.Contains(fragment));
    }

    [Test]
    public void EnforceTableLimits_names_the_input_the_limit_and_both_values()
    {
        var limits = new ProtocolLimits { MaxFieldTableDepth = 2, MaxFieldTableEntries = 10 };
        var deep = Assert.Throws<ProtocolLimitExceededException>(
            () => limits.EnforceTableLimits(NestedTableBody(3), "connection.start server-properties"))!;
        Assert.That(deep.Limit, Is.EqualTo(nameof(ProtocolLimits.MaxFieldTableDepth)));
        Assert.That(deep.Actual, Is.EqualTo(3));
        Assert.That(deep.Allowed, Is.EqualTo(2));
        Assert.That(deep.Message, Does.Contain("connection.start server-properties").And.Contain("MaxFieldTableDepth (2)"));

        var wide = Assert.Throws<ProtocolLimitExceededException>(() => limits.EnforceTableLimits(FlatBody(11), "headers"))!;
        Assert.That(wide.Limit, Is.EqualTo(nameof(ProtocolLimits.MaxFieldTableEntries)));
        Assert.That(wide.Allowed, Is.EqualTo(10));
        Assert.That(wide.Message, Does.Contain("more than 10 entries"));
    }

    [Test]
    public void The_defaults_are_the_documented_ones()
    {
        var limits = new ProtocolLimits();
        Assert.That(limits.MaxBodySize, Is.EqualTo(128L * 1024 * 1024));
        Assert.That(limits.MaxFieldTableDepth, Is.EqualTo(64));
        Assert.That(limits.MaxFieldTableEntries, Is.EqualTo(4096));
        Assert.That(new ClusterOptions().Limits, Is.EqualTo(ProtocolLimits.Default));
        Assert.That(ProtocolLimits.Default, Is.EqualTo(limits));
    }

    [Test]
    public void Limits_out_of_range_are_refused_when_set()
    {
        Assert.That(() => new ProtocolLimits { MaxBodySize = 0 }, Throws.TypeOf<ArgumentOutOfRangeException>());
        Assert.That(() => new ProtocolLimits { MaxBodySize = (long)Array.MaxLength + 1 }, Throws.TypeOf<ArgumentOutOfRangeException>());
        Assert.That(() => new ProtocolLimits { MaxFieldTableDepth = -1 }, Throws.TypeOf<ArgumentOutOfRangeException>());
        Assert.That(() => new ProtocolLimits { MaxFieldTableDepth = 65 }, Throws.TypeOf<ArgumentOutOfRangeException>());
        Assert.That(() => new ProtocolLimits { MaxFieldTableEntries = 0 }, Throws.TypeOf<ArgumentOutOfRangeException>());
        Assert.That(new ProtocolLimits { MaxBodySize = Array.MaxLength, MaxFieldTableDepth = 0, MaxFieldTableEntries = 1 }.MaxBodySize,
            Is.EqualTo(Array.MaxLength));
    }

    [Test]
    public void A_cluster_refuses_null_limits()
    {
        Assert.That(() => new Cluster(new NodeDefinition("localhost"), new ClusterOptions { Limits = null! }),
            Throws.TypeOf<ArgumentNullException>());
    }

    // ---- string lengths against their input ----

    [Test]
    public void A_shortstr_length_past_the_input_is_a_format_error()
    {
        // basic.deliver whose consumer-tag claims 200 bytes in a 10-byte argument list.
        byte[] arguments = [200, .. "ctag"u8, 0, 0, 0, 0, 0];
        Assert.That(() => { _ = BasicDeliver.Read(arguments); },
            Throws.TypeOf<AmqpFrameFormatException>().With.Message.Contains("basic.deliver consumer-tag").And.Message.Contains("needed 200"));
    }

    [Test]
    public void A_longstr_or_table_length_past_the_input_is_a_format_error()
    {
        // connection.start: version 0-9, then a server-properties table claiming 4 GiB.
        byte[] arguments = [0, 9, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3];
        Assert.That(() => { _ = ConnectionStart.Read(arguments); },
            Throws.TypeOf<AmqpFrameFormatException>().With.Message.Contains("server-properties").And.Message.Contains("needed 4294967295"));

        // connection.secure: a challenge longstr of 16 bytes with 3 present.
        byte[] secure = [0, 0, 0, 16, 1, 2, 3];
        Assert.That(() => { _ = ConnectionSecure.Read(secure); },
            Throws.TypeOf<AmqpFrameFormatException>().With.Message.Contains("needed 16"));
    }

    [Test]
    public void A_property_shortstr_past_the_content_header_is_a_format_error()
    {
        // Content header: class 60, weight 0, body size 0, flags = content-type, then a length of 50 with 2 bytes.
        byte[] payload = [0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x00, 50, (byte)'a', (byte)'b'];
        Assert.That(() => { _ = ContentHeader.Read(payload); },
            Throws.TypeOf<AmqpFrameFormatException>().With.Message.Contains("content-type").And.Message.Contains("needed 50"));
    }
}
