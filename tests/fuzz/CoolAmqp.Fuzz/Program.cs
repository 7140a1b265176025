using System;
using System.IO;
using CoolAmqp.Framing;
using SharpFuzz;

namespace CoolAmqp.Fuzz;

/// <summary>
/// The AFL++ target: <c>afl-fuzz ... -- dotnet CoolAmqp.Fuzz.dll</c> with CoolAmqp.dll instrumented by
/// <c>sharpfuzz</c> (tools/fuzz.sh does both). With a file argument it runs that one input and prints the outcome,
/// to reproduce a crash.
/// </summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        if (args is ["--seeds", string directory])
        {
            Console.WriteLine($"{Seeds.Write(directory)} seeds written to {directory}");
            return 0;
        }

        if (args.Length == 1)
        {
            try
            {
                FuzzTargets.Run(File.ReadAllBytes(args[0]));
                Console.WriteLine("accepted");
            }
            catch (AmqpFrameFormatException e)
            {
                Console.WriteLine($"rejected: {e.Message}");
            }

            return 0;
        }

        Fuzzer.OutOfProcess.Run(stream =>
        {
            using var memory = new MemoryStream();
            stream.CopyTo(memory);
            try
            {
                FuzzTargets.Run(memory.GetBuffer().AsSpan(0, (int)memory.Length));
            }
            catch (AmqpFrameFormatException)
            {
                // The expected answer to bad input; anything else escapes and AFL++ records a crash.
            }
        });
        return 0;
    }
}
