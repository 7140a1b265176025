using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using NUnit.Framework;

namespace CoolAmqp.Generator.Tests;

/// <summary>The pipeline caches: unchanged input does no work, unrelated C# edits never reach the spec steps.</summary>
[TestFixture]
public sealed class IncrementalTests
{
    private static readonly string[] SpecSteps =
    {
        AmqpGenerator.Steps.Parse, AmqpGenerator.Steps.Model, AmqpGenerator.Steps.Diagnostics,
    };

    [Test]
    public void Running_the_same_input_twice_is_cached()
    {
        var spec = new InMemoryAdditionalText(GeneratorHarness.OurSpecPath, GeneratorHarness.OurSpecText);
        CSharpCompilation compilation = GeneratorHarness.CreateCompilation("namespace App { internal static class A { } }");
        GeneratorDriver driver = GeneratorHarness.CreateDriver(spec).RunGenerators(compilation);

        driver = driver.RunGenerators(compilation.Clone());
        GeneratorRunResult result = driver.GetRunResult().Results.Single();

        Assert.Multiple(() =>
        {
            foreach (string step in SpecSteps)
            {
                Assert.That(Reasons(result, step), Is.All.EqualTo(IncrementalStepRunReason.Cached), step);
            }

            Assert.That(result.TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs).Select(o => o.Reason),
                Is.Not.Empty.And.All.EqualTo(IncrementalStepRunReason.Cached));
        });
    }

    [Test]
    public void Adding_an_unrelated_syntax_tree_leaves_the_spec_steps_cached()
    {
        var spec = new InMemoryAdditionalText(GeneratorHarness.OurSpecPath, GeneratorHarness.OurSpecText);
        CSharpCompilation compilation = GeneratorHarness.CreateCompilation("namespace App { internal static class A { } }");
        GeneratorDriver driver = GeneratorHarness.CreateDriver(spec).RunGenerators(compilation);

        driver = driver.RunGenerators(compilation.AddSyntaxTrees(
            CSharpSyntaxTree.ParseText("namespace App { internal static class B { } }", GeneratorHarness.ParseOptions)));
        GeneratorRunResult result = driver.GetRunResult().Results.Single();

        Assert.Multiple(() =>
        {
            foreach (string step in SpecSteps)
            {
                Assert.That(Reasons(result, step), Is.Not.Empty.And.All.EqualTo(IncrementalStepRunReason.Cached), step);
            }

            Assert.That(result.GeneratedSources, Has.Length.EqualTo(11));
        });
    }

    [Test]
    public void Editing_doc_text_changes_the_output()
    {
        string original = GeneratorHarness.OurSpecText;
        const string before = "Octet that ends every frame.";
        const string after = "Octet that closes every frame.";
        Assume.That(original, Does.Contain(before), "the spec's frame-end doc changed; pick another doc text");
        var spec = new InMemoryAdditionalText(GeneratorHarness.OurSpecPath, original);
        CSharpCompilation compilation = GeneratorHarness.CreateCompilation("namespace App { internal static class A { } }");
        GeneratorDriver driver = GeneratorHarness.CreateDriver(spec).RunGenerators(compilation);

        driver = driver.ReplaceAdditionalText(spec, new InMemoryAdditionalText(GeneratorHarness.OurSpecPath, original.Replace(before, after)));
        driver = driver.RunGenerators(compilation);
        GeneratorRunResult result = driver.GetRunResult().Results.Single();
        string constants = result.GeneratedSources.Single(s => s.HintName == "Constants.g.cs").SourceText.ToString();

        Assert.Multiple(() =>
        {
            Assert.That(Reasons(result, AmqpGenerator.Steps.Parse), Is.EqualTo(new[] { IncrementalStepRunReason.Modified }));
            Assert.That(Reasons(result, AmqpGenerator.Steps.Model), Is.EqualTo(new[] { IncrementalStepRunReason.Modified }));
            Assert.That(Reasons(result, AmqpGenerator.Steps.Diagnostics), Is.EqualTo(new[] { IncrementalStepRunReason.Unchanged }));
            Assert.That(constants, Does.Contain(after).And.Not.Contain(before));
        });
    }

    [Test]
    public void Editing_an_xml_comment_reparses_but_leaves_the_model_unchanged()
    {
        string original = GeneratorHarness.OurSpecText;
        var spec = new InMemoryAdditionalText(GeneratorHarness.OurSpecPath, original);
        CSharpCompilation compilation = GeneratorHarness.CreateCompilation("namespace App { internal static class A { } }");
        GeneratorDriver driver = GeneratorHarness.CreateDriver(spec).RunGenerators(compilation);

        string edited = original.Replace("<amqp ", "<!-- an edited comment -->\n<amqp ");
        Assume.That(edited, Is.Not.EqualTo(original));
        driver = driver.ReplaceAdditionalText(spec, new InMemoryAdditionalText(GeneratorHarness.OurSpecPath, edited));
        driver = driver.RunGenerators(compilation);
        GeneratorRunResult result = driver.GetRunResult().Results.Single();

        Assert.Multiple(() =>
        {
            Assert.That(Reasons(result, AmqpGenerator.Steps.Parse), Is.EqualTo(new[] { IncrementalStepRunReason.Unchanged }));
            Assert.That(Reasons(result, AmqpGenerator.Steps.Model), Is.EqualTo(new[] { IncrementalStepRunReason.Cached }));
            Assert.That(result.TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs).Select(o => o.Reason),
                Is.Not.Empty.And.All.EqualTo(IncrementalStepRunReason.Cached));
        });
    }

    private static List<IncrementalStepRunReason> Reasons(GeneratorRunResult result, string step)
    {
        Assert.That(result.TrackedSteps.ContainsKey(step), Is.True, $"no tracked step '{step}'");
        ImmutableArray<IncrementalGeneratorRunStep> runs = result.TrackedSteps[step];
        return runs.SelectMany(r => r.Outputs).Select(o => o.Reason).ToList();
    }
}
