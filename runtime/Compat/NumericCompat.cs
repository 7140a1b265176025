global using UInt128 = System.Numerics.BigInteger;

using System;
using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace CoolAmqp.Compat;

// UInt128 (.NET 7) is used only to hold a decimal's 96-bit mantissa while trailing zeros are shed: BigInteger has the
// operators that code needs, so on netstandard2.0 the name stands for it (the alias above).

/// <summary>Numeric members newer than netstandard2.0.</summary>
internal static class NumericCompat
{
    extension(decimal)
    {
        public static int GetBits(decimal d, Span<int> destination)
        {
            int[] bits = decimal.GetBits(d);
            bits.CopyTo(destination);
            return bits.Length;
        }
    }

    extension(BinaryPrimitives)
    {
        public static float ReadSingleBigEndian(ReadOnlySpan<byte> source) =>
            Int32BitsToSingle(BinaryPrimitives.ReadInt32BigEndian(source));

        public static double ReadDoubleBigEndian(ReadOnlySpan<byte> source) =>
            BitConverter.Int64BitsToDouble(BinaryPrimitives.ReadInt64BigEndian(source));

        public static void WriteSingleBigEndian(Span<byte> destination, float value) =>
            BinaryPrimitives.WriteInt32BigEndian(destination, SingleToInt32Bits(value));

        public static void WriteDoubleBigEndian(Span<byte> destination, double value) =>
            BinaryPrimitives.WriteInt64BigEndian(destination, BitConverter.DoubleToInt64Bits(value));
    }

    extension(ref HashCode hash)
    {
        public void AddBytes(ReadOnlySpan<byte> value)
        {
            foreach (byte b in value)
            {
                hash.Add(b);
            }
        }
    }

    // BitConverter.SingleToInt32Bits is .NET Core 2.0+: a float's bits through a 4-byte buffer, without unsafe code.
    private static int SingleToInt32Bits(float value)
    {
        Span<byte> bytes = stackalloc byte[4];
        MemoryMarshal.Write(bytes, ref value);
        return MemoryMarshal.Read<int>(bytes);
    }

    private static float Int32BitsToSingle(int value)
    {
        Span<byte> bytes = stackalloc byte[4];
        MemoryMarshal.Write(bytes, ref value);
        return MemoryMarshal.Read<float>(bytes);
    }
}
