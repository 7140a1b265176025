using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Text;
using CoolAmqp.Generator.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace CoolAmqp.Generator;

/// <summary>
/// Generates the AMQP 0-9-1 frame layer from the spec XML listed in <c>AdditionalFiles</c>. This class only wires the
/// incremental pipeline: <see cref="SpecParser"/> builds the model, <see cref="Emitter"/> writes the code.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class AmqpGenerator : IIncrementalGenerator
{
    /// <summary>Tracking names of the pipeline steps, for tests that check caching.</summary>
    internal static class Steps
    {
        public const string Parse = "AmqpSpecParse";
        public const string Model = "AmqpSpecModel";
        public const string Diagnostics = "AmqpSpecDiagnostics";
    }

    /// <inheritdoc/>
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        IncrementalValuesProvider<ParseResult> parsed = context.AdditionalTextsProvider
            .Where(static text => SpecParser.IsCandidate(text.Path, () => text.GetText()))
            .Select(static (text, cancellationToken) => SpecParser.Parse(text.Path, text.GetText(cancellationToken), cancellationToken))
            .WithTrackingName(Steps.Parse);

        // All spec files together, in path order, so two specs cannot emit the same hint names twice.
        IncrementalValueProvider<EquatableArray<ParseResult>> all = parsed
            .Collect()
            .Select(static (results, _) => results.OrderBy(r => r.FilePath, System.StringComparer.Ordinal).ToEquatableArray());

        IncrementalValueProvider<SpecModel?> model = all
            .Select(static (results, _) => results.FirstOrDefault(r => r.Model is not null)?.Model)
            .WithTrackingName(Steps.Model);

        IncrementalValueProvider<EquatableArray<DiagnosticInfo>> diagnostics = all
            .Select(static (results, _) => CollectDiagnostics(results))
            .WithTrackingName(Steps.Diagnostics);

        context.RegisterSourceOutput(model, static (output, spec) =>
        {
            if (spec is null)
            {
                return;
            }

            foreach (GeneratedFile file in Emitter.Emit(spec))
            {
                output.AddSource(file.HintName, SourceText.From(file.Text, Encoding.UTF8));
            }
        });

        context.RegisterSourceOutput(diagnostics, static (output, infos) =>
        {
            foreach (DiagnosticInfo info in infos)
            {
                output.ReportDiagnostic(ToDiagnostic(info));
            }
        });
    }

    private static EquatableArray<DiagnosticInfo> CollectDiagnostics(EquatableArray<ParseResult> results)
    {
        var diagnostics = new List<DiagnosticInfo>();
        ParseResult? used = null;
        foreach (ParseResult result in results)
        {
            diagnostics.AddRange(result.Diagnostics);
            if (result.Model is null)
            {
                continue;
            }

            if (used is null)
            {
                used = result;
            }
            else
            {
                diagnostics.Add(new DiagnosticInfo(
                    DiagnosticDescriptors.MultipleSpecs.Id,
                    new[] { used.FilePath }.ToEquatableArray(),
                    result.FilePath,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0));
            }
        }

        return diagnostics.ToEquatableArray();
    }

    private static Diagnostic ToDiagnostic(DiagnosticInfo info)
    {
        DiagnosticDescriptor descriptor = DiagnosticDescriptors.ById(info.Id) ?? DiagnosticDescriptors.MalformedXml;
        var location = Location.Create(
            info.FilePath,
            new TextSpan(info.SpanStart, info.SpanLength),
            new LinePositionSpan(new LinePosition(info.StartLine, info.StartColumn), new LinePosition(info.EndLine, info.EndColumn)));
        return Diagnostic.Create(descriptor, location, info.Arguments.Cast<object?>().ToArray());
    }
}
