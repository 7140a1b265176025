using System;

namespace CoolAmqp.Compat;

/// <summary>.NET 6's <c>Random.Shared</c> (one instance per thread here) and .NET 8's <c>Shuffle</c>.</summary>
internal static class RandomCompat
{
    [ThreadStatic]
    private static Random? t_shared;

    extension(Random random)
    {
        public static Random Shared => t_shared ??= new Random();

        public void Shuffle<T>(T[] values)
        {
            // Fisher-Yates, as .NET 8 does.
            for (int i = values.Length - 1; i > 0; i--)
            {
                int j = random.Next(i + 1);
                (values[i], values[j]) = (values[j], values[i]);
            }
        }
    }
}
