using System;

namespace CoolAmqp.Compat;

/// <summary>Array members newer than netstandard2.0.</summary>
internal static class ArrayCompat
{
    extension(Array)
    {
        /// <summary>The largest length of a byte array (.NET 6's value).</summary>
        public static int MaxLength => 0x7FFFFFC7;

        public static void Clear(Array array) => Array.Clear(array, 0, array.Length);
    }
}
