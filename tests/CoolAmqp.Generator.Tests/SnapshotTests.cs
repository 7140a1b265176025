using System.Collections.Generic;
using System.Linq;
using ApprovalTests;
using ApprovalTests.Namers;
using ApprovalTests.Reporters;
using Microsoft.CodeAnalysis;
using NUnit.Framework;

namespace CoolAmqp.Generator.Tests;

/// <summary>
/// Snapshots of everything the generator emits from our spec. After an intended change, run the tests and copy
/// each <c>*.received.txt</c> over its <c>*.approved.txt</c> (see generator/README.md).
/// </summary>
[TestFixture]
[UseReporter(typeof(QuietReporter))]
public sealed class SnapshotTests
{
    private static readonly Dictionary<string, string> Generated = GenerateFromOurSpec();

    private static IEnumerable<string> FileNames() => Generated.Keys.OrderBy(k => k, System.StringComparer.Ordinal);

    [Test]
    public void Generated_file_names()
    {
        Approvals.Verify(string.Join("\n", FileNames()));
    }

    [Test]
    [TestCaseSource(nameof(FileNames))]
    public void Generated_file(string hintName)
    {
        using (ApprovalResults.ForScenario(hintName))
        {
            Approvals.Verify(Generated[hintName]);
        }
    }

    private static Dictionary<string, string> GenerateFromOurSpec()
    {
        GeneratorDriverRunResult result = GeneratorHarness.Run(GeneratorHarness.OurSpecPath, GeneratorHarness.OurSpecText);
        return result.Results.Single().GeneratedSources.ToDictionary(s => s.HintName, s => s.SourceText.ToString());
    }
}
