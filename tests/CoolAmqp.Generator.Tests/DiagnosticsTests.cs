using System;
using System.Linq;
using Microsoft.CodeAnalysis;
using NUnit.Framework;

namespace CoolAmqp.Generator.Tests;

/// <summary>A broken spec gives a diagnostic at the offending XML line, generates nothing, and never crashes.</summary>
[TestFixture]
public sealed class DiagnosticsTests
{
    private const string Path = "/specs/broken.extended.xml";

    // A small valid spec; each test breaks one thing. "<!--X-->" marks the line a diagnostic must point at.
    private const string Valid = """
        <?xml version="1.0"?>
        <amqp major="0" minor="9" revision="1" port="5672">
          <constant name="frame-end" value="206"/>
          <constant name="not-found" value="404" class="soft-error"/>
          <domain name="queue-name" type="shortstr"/>
          <domain name="no-wait" type="bit"/>
          <class name="queue" index="50">
            <chassis name="server" implement="MUST"/>
            <method name="declare" synchronous="1" index="10">
              <chassis name="server" implement="MUST"/>
              <response name="declare-ok"/>
              <field name="reserved-1" type="short" reserved="1"/>
              <field name="queue" domain="queue-name"/>
              <field name="no-wait" domain="no-wait"/>
            </method>
            <method name="declare-ok" synchronous="1" index="11">
              <chassis name="client" implement="MUST"/>
              <field name="queue" domain="queue-name"/>
            </method>
          </class>
          <class name="basic" index="60">
            <field name="content-type" domain="shortstr"/>
            <method name="ack" index="80">
              <field name="delivery-tag" domain="longlong"/>
            </method>
          </class>
        </amqp>
        """;

    [Test]
    public void The_valid_base_spec_gives_no_diagnostics_and_generates_code()
    {
        GeneratorRunResult result = Run(Valid);

        Assert.Multiple(() =>
        {
            Assert.That(result.Exception, Is.Null);
            Assert.That(result.Diagnostics, Is.Empty, GeneratorHarness.FormatDiagnostics(result.Diagnostics));
            Assert.That(result.GeneratedSources.Select(s => s.HintName), Does.Contain("Queue.g.cs").And.Contain("BasicProperties.g.cs"));
        });
    }

    [Test]
    public void Malformed_xml_is_CAMQP001_at_the_line_of_the_error()
    {
        string spec = Valid.Replace("""<field name="queue" domain="queue-name"/>""", """<field name="queue" domain="queue-name"><!--X-->""");

        AssertSingleError(spec, "CAMQP001", LineOfFirstLineAfter(spec, "<!--X-->", "</method>"));
    }

    [Test]
    public void Unterminated_attribute_is_CAMQP001_at_its_line()
    {
        string spec = Valid.Replace("""<constant name="frame-end" value="206"/>""", """<constant name="frame-end value="206"/><!--X-->""");

        AssertSingleError(spec, "CAMQP001", LineOf(spec, "<!--X-->"));
    }

