using System;
using System.Numerics;

namespace CoolAmqp.Compat;

/// <summary>The two <c>BitOperations</c> members the runtime uses (in-box since .NET Core 3), in portable code.</summary>
internal static class BitOperations
{
    public static int TrailingZeroCount(ulong value)
    {
        if (value == 0)
        {
            return 64;
        }

        int count = 0;
        while ((value & 1) == 0)
        {
            value >>= 1;
            count++;
        }

        return count;
    }

    public static int LeadingZeroCount(ulong value)
    {
        if (value == 0)
        {
            return 64;
        }

        int count = 0;
        while ((value & (1UL << 63)) == 0)
        {
            value <<= 1;
            count++;
        }

        return count;
    }
}
