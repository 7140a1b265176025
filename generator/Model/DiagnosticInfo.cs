namespace CoolAmqp.Generator.Model;

/// <summary>
/// A diagnostic as plain data: a <see cref="Microsoft.CodeAnalysis.Diagnostic"/> holds a Location and is not
/// value-equal, so the parser records this and the generator turns it into a Diagnostic when reporting.
/// Lines and columns are zero-based (as in <see cref="Microsoft.CodeAnalysis.Text.LinePosition"/>).
/// </summary>
internal sealed record DiagnosticInfo(
    string Id,
    EquatableArray<string> Arguments,
    string FilePath,
    int SpanStart,
    int SpanLength,
    int StartLine,
    int StartColumn,
    int EndLine,
    int EndColumn);

/// <summary>The outcome of parsing one spec file: the model (null when the spec has errors) and the diagnostics.</summary>
internal sealed record ParseResult(string FilePath, SpecModel? Model, EquatableArray<DiagnosticInfo> Diagnostics);