    [Test]
    public void A_field_with_an_unknown_domain_is_CAMQP002_at_the_field()
    {
        string spec = Valid.Replace("""<field name="no-wait" domain="no-wait"/>""", """<field name="no-wait" domain="no-such-domain"/><!--X-->""");

        Diagnostic diagnostic = AssertSingleError(spec, "CAMQP002", LineOf(spec, "<!--X-->"));
        Assert.That(diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture), Does.Contain("no-such-domain").And.Contain("queue.declare.no-wait"));
    }

    [Test]
    public void A_domain_of_an_unknown_type_is_CAMQP002_at_the_domain()
    {
        string spec = Valid.Replace("""<domain name="no-wait" type="bit"/>""", """<domain name="no-wait" type="boolean"/><!--X-->""");

        // The fields that use the broken domain are reported too; the first report is the domain itself.
        GeneratorRunResult result = Run(spec);
        Diagnostic first = result.Diagnostics.First();
        Assert.Multiple(() =>
        {
            Assert.That(result.Exception, Is.Null);
            Assert.That(result.Diagnostics.Select(d => d.Id), Is.All.EqualTo("CAMQP002"));
            Assert.That(Line(first), Is.EqualTo(LineOf(spec, "<!--X-->")));
            Assert.That(first.GetMessage(System.Globalization.CultureInfo.InvariantCulture), Does.Contain("boolean"));
            Assert.That(result.GeneratedSources, Is.Empty);
        });
    }

    [Test]
    public void A_domain_through_two_other_domains_is_CAMQP002()
    {
        string spec = Valid.Replace("""<domain name="no-wait" type="bit"/>""",
            """<domain name="flag" type="bit"/><domain name="alias" type="flag"/><domain name="no-wait" type="alias"/><!--X-->""");

        GeneratorRunResult result = Run(spec);
        Assert.That(result.Diagnostics.Select(d => (d.Id, Line(d))).First(), Is.EqualTo(("CAMQP002", LineOf(spec, "<!--X-->"))));
    }

    [Test]
    public void A_duplicate_class_index_is_CAMQP003_at_the_second_class()
    {
        string spec = Valid.Replace("""<class name="basic" index="60">""", """<class name="basic" index="50"><!--X-->""");

        Diagnostic diagnostic = AssertSingleError(spec, "CAMQP003", LineOf(spec, "<!--X-->"));
        Assert.That(diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture), Does.Contain("basic").And.Contain("queue").And.Contain("50"));
    }

    [Test]
    public void A_duplicate_method_index_is_CAMQP003_at_the_second_method()
    {
        string spec = Valid.Replace("""<method name="declare-ok" synchronous="1" index="11">""", """<method name="declare-ok" synchronous="1" index="10"><!--X-->""");

        Diagnostic diagnostic = AssertSingleError(spec, "CAMQP003", LineOf(spec, "<!--X-->"));
        Assert.That(diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture), Does.Contain("queue.declare-ok").And.Contain("queue.declare'"));
    }

    [Test]
    public void Sixteen_content_properties_is_CAMQP004_at_the_sixteenth()
    {
        string fields = string.Concat(Enumerable.Range(2, 15).Select(i =>
            $"\n    <field name=\"p{i}\" domain=\"shortstr\"/>{(i == 16 ? "<!--X-->" : string.Empty)}"));
        string spec = Valid.Replace("""<field name="content-type" domain="shortstr"/>""", """<field name="content-type" domain="shortstr"/>""" + fields);

        Diagnostic diagnostic = AssertSingleError(spec, "CAMQP004", LineOf(spec, "<!--X-->"));
        Assert.That(diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture), Does.Contain("'basic'").And.Contain("16"));
    }

    [Test]
    public void Fifteen_content_properties_fit()
    {
        string fields = string.Concat(Enumerable.Range(2, 14).Select(i => $"\n    <field name=\"p{i}\" domain=\"octet\"/>"));
        string spec = Valid.Replace("""<field name="content-type" domain="shortstr"/>""", """<field name="content-type" domain="shortstr"/>""" + fields);

        GeneratorRunResult result = Run(spec);
        Assert.Multiple(() =>
        {
            Assert.That(result.Diagnostics, Is.Empty);
            Assert.That(result.GeneratedSources.Single(s => s.HintName == "BasicProperties.g.cs").SourceText.ToString(),
                Does.Contain("KnownFlags = 0xFFFE"));
        });
    }

    [Test]
    public void A_missing_index_attribute_is_CAMQP005_at_the_element()
    {
        string spec = Valid.Replace("""<method name="ack" index="80">""", """<method name="ack"><!--X-->""");

        Diagnostic diagnostic = AssertSingleError(spec, "CAMQP005", LineOf(spec, "<!--X-->"));
        Assert.That(diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture), Does.Contain("'index'").And.Contain("missing"));
        Assert.That(diagnostic.Location.GetLineSpan().StartLinePosition.Character, Is.EqualTo(4), "points at '<method'");
    }

    [Test]
    public void A_non_numeric_index_is_CAMQP005_at_the_attribute()
    {
        string spec = Valid.Replace("""<class name="basic" index="60">""", """<class name="basic" index="sixty"><!--X-->""");

        Diagnostic diagnostic = AssertSingleError(spec, "CAMQP005", LineOf(spec, "<!--X-->"));
        Assert.That(diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture), Does.Contain("sixty"));
        Assert.That(diagnostic.Location.GetLineSpan().StartLinePosition.Character, Is.EqualTo(spec.Split('\n')[LineOf(spec, "<!--X-->") - 1].IndexOf("index=", StringComparison.Ordinal)));
    }

    [Test]
    public void A_method_index_out_of_range_is_CAMQP005()
    {
        string spec = Valid.Replace("""<method name="ack" index="80">""", """<method name="ack" index="65536"><!--X-->""");

        AssertSingleError(spec, "CAMQP005", LineOf(spec, "<!--X-->"));
    }

    [Test]
    public void A_field_without_a_domain_is_CAMQP005()
    {
        string spec = Valid.Replace("""<field name="delivery-tag" domain="longlong"/>""", """<field name="delivery-tag"/><!--X-->""");

        AssertSingleError(spec, "CAMQP005", LineOf(spec, "<!--X-->"));
    }

    [Test]
    public void A_response_to_an_unknown_method_is_CAMQP006()
    {
        string spec = Valid.Replace("""<response name="declare-ok"/>""", """<response name="declare-okay"/><!--X-->""");

        AssertSingleError(spec, "CAMQP006", LineOf(spec, "<!--X-->"));
    }

    [Test]
    public void Two_specs_generate_from_the_first_and_warn_CAMQP007()
    {
        GeneratorDriverRunResult run = GeneratorHarness.Run(
            new InMemoryAdditionalText("/specs/b.extended.xml", Valid),
            new InMemoryAdditionalText("/specs/a.extended.xml", Valid));
        GeneratorRunResult result = run.Results.Single();

        Assert.Multiple(() =>
        {
            Assert.That(result.Exception, Is.Null);
            Assert.That(result.Diagnostics.Select(d => (d.Id, d.Severity, d.Location.GetLineSpan().Path)),
                Is.EqualTo(new[] { ("CAMQP007", DiagnosticSeverity.Warning, "/specs/b.extended.xml") }));
            Assert.That(result.GeneratedSources, Is.Not.Empty);
        });
    }

    [Test]
    public void Xml_files_that_are_not_specs_are_ignored()
    {
        GeneratorDriverRunResult run = GeneratorHarness.Run(
            new InMemoryAdditionalText("/x/settings.xml", "<settings><value/></settings>"),
            new InMemoryAdditionalText("/x/broken.xml", "<settings><value></settings>"),
            new InMemoryAdditionalText("/x/notes.txt", "<amqp"),
            new InMemoryAdditionalText("/x/mentions.xml", "<root><!-- an <amqp element elsewhere --></root>"));
        GeneratorRunResult result = run.Results.Single();

        Assert.Multiple(() =>
        {
            Assert.That(result.Exception, Is.Null);
            Assert.That(result.Diagnostics, Is.Empty);
            Assert.That(result.GeneratedSources, Is.Empty);
        });
    }

    [Test]
    public void A_doctype_naming_an_external_dtd_is_ignored()
    {
        string spec = Valid.Replace("<amqp ", "<!DOCTYPE amqp SYSTEM \"/no/such/amqp.dtd\">\n<amqp ");

        GeneratorRunResult result = Run(spec);
        Assert.Multiple(() =>
        {
            Assert.That(result.Diagnostics, Is.Empty, GeneratorHarness.FormatDiagnostics(result.Diagnostics));
            Assert.That(result.GeneratedSources, Is.Not.Empty);
        });
    }

    [Test]
    public void An_empty_spec_file_is_CAMQP001_and_does_not_crash()
    {
        AssertSingleError(string.Empty, "CAMQP001", 1);
    }

    private static Diagnostic AssertSingleError(string spec, string id, int line)
    {
        GeneratorRunResult result = Run(spec);
        Assert.Multiple(() =>
        {
            Assert.That(result.Exception, Is.Null, "the generator threw");
            Assert.That(result.Diagnostics.Select(d => (d.Id, Line(d))), Is.EqualTo(new[] { (id, line) }), GeneratorHarness.FormatDiagnostics(result.Diagnostics));
            Assert.That(result.GeneratedSources, Is.Empty, "a spec with errors generates nothing");
        });

        Diagnostic diagnostic = result.Diagnostics.Single();
        Assert.Multiple(() =>
        {
            Assert.That(diagnostic.Severity, Is.EqualTo(DiagnosticSeverity.Error));
            Assert.That(diagnostic.Location.GetLineSpan().Path, Is.EqualTo(Path));
            Assert.That(diagnostic.Location.SourceSpan.Length, Is.GreaterThan(0).Or.EqualTo(0).And.LessThanOrEqualTo(spec.Length));
        });
        return diagnostic;
    }

    private static GeneratorRunResult Run(string spec) => GeneratorHarness.Run(Path, spec).Results.Single();

    private static int Line(Diagnostic diagnostic) => diagnostic.Location.GetLineSpan().StartLinePosition.Line + 1;

    /// <summary>The one-based line holding <paramref name="marker"/>.</summary>
    private static int LineOf(string text, string marker)
    {
        int index = text.IndexOf(marker, StringComparison.Ordinal);
        Assert.That(index, Is.GreaterThanOrEqualTo(0), marker);
        return text.Substring(0, index).Count(c => c == '\n') + 1;
    }

    /// <summary>The first line after the marker's line that contains <paramref name="text"/> (where an XML parser notices an unclosed tag).</summary>
    private static int LineOfFirstLineAfter(string spec, string marker, string text)
    {
        int start = spec.IndexOf(marker, StringComparison.Ordinal);
        int index = spec.IndexOf(text, start, StringComparison.Ordinal);
        return spec.Substring(0, index).Count(c => c == '\n') + 1;
    }
}
