using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Text.RegularExpressions;
using System.Threading.Tasks;
using System.Xml.Linq;
using NUnit.Framework;

namespace CoolAmqp.Package.Tests;

/// <summary>Packs CoolAmqp as <c>dotnet cake --target=Pack</c> does into a temp feed, checks what the package holds,
/// and builds and runs a consumer that restores it from that feed and publishes and consumes a message.</summary>
[TestFixture]
[NonParallelizable]
public sealed class PackageTests
{
    private string _temp = "";
    private string _feed = "";

    [OneTimeSetUp]
    public async Task PackIntoTempFeed()
    {
        _temp = Dotnet.CreateTempDirectory("coolamqp-package");
        _feed = Path.Combine(_temp, "feed");
        // --no-build: packs what `dotnet build CoolAmqp.sln` built, and leaves runtime/bin and obj untouched while
        // other test assemblies run.
        await Dotnet.RunAsync(Dotnet.Root,
            ["pack", "runtime/CoolAmqp.csproj", "-c", Dotnet.Configuration, "--no-build", "-o", _feed],
            TimeSpan.FromMinutes(3));
    }

    [OneTimeTearDown]
    public void DeleteTemp()
    {
        if (Directory.Exists(_temp)) Directory.Delete(_temp, recursive: true);
    }

    private string PackagePath(string extension)
    {
        string path = Path.Combine(_feed, $"CoolAmqp.{Dotnet.Version}.{extension}");
        Assert.That(path, Does.Exist, $"pack made no CoolAmqp {Dotnet.Version} .{extension}");
        return path;
    }

    private static XElement Nuspec(ZipArchive package) =>
        XDocument.Load(package.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open())
            .Root!.Elements().Single(e => e.Name.LocalName == "metadata");

    private static string? Field(XElement metadata, string name) =>
        metadata.Elements().SingleOrDefault(e => e.Name.LocalName == name)?.Value;

    private static List<string> LibFrameworks(ZipArchive package) =>
        package.Entries.Select(e => e.FullName.Split('/'))
            .Where(parts => parts.Length == 3 && parts[0] == "lib")
            .Select(parts => parts[1])
            .Distinct()
            .Order(StringComparer.Ordinal)
            .ToList();

    [Test]
    public void Package_holds_the_library_with_its_docs_for_every_framework()
    {
        using var package = ZipFile.OpenRead(PackagePath("nupkg"));
        var frameworks = LibFrameworks(package);
        Assert.That(frameworks, Does.Contain("net10.0"), "the sample below runs on net10.0");
        var names = package.Entries.Select(e => e.FullName).ToHashSet();
        Assert.Multiple(() =>
        {
            foreach (var tfm in frameworks)
            {
                Assert.That(names, Does.Contain($"lib/{tfm}/CoolAmqp.dll"));
                Assert.That(names, Does.Contain($"lib/{tfm}/CoolAmqp.xml"), "XML docs");
            }

            // Nothing of the generator: it is a build-time part of the library, not something a consumer runs.
            Assert.That(names.Where(n => n.Contains("Generator", StringComparison.OrdinalIgnoreCase) || n.StartsWith("analyzers/", StringComparison.Ordinal)), Is.Empty);
        });
    }

    [Test]
    public void Package_metadata_has_version_licence_readme_and_repository()
    {
        using var package = ZipFile.OpenRead(PackagePath("nupkg"));
        var metadata = Nuspec(package);
        var license = metadata.Elements().Single(e => e.Name.LocalName == "license");
        var repository = metadata.Elements().Single(e => e.Name.LocalName == "repository");
        string readme = Field(metadata, "readme") ?? "";
        Assert.Multiple(() =>
        {
            Assert.That(Field(metadata, "id"), Is.EqualTo("CoolAmqp"));
            Assert.That(Field(metadata, "version"), Is.EqualTo(Dotnet.Version));
            Assert.That(license.Attribute("type")?.Value, Is.EqualTo("expression"));
            Assert.That(license.Value, Is.EqualTo("MIT"));
            Assert.That(Field(metadata, "projectUrl"), Is.EqualTo("https://github.com/coolamqp/coolamqp-dotnet"));
            Assert.That(repository.Attribute("url")?.Value, Is.EqualTo("https://github.com/coolamqp/coolamqp-dotnet"));
            Assert.That(repository.Attribute("commit")?.Value, Does.Match("^[0-9a-f]{40}$"), "the commit it was built from");
            Assert.That(readme, Is.Not.Empty);
            Assert.That(package.GetEntry(readme), Is.Not.Null, $"the readme {readme} is in the package");
        });
        using var reader = new StreamReader(package.GetEntry(readme)!.Open());
        Assert.That(reader.ReadToEnd(), Does.Contain("new Cluster("), "the readme shows how to use the library");
    }

