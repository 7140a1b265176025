using System;
using BenchmarkDotNet.Attributes;
using CoolAmqp.Framing;

namespace CoolAmqp.Benchmarks;

/// <summary>A 10-entry field table (queue arguments and message headers of typical shape).</summary>
[MemoryDiagnoser]
public class FieldTableBenchmarks
{
    private FieldTable _table = new();
    private byte[] _buffer = [];
    private byte[] _body = [];

    [GlobalSetup]
    public void Setup()
    {
        _table = new FieldTable
        {
            ["x-message-ttl"] = 60000,
            ["x-max-length"] = 100000L,
            ["x-queue-type"] = "quorum",
            ["x-dead-letter-exchange"] = "dlx",
            ["x-single-active-consumer"] = true,
            ["tenant"] = "acme-corporation",
            ["retry"] = (byte)3,
            ["ratio"] = 0.25d,
            ["trace"] = new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 },
            ["origin"] = new FieldTable { ["host"] = "worker-7", ["pid"] = 4242 },
        };
        _buffer = new byte[_table.GetSize()];
        _table.WriteTo(_buffer);
        _body = _buffer.AsSpan(4).ToArray();
    }

    /// <summary>Size and write, as a method or content header with this table does.</summary>
    [Benchmark]
    public int Encode() => _table.WriteTo(_buffer.AsSpan(0, _table.GetSize()));

    /// <summary>Materialises every entry (strings, byte arrays, the nested table).</summary>
    [Benchmark]
    public int Decode() => FieldTable.Decode(_body).Count;

    /// <summary>Zero-copy lookup of one key near the end.</summary>
    [Benchmark]
    public long ReaderFind() =>
        FieldTableReader.TryFind(_body, "retry"u8, out FieldValue value) ? value.AsInt64() : -1;

    /// <summary>Zero-copy walk over every entry, reading each scalar.</summary>
    [Benchmark]
    public long ReaderWalk()
    {
        long sum = 0;
        var reader = new FieldTableReader(_body);
        while (reader.MoveNext())
        {
            FieldValue value = reader.Value;
            sum += reader.Key.Length + value.Type switch
            {
                FieldValueType.Int32 or FieldValueType.Int64 or FieldValueType.Byte => value.AsInt64(),
                FieldValueType.Boolean => value.AsBoolean() ? 1 : 0,
                FieldValueType.Double => (long)value.AsDouble(),
                _ => value.RawBytes.Length,
            };
        }

        return sum;
    }
}
