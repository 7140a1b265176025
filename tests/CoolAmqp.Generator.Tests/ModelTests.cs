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

    /// <summary>
    /// How our spec differs from Debian's 2013 copy of RabbitMQ's spec, docs ignored: what RabbitMQ changed since, as
    /// its current spec has it. "-" is only in Debian's, "+" only in ours (in that order); any other difference fails.
    /// </summary>
    private static readonly string[] ChangesSinceDebiansCopy =
    {
        // Renamed like every other method's no-wait; the same bit on the wire.
        "- field confirm.select.nowait bit Bit",
        "+ constant no-route = 312 soft-error",
        "+ method connection.blocked 60 sync=False content=False chassis [server:MUST,client:MUST] responses []",
        "+ field connection.blocked.reason shortstr ShortStr",
        "+ method connection.unblocked 61 sync=False content=False chassis [server:MUST,client:MUST] responses []",
        "+ method connection.update-secret 70 sync=True content=False chassis [client:MUST] responses [update-secret-ok]",
        "+ field connection.update-secret.new-secret longstr LongStr",
        "+ field connection.update-secret.reason shortstr ShortStr",
        "+ method connection.update-secret-ok 71 sync=True content=False chassis [server:MUST] responses []",
        "+ field confirm.select.no-wait no-wait Bit",
    };

    [Test]
    public void Our_spec_is_RabbitMQs_reference_plus_its_later_changes_docs_ignored()
    {
        string debianPath = GeneratorHarness.ReferenceSpecPath;
        if (!File.Exists(debianPath))
        {
            Assert.Fail($"RabbitMQ's reference spec is missing at {debianPath}. Install Debian's package: " +
                "apt-get install amqp-specs (the Test target does), or set COOLAMQP_REFERENCE_SPEC to a copy of the file.");
        }

        ParseResult debian = Parse(debianPath, File.ReadAllText(debianPath));
        ParseResult ours = Parse(GeneratorHarness.OurSpecPath, GeneratorHarness.OurSpecText);
        Assert.That(debian.Diagnostics, Is.Empty, "reference spec diagnostics");
        Assert.That(ours.Diagnostics, Is.Empty, "our spec diagnostics");
        TestContext.Out.WriteLine($"Compared with {debianPath} and the listed changes.");

        List<string> debianLines = Describe(debian.Model!.WithoutDocs());
        List<string> ourLines = Describe(ours.Model!.WithoutDocs());
        string[] removed = ChangesSinceDebiansCopy.Where(l => l.StartsWith("- ", System.StringComparison.Ordinal)).Select(l => l.Substring(2)).ToArray();
        string[] added = ChangesSinceDebiansCopy.Where(l => l.StartsWith("+ ", System.StringComparison.Ordinal)).Select(l => l.Substring(2)).ToArray();
        List<string> differences = Differences(debianLines, ourLines);
        Assert.Multiple(() =>
        {
            Assert.That(differences.Except(ChangesSinceDebiansCopy), Is.Empty, "reference (-) vs ours (+) beyond the listed changes");
            Assert.That(ChangesSinceDebiansCopy.Except(differences), Is.Empty, "listed changes our spec does not have");
            Assert.That(differences, Is.EqualTo(ChangesSinceDebiansCopy), "the listed changes in document order");
            Assert.That(ourLines.Where(l => !added.Contains(l)), Is.EqualTo(debianLines.Where(l => !removed.Contains(l))),
                "the items both have, in the same order");
            Assert.That(debianLines.Count(l => l.StartsWith("method ", System.StringComparison.Ordinal)), Is.GreaterThan(40));
        });

        // Optional: a machine with RabbitMQ's current full spec (see GeneratorHarness) compares with it whole.
        string? fullPath = GeneratorHarness.FullReferenceSpecPath;
        if (fullPath is null)
        {
            TestContext.Out.WriteLine("No full RabbitMQ spec found (COOLAMQP_FULL_REFERENCE_SPEC, or spec/ beside the repository); not compared.");
            return;
        }

        if (!File.Exists(fullPath))
        {
            Assert.Fail($"COOLAMQP_FULL_REFERENCE_SPEC names {fullPath}, which does not exist.");
        }

        ParseResult full = Parse(fullPath, File.ReadAllText(fullPath));
        Assert.That(full.Diagnostics, Is.Empty, "full reference spec diagnostics");
        TestContext.Out.WriteLine($"Compared with {fullPath} whole.");
        SpecModel expected = full.Model!.WithoutDocs();
        SpecModel actual = ours.Model!.WithoutDocs();
        List<string> expectedLines = Describe(expected);
        Assert.Multiple(() =>
        {
            Assert.That(Differences(expectedLines, ourLines), Is.Empty, "full reference (-) vs ours (+)");
            Assert.That(ourLines, Is.EqualTo(expectedLines), "same items in the same order");
            Assert.That(actual, Is.EqualTo(expected));
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

    private static List<string> Differences(List<string> reference, List<string> ours) =>
        reference.Except(ours).Select(l => "- " + l).Concat(ours.Except(reference).Select(l => "+ " + l)).ToList();

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