    [Test]
    public void Package_depends_on_no_generator_and_has_a_group_per_framework()
    {
        using var package = ZipFile.OpenRead(PackagePath("nupkg"));
        var groups = Nuspec(package).Descendants().Where(e => e.Name.LocalName == "group").ToList();
        var dependencies = groups.SelectMany(g => g.Elements()).Select(d => d.Attribute("id")!.Value).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(dependencies, Has.None.StartsWith("CoolAmqp"), "the generator is no package");
            Assert.That(dependencies, Does.Contain("Microsoft.Extensions.Logging.Abstractions"), "the one the library does need");
            // NuGet writes a group per lib/ framework, so a consumer of each framework gets its dependencies.
            Assert.That(groups.Select(g => NormalizeFramework(g.Attribute("targetFramework")!.Value)).Order(StringComparer.Ordinal),
                Is.EqualTo(LibFrameworks(package)));
        });
    }

    // The nuspec names frameworks as ".NETStandard2.0" or "net10.0"; lib/ folders as "netstandard2.0" or "net10.0".
    private static string NormalizeFramework(string name) =>
        Regex.Replace(name, @"^\.NETStandard", "netstandard").ToLowerInvariant();

    [Test]
    public void Symbol_package_has_a_pdb_with_the_sources_for_every_framework()
    {
        List<string> frameworks;
        using (var package = ZipFile.OpenRead(PackagePath("nupkg"))) frameworks = LibFrameworks(package);
        using var symbols = ZipFile.OpenRead(PackagePath("snupkg"));
        var names = symbols.Entries.Select(e => e.FullName).ToList();
        Assert.That(names.Where(n => n.EndsWith(".pdb", StringComparison.Ordinal)),
            Is.EquivalentTo(frameworks.Select(tfm => $"lib/{tfm}/CoolAmqp.pdb")));
    }

    [Test]
    public async Task A_consumer_restores_the_package_from_the_feed_and_round_trips_a_message()
    {
        string sample = Path.Combine(_temp, "sample");
        Directory.CreateDirectory(sample);
        foreach (var file in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "package-sample")))
        {
            File.Copy(file, Path.Combine(sample, Path.GetFileName(file)));
        }

        // The sources the machine already uses (read before our nuget.config exists), for everything but CoolAmqp,
        // which comes from the feed alone: a CoolAmqp of the same version on another source cannot stand in for it.
        string sources = await Dotnet.RunAsync(sample, ["nuget", "list", "source", "--format", "short"], TimeSpan.FromMinutes(1));
        var upstream = sources.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(line => line.StartsWith("E ", StringComparison.Ordinal))
            .Select(line => line[2..].Trim())
            .ToList();
        var config = new XElement("configuration",
            new XElement("packageSources",
                new XElement("clear"),
                new XElement("add", new XAttribute("key", "local-feed"), new XAttribute("value", _feed)),
                upstream.Select((url, i) => new XElement("add", new XAttribute("key", $"upstream{i}"), new XAttribute("value", url)))),
            new XElement("packageSourceMapping",
                new XElement("packageSource", new XAttribute("key", "local-feed"), new XElement("package", new XAttribute("pattern", "CoolAmqp"))),
                upstream.Select((_, i) => new XElement("packageSource", new XAttribute("key", $"upstream{i}"), new XElement("package", new XAttribute("pattern", "*"))))));
        config.Save(Path.Combine(sample, "nuget.config"));

        // A packages folder of its own: the global one may hold a CoolAmqp of this version from an earlier pack.
        var environment = new Dictionary<string, string>
        {
            ["NUGET_PACKAGES"] = Path.Combine(_temp, "packages"),
            ["COOLAMQP_BROKER"] = Dotnet.BrokerUri,
        };
        await Dotnet.RunAsync(sample, ["build", "-c", "Release", $"-p:CoolAmqpVersion={Dotnet.Version}"], TimeSpan.FromMinutes(5), environment);

        // What the consumer restored: CoolAmqp from the feed, and no generator package.
        var assets = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(sample, "obj", "project.assets.json")));
        var libraries = assets.RootElement.GetProperty("libraries").EnumerateObject().Select(p => p.Name).ToList();
        Assert.That(libraries, Does.Contain($"CoolAmqp/{Dotnet.Version}"));
        Assert.That(libraries, Has.None.StartsWith("CoolAmqp.Generator"));

        string output = await Dotnet.RunAsync(sample,
            ["run", "-c", "Release", "--no-build", $"-p:CoolAmqpVersion={Dotnet.Version}"], TimeSpan.FromMinutes(1), environment);
        Assert.That(output, Does.Contain("Received 'hello from the package'"));
    }
}
