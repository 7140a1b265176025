using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using CoolAmqp.Generator.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using NUnit.Framework;

namespace CoolAmqp.Generator.Tests;

/// <summary>The generated code compiles against the runtime's hand-written framing sources, and behaves.</summary>
[TestFixture]
public sealed class CompilationTests
{
    // One compilation of our spec's output + runtime/Framing + the probe, shared by the two tests below (compiling is
    // the slow part of this suite).
    private static readonly Lazy<(GeneratorDriverRunResult Result, CSharpCompilation Compilation)> OurSpec = new(() =>
    {
        GeneratorDriverRunResult result = GeneratorHarness.Run(GeneratorHarness.OurSpecPath, GeneratorHarness.OurSpecText);
        SpecModel model = SpecParser.Parse(GeneratorHarness.OurSpecPath, Microsoft.CodeAnalysis.Text.SourceText.From(GeneratorHarness.OurSpecText), default).Model!;
        var trees = new List<SyntaxTree>(GeneratorHarness.FramingSources());
        trees.AddRange(result.GeneratedTrees);
        trees.Add(Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Probes", "FramingProbe.cs"))));
        trees.Add(Parse(RecordingHandlerSource(model)));
        return (result, GeneratorHarness.CreateCompilation(trees, "CoolAmqp.FramingProbe"));
    });

    [Test]
    public void Generated_code_from_our_spec_compiles_with_the_framing_sources_without_errors_or_warnings()
    {
        (GeneratorDriverRunResult result, CSharpCompilation compilation) = OurSpec.Value;
        Assert.That(result.Diagnostics, Is.Empty, GeneratorHarness.FormatDiagnostics(result.Diagnostics));

        Diagnostic[] problems = compilation.GetDiagnostics()
            .Where(d => d.Severity == DiagnosticSeverity.Error
                || (d.Severity == DiagnosticSeverity.Warning && d.Location.SourceTree is { } tree && result.GeneratedTrees.Contains(tree)))
            .ToArray();

        Assert.That(problems, Is.Empty, GeneratorHarness.FormatDiagnostics(problems));
        Assert.That(result.GeneratedTrees, Has.Length.EqualTo(11));
    }

    [Test]
    public void Generated_codecs_behave_as_the_contract_says()
    {
        string failures = GeneratorHarness.Execute(OurSpec.Value.Compilation, "CoolAmqp.Framing.Probe.FramingProbe");

        Assert.That(failures, Is.Empty);
    }

    [Test]
    public void Edge_cases_of_a_small_spec_compile_and_pack_bits_across_octets()
    {
        const string spec = """
            <amqp major="0" minor="9" revision="1">
              <constant name="frame-end" value="206"/>
              <domain name="flag" type="bit"/>
              <domain name="alias" type="flag"/>
              <class name="edge" index="7">
                <field name="on" domain="bit"/>
                <field name="name" domain="shortstr"/>
                <method name="nine-bits" index="1">
                  <chassis name="client" implement="MUST"/>
                  <field name="b0" domain="bit"/><field name="b1" domain="alias"/><field name="b2" domain="bit"/>
                  <field name="b3" domain="bit"/><field name="b4" domain="bit"/><field name="b5" domain="bit"/>
                  <field name="b6" domain="bit"/><field name="b7" domain="bit"/><field name="b8" domain="bit"/>
                  <field name="type" domain="shortstr"/>
                  <field name="class" domain="octet"/>
                  <field name="class-id" domain="short"/>
                  <field name="name" domain="long"/>
                  <field name="reserved-1" type="bit" reserved="1"/>
                  <field name="internal" domain="bit"/>
                </method>
                <method name="only-reserved" index="2">
                  <field name="reserved-1" type="longstr" reserved="1"/>
                  <field name="reserved-2" type="table" reserved="1"/>
                </method>
              </class>
            </amqp>
            """;
        GeneratorDriverRunResult result = GeneratorHarness.Run("edge.extended.xml", spec);
        Assert.That(result.Diagnostics, Is.Empty, GeneratorHarness.FormatDiagnostics(result.Diagnostics));

        const string probe = """
            using System;
            namespace CoolAmqp.Framing.Probe;
            public static class EdgeProbe
            {
                public static string Run()
                {
                    var method = new EdgeNineBits(true, false, false, false, false, false, false, true, true, "t", 5, 6, 7, true) { };
                    var buffer = new byte[method.GetSize()];
                    int written = method.WriteArguments(buffer);
                    var reader = EdgeNineBits.Read(buffer);
                    var properties = new EdgeProperties { On = true, NameValue = "n" };
                    var propertyBytes = new byte[properties.GetSize()];
                    properties.WriteTo(propertyBytes);
                    var propertyReader = EdgeProperties.Read(propertyBytes);
                    return Convert.ToHexString(buffer.AsSpan(0, written)) + "|" + reader.B8 + reader.Internal + reader.ClassId + reader.NameValue + reader.Type
                        + "|" + new EdgeOnlyReserved().GetSize() + "|" + Convert.ToHexString(propertyBytes) + propertyReader.On + propertyReader.NameValue;
                }
            }
            """;
        var trees = new List<SyntaxTree>(GeneratorHarness.FramingSources());
        trees.AddRange(result.GeneratedTrees);
        trees.Add(Parse(probe));

        string output = GeneratorHarness.Execute(GeneratorHarness.CreateCompilation(trees, "CoolAmqp.EdgeProbe"), "CoolAmqp.Framing.Probe.EdgeProbe");

        // Bits 0..7 in octet one (b0, b7 set: 0x81), b8 alone in octet two (0x01), then "t", class 5, class-id 6,
        // name 7, and the reserved bit plus "internal" packed in a third octet (0x02).
        // Also: keyword and colliding names (type, class, class-id, name), reserved-only methods, bit properties.
        Assert.That(output, Is.EqualTo("810101740500060000000702|TrueTrue67t|8|C000016ETruen"));
    }

    private static SyntaxTree Parse(string source) => CSharpSyntaxTree.ParseText(source, GeneratorHarness.ParseOptions);

    /// <summary>A handler whose On* methods record their calls, for every client-received method except basic.deliver
    /// (which the probe implements by hand to check a field).</summary>
    private static string RecordingHandlerSource(SpecModel model)
    {
        var builder = new StringBuilder();
        builder.Append("namespace CoolAmqp.Framing.Probe;\npublic static partial class FramingProbe\n{\n    internal sealed partial class RecordingHandler\n    {\n");
        foreach (ClassModel amqpClass in model.Classes)
        {
            foreach (MethodModel method in amqpClass.Methods.Where(m => m.ClientReceives))
            {
                string type = Emitter.Pascal(amqpClass.Name) + Emitter.Pascal(method.Name);
                if (type != "BasicDeliver")
                {
                    // ToMethod decodes every field (strings, tables), so garbage reaches the decoders too.
                    builder.Append(System.Globalization.CultureInfo.InvariantCulture,
                        $"        public void On{type}(ushort channel, CoolAmqp.Framing.{type}.Reader method)\n        {{\n            Calls.Add(\"{type}@\" + channel);\n            _ = method.ToMethod();\n        }}\n");
                }
            }
        }

        builder.Append("    }\n}\n");
        return builder.ToString();
    }
}
