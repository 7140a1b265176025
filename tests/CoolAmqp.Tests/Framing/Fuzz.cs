using System;
using System.Collections.Generic;
using CoolAmqp.Framing;
using NUnit.Framework;

namespace CoolAmqp.Tests.Framing;

/// <summary>
/// Bounded, seeded mutation fuzzing: valid encodings are truncated, overwritten, extended or replaced by noise,
/// and the parser may only succeed or throw <see cref="AmqpFrameFormatException"/>.
/// </summary>
internal static class Fuzz
{
    private static readonly byte[] Interesting = [0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF];

    /// <summary>Runs <paramref name="parse"/> on <paramref name="iterations"/> mutated inputs and returns how many were rejected.</summary>
    public static (int Accepted, int Rejected) Run(IReadOnlyList<byte[]> seeds, int iterations, int seed, Action<byte[]> parse)
    {
        var random = new Random(seed);
        int accepted = 0, rejected = 0;
        for (int i = 0; i < iterations; i++)
        {
            byte[] input = Mutate(seeds[random.Next(seeds.Count)], random);
            try
            {
                parse(input);
                accepted++;
            }
            catch (AmqpFrameFormatException)
            {
                rejected++;
            }
#pragma warning disable CA1031 // Any other exception is the failure being tested for, reported with its input.
            catch (Exception e)
#pragma warning restore CA1031
            {
                Assert.Fail($"Iteration {i}: {e.GetType().Name} for input {Hex.Format(input)}: {e}");
            }
        }

        return (accepted, rejected);
    }

    /// <summary>Every strict prefix of <paramref name="valid"/> must be rejected with <see cref="AmqpFrameFormatException"/>.</summary>
    public static void AllPrefixesRejected(byte[] valid, Action<byte[]> parse, int minimumLength = 0)
    {
        for (int length = minimumLength; length < valid.Length; length++)
        {
            byte[] prefix = valid.AsSpan(0, length).ToArray();
            Assert.That(() => parse(prefix), Throws.TypeOf<AmqpFrameFormatException>(), $"prefix of {length} of {valid.Length} bytes");
        }
    }

    public static byte[] Mutate(byte[] source, Random random)
    {
        switch (random.Next(6))
        {
            case 0:
                return source.AsSpan(0, random.Next(source.Length + 1)).ToArray();
            case 1:
            {
                byte[] copy = (byte[])source.Clone();
                int flips = 1 + random.Next(4);
                for (int i = 0; i < flips && copy.Length > 0; i++)
                {
                    copy[random.Next(copy.Length)] = (byte)random.Next(256);
                }

                return copy;
            }

            case 2:
            {
                byte[] copy = (byte[])source.Clone();
                if (copy.Length > 0)
                {
                    copy[random.Next(copy.Length)] = Interesting[random.Next(Interesting.Length)];
                }

                return copy;
            }

            case 3:
            {
                int at = random.Next(source.Length + 1);
                byte[] extra = new byte[1 + random.Next(8)];
                random.NextBytes(extra);
                return [.. source.AsSpan(0, at), .. extra, .. source.AsSpan(at)];
            }

            case 4:
            {
                byte[] noise = new byte[random.Next(64)];
                random.NextBytes(noise);
                return noise;
            }

            default:
            {
                // Drop a run of bytes from the middle, shifting lengths out of step with their contents.
                if (source.Length < 2)
                {
                    return source;
                }

                int at = random.Next(source.Length - 1);
                int count = 1 + random.Next(Math.Min(8, source.Length - at));
                return [.. source.AsSpan(0, at), .. source.AsSpan(at + count)];
            }
        }
    }
}
