using Microsoft.CodeAnalysis;

namespace CoolAmqp.Generator;

/// <summary>The catalogue of diagnostics the generator reports. IDs are stable; see AnalyzerReleases.Unshipped.md.</summary>
internal static class DiagnosticDescriptors
{
    private const string Category = "CoolAmqp.Generator";

    public static readonly DiagnosticDescriptor MalformedXml = new(
        id: "CAMQP001",
        title: "AMQP spec is not well-formed XML",
        messageFormat: "The AMQP spec '{0}' is not well-formed XML: {1}",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor UnknownDomain = new(
        id: "CAMQP002",
        title: "Unknown AMQP domain or type",
        messageFormat: "{0} names the unknown domain or type '{1}'",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor DuplicateIndex = new(
        id: "CAMQP003",
        title: "Duplicate AMQP class or method index or name",
        messageFormat: "{0} has the same {1} as {2}",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor TooManyProperties = new(
        id: "CAMQP004",
        title: "Too many content properties",
        messageFormat: "Class '{0}' declares {1} content properties; a property flag word holds at most 15",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor BadAttribute = new(
        id: "CAMQP005",
        title: "Missing or invalid attribute in the AMQP spec",
        messageFormat: "<{0}> needs attribute '{1}' {2}",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor UnknownResponse = new(
        id: "CAMQP006",
        title: "Response names an unknown method",
        messageFormat: "Method '{0}' names the response '{1}', which is not a method of class '{2}'",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor MultipleSpecs = new(
        id: "CAMQP007",
        title: "More than one AMQP spec",
        messageFormat: "More than one AMQP spec is listed in AdditionalFiles; code is generated from '{0}' only",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Warning,
        isEnabledByDefault: true);

    public static DiagnosticDescriptor? ById(string id) => id switch
    {
        "CAMQP001" => MalformedXml,
        "CAMQP002" => UnknownDomain,
        "CAMQP003" => DuplicateIndex,
        "CAMQP004" => TooManyProperties,
        "CAMQP005" => BadAttribute,
        "CAMQP006" => UnknownResponse,
        "CAMQP007" => MultipleSpecs,
        _ => null,
    };
}
