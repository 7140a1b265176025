using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.Loader;
using System.Text;
using System.Threading;
using CoolAmqp.Generator;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;

namespace CoolAmqp.Generator.Tests;

/// <summary>Runs the generator in memory and compiles its output.</summary>
internal static class GeneratorHarness
{
    public static readonly CSharpParseOptions ParseOptions =
        new CSharpParseOptions(LanguageVersion.Latest, DocumentationMode.Diagnose);

    // The few framework assemblies generated and framing code use; referencing all ~170 makes every compile slow.
    private static readonly string[] ReferencedAssemblies =
    {
        "System.Private.CoreLib", "System.Runtime", "System.Collections", "System.Linq", "System.Memory",
        "System.Text.Encoding.Extensions", "System.Runtime.InteropServices", "System.Console",
    };

    private static readonly Lazy<ImmutableArray<MetadataReference>> References = new(() =>
        ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!)
            .Split(Path.PathSeparator)
            .Where(p => ReferencedAssemblies.Contains(Path.GetFileNameWithoutExtension(p), StringComparer.Ordinal))
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))
            .ToImmutableArray());

    /// <summary>The repository root: the nearest directory above the test assembly that holds CoolAmqp.sln.</summary>
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>Our spec, linked into the test output by the project file.</summary>
    public static string OurSpecPath { get; } = Path.Combine(AppContext.BaseDirectory, "Specs", "amqp0-9-1.extended.xml");

    /// <summary>
    /// RabbitMQ's 0-9-1 spec as Debian's amqp-specs package ships it (doc-stripped, from 2013); the Test target
    /// installs the package (tools/reference-spec.sh). Never copied into the repository.
    /// </summary>
    public static string ReferenceSpecPath { get; } =
        Environment.GetEnvironmentVariable("COOLAMQP_REFERENCE_SPEC") is { Length: > 0 } path
            ? path
            : "/usr/share/amqp/specs/0-9-1-rabbit/amqp0-9-1.stripped.extended.xml";

    /// <summary>RabbitMQ's current full spec when this machine has one, else null: optional, nothing requires it.</summary>
    public static string? FullReferenceSpecPath { get; } = FindFullReferenceSpec();

    public static string OurSpecText => File.ReadAllText(OurSpecPath);

    public static CSharpCompilation CreateCompilation(IEnumerable<SyntaxTree> trees, string name = "CoolAmqp.GeneratorTestAssembly") =>
        CSharpCompilation.Create(
            name,
            trees,
            References.Value,
            new CSharpCompilationOptions(
                OutputKind.DynamicallyLinkedLibrary,
                nullableContextOptions: NullableContextOptions.Enable,
                concurrentBuild: true));

    public static CSharpCompilation CreateCompilation(params string[] sources) =>
        CreateCompilation(sources.Select(s => CSharpSyntaxTree.ParseText(s, ParseOptions)));

    public static GeneratorDriver CreateDriver(params AdditionalText[] texts) =>
        CSharpGeneratorDriver.Create(
            new[] { new AmqpGenerator().AsSourceGenerator() },
            additionalTexts: texts,
            parseOptions: ParseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    /// <summary>Runs the generator once over a spec text and an empty compilation.</summary>
    public static GeneratorDriverRunResult Run(string path, string specText) => Run(new InMemoryAdditionalText(path, specText));

    public static GeneratorDriverRunResult Run(params AdditionalText[] texts)
    {
        GeneratorDriver driver = CreateDriver(texts).RunGenerators(CreateCompilation("namespace Empty { internal static class Marker { } }"));
        return driver.GetRunResult();
    }

    /// <summary>The hand-written framing sources of the runtime that generated code calls, and the exception root
    /// their format exception derives from.</summary>
    public static IEnumerable<SyntaxTree> FramingSources()
    {
        string folder = Path.Combine(RepoRoot, "runtime", "Framing");
        return Directory.GetFiles(folder, "*.cs", SearchOption.TopDirectoryOnly)
            .Append(Path.Combine(RepoRoot, "runtime", "Exceptions", "CoolAmqpException.cs"))
            .OrderBy(p => p, StringComparer.Ordinal)
            .Select(p => CSharpSyntaxTree.ParseText(File.ReadAllText(p), ParseOptions, p, Encoding.UTF8));
    }

    /// <summary>Compiles, loads into a collectible context and calls <c>static string Run()</c> of <paramref name="typeName"/>.</summary>
    public static string Execute(CSharpCompilation compilation, string typeName)
    {
        using var stream = new MemoryStream();
        Microsoft.CodeAnalysis.Emit.EmitResult emit = compilation.Emit(stream);
        if (!emit.Success)
        {
            throw new InvalidOperationException("Emit failed:\n" + string.Join("\n", emit.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error)));
        }

        stream.Position = 0;
        var context = new AssemblyLoadContext(compilation.AssemblyName, isCollectible: true);
        try
        {
            Assembly assembly = context.LoadFromStream(stream);
            MethodInfo run = assembly.GetType(typeName, throwOnError: true)!.GetMethod("Run")!;
            return (string)run.Invoke(null, null)!;
        }
        finally
        {
            context.Unload();
        }
    }

    public static string FormatDiagnostics(IEnumerable<Diagnostic> diagnostics) =>
        string.Join("\n", diagnostics.Select(d => d.ToString()));

    // COOLAMQP_FULL_REFERENCE_SPEC, else spec/amqp0-9-1.extended.xml in any directory beside the repository (where a
    // developer may keep RabbitMQ's files); nothing requires one.
    private static string? FindFullReferenceSpec()
    {
        if (Environment.GetEnvironmentVariable("COOLAMQP_FULL_REFERENCE_SPEC") is { Length: > 0 } configured)
        {
            return configured;
        }

        string? parent = Path.GetDirectoryName(RepoRoot);
        if (parent is null)
        {
            return null;
        }

        try
        {
            return Directory.EnumerateDirectories(parent)
                .OrderBy(d => d, StringComparer.Ordinal)
                .Select(d => Path.Combine(d, "spec", "amqp0-9-1.extended.xml"))
                .FirstOrDefault(File.Exists);
        }
        catch (UnauthorizedAccessException)
        {
            // An unreadable parent directory just means no optional reference.
            return null;
        }
    }

    private static string FindRepoRoot()
    {
        for (DirectoryInfo? directory = new(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "CoolAmqp.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No CoolAmqp.sln above {AppContext.BaseDirectory}.");
    }
}

/// <summary>An additional file held in memory.</summary>
internal sealed class InMemoryAdditionalText : AdditionalText
{
    private readonly SourceText _text;

    public InMemoryAdditionalText(string path, string text)
    {
        Path = path;
        _text = SourceText.From(text, Encoding.UTF8);
    }

    public override string Path { get; }

    public override SourceText GetText(CancellationToken cancellationToken = default) => _text;
}
