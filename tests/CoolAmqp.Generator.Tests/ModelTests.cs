using System.Collections.Generic;
using System.IO;
using System.Linq;
using CoolAmqp.Generator.Model;
using Microsoft.CodeAnalysis.Text;
using NUnit.Framework;

namespace CoolAmqp.Generator.Tests;

/// <summary>The model has value equality (so caching works) and our spec describes the same protocol as RabbitMQ's.</summary>
[TestFixture]
public sealed class ModelTests
{
    [Test]
    public void Parsing_twice_gives_equal_models()
    {
        ParseResult first = Parse(GeneratorHarness.OurSpecPath, GeneratorHarness.OurSpecText);
        ParseResult second = Parse(GeneratorHarness.OurSpecPath, GeneratorHarness.OurSpecText);

        Assert.Multiple(() =>
        {
            Assert.That(first.Model, Is.Not.Null);
            Assert.That(first.Diagnostics, Is.Empty);
            Assert.That(second.Model, Is.Not.SameAs(first.Model));
            Assert.That(second.Model, Is.EqualTo(first.Model));
            Assert.That(second.Model!.GetHashCode(), Is.EqualTo(first.Model!.GetHashCode()));
            Assert.That(second, Is.EqualTo(first));
        });
    }

    [Test]
    public void A_doc_edit_makes_the_models_differ_only_in_docs()
    {
        string text = GeneratorHarness.OurSpecText;
        int doc = text.IndexOf("<doc>", System.StringComparison.Ordinal) + "<doc>".Length;
        string edited = text.Insert(doc, "Edited. ");
        SpecModel original = Parse(GeneratorHarness.OurSpecPath, text).Model!;
        SpecModel changed = Parse(GeneratorHarness.OurSpecPath, edited).Model!;

        Assert.Multiple(() =>
        {
            Assert.That(changed, Is.Not.EqualTo(original));
            Assert.That(changed.WithoutDocs(), Is.EqualTo(original.WithoutDocs()));
        });
    }

    [Test]
    public void Our_spec_describes_the_same_protocol_as_the_RabbitMQ_reference_docs_ignored()
    {
        string referencePath = GeneratorHarness.ReferenceSpecPath;
        if (!File.Exists(referencePath))
        {
            Assert.Fail($"The RabbitMQ reference spec is missing at {referencePath}; it must sit beside the repository as shared/spec/amqp0-9-1.extended.xml.");
        }

        ParseResult reference = Parse(referencePath, File.ReadAllText(referencePath));
        ParseResult ours = Parse(GeneratorHarness.OurSpecPath, GeneratorHarness.OurSpecText);
        Assert.That(reference.Diagnostics, Is.Empty, "reference spec diagnostics");
        Assert.That(ours.Diagnostics, Is.Empty, "our spec diagnostics");

        SpecModel expected = reference.Model!.WithoutDocs();
        SpecModel actual = ours.Model!.WithoutDocs();
        List<string> expectedLines = Describe(expected);
        List<string> actualLines = Describe(actual);
        string differences = string.Join("\n", expectedLines.Except(actualLines).Select(l => "- " + l)
            .Concat(actualLines.Except(expectedLines).Select(l => "+ " + l)));

        Assert.Multiple(() =>
        {
            Assert.That(differences, Is.Empty, "reference (-) vs ours (+)");
            Assert.That(actualLines, Is.EqualTo(expectedLines), "same items in the same order");
            Assert.That(actual, Is.EqualTo(expected));
            Assert.That(expectedLines.Count(l => l.StartsWith("method ", System.StringComparison.Ordinal)), Is.GreaterThan(40));
        });
    }

    [Test]
    public void Parsing_honours_cancellation()
    {
        using var cancelled = new System.Threading.CancellationTokenSource();
        cancelled.Cancel();

        Assert.That(() => SpecParser.Parse(GeneratorHarness.OurSpecPath, SourceText.From(GeneratorHarness.OurSpecText), cancelled.Token),
            Throws.InstanceOf<System.OperationCanceledException>());
    }

    private static ParseResult Parse(string path, string text) => SpecParser.Parse(path, SourceText.From(text), default);

    /// <summary>One line per model item, so a mismatch names exactly what differs.</summary>
    private static List<string> Describe(SpecModel model)
    {
        var lines = new List<string> { $"amqp {model.Major}-{model.Minor}-{model.Revision} port {model.Port}" };
        lines.AddRange(model.Constants.Select(c => $"constant {c.Name} = {c.Value} {c.ErrorClass}"));
        lines.AddRange(model.Domains.Select(d => $"domain {d.Name}: {d.Type}"));
        foreach (ClassModel amqpClass in model.Classes)
        {
            lines.Add($"class {amqpClass.Name} {amqpClass.Index} chassis {Chassis(amqpClass.Chassis)}");
            lines.AddRange(amqpClass.Properties.Select(p => $"property {amqpClass.Name}.{Field(p)}"));
            foreach (MethodModel method in amqpClass.Methods)
            {
                lines.Add($"method {amqpClass.Name}.{method.Name} {method.Index} sync={method.Synchronous} content={method.HasContent} " +
                    $"chassis {Chassis(method.Chassis)} responses [{string.Join(",", method.Responses)}]");
                lines.AddRange(method.Fields.Select(f => $"field {amqpClass.Name}.{method.Name}.{Field(f)}"));
            }
        }

        return lines;
    }

    private static string Chassis(EquatableArray<ChassisModel> chassis) =>
        "[" + string.Join(",", chassis.Select(c => $"{c.Name}:{c.Implement}")) + "]";

    private static string Field(FieldModel field) =>
        $"{field.Name} {field.Domain} {field.Type}{(field.Reserved ? " reserved" : string.Empty)}";
}
