using System;
using System.Collections.Generic;
using System.IO;
using CoolAmqp.Framing;
using CoolAmqp.Fuzz;
using NUnit.Framework;

namespace CoolAmqp.Tests.Framing;

/// <summary>
/// Replays what AFL++ kept (tests/fuzz/corpus, grown by tools/fuzz.sh) and the inputs that once crashed a parser
/// (tests/fuzz/crashes): every one must give a result or <see cref="AmqpFrameFormatException"/>, through the same
/// targets the fuzzer drives.
/// </summary>
[TestFixture]
public class FuzzCorpusTests
{
    private static string FuzzDirectory(string name)
    {
        for (DirectoryInfo? dir = new(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "CoolAmqp.sln")))
            {
                return Path.Combine(dir.FullName, "tests", "fuzz", name);
            }
        }

        throw new DirectoryNotFoundException("No CoolAmqp.sln above the test assembly.");
    }

    private static string[] Inputs(string name)
    {
        string directory = FuzzDirectory(name);
        return Directory.Exists(directory) ? Directory.GetFiles(directory) : [];
    }

    [Test]
    public void The_corpus_is_there_and_covers_every_target()
    {
        var targets = new HashSet<int>();
        int count = 0;
        foreach (string file in Inputs("corpus"))
        {
            byte[] input = File.ReadAllBytes(file);
            if (input.Length > 0)
            {
                targets.Add(input[0] % 4);
            }

            count++;
        }

        Assert.That(count, Is.GreaterThanOrEqualTo(50), "the committed corpus");
        Assert.That(targets, Is.EquivalentTo(new[] { 0, 1, 2, 3 }), "inputs for the frame decoder, the method readers, the content header and the field table");
    }

    [Test]
    public void Every_input_is_accepted_or_rejected_with_the_format_exception()
    {
        int accepted = 0, rejected = 0;
        var failures = new List<string>();
        string[] files = [.. Inputs("corpus"), .. Inputs("crashes")];
        foreach (string file in files)
        {
            byte[] input = File.ReadAllBytes(file);
            try
            {
                FuzzTargets.Run(input);
                accepted++;
            }
            catch (AmqpFrameFormatException)
            {
                rejected++;
            }
#pragma warning disable CA1031 // Any other exception is the failure this test looks for, reported with its input.
            catch (Exception e)
#pragma warning restore CA1031
            {
                failures.Add($"{Path.GetFileName(file)}: {e.GetType().Name}: {e.Message} ({Hex.Format(input)})");
            }
        }

        Assert.That(failures, Is.Empty);
        Assert.That(accepted, Is.GreaterThan(0), "some inputs are well formed");
        TestContext.Out.WriteLine($"{accepted} accepted, {rejected} rejected");
    }
}
