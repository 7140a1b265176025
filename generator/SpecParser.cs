using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using System.Xml;
using System.Xml.Linq;
using CoolAmqp.Generator.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace CoolAmqp.Generator;

/// <summary>
/// Turns the AMQP spec XML into a <see cref="SpecModel"/> and a list of <see cref="DiagnosticInfo"/>. Never throws
/// for bad input (only <see cref="OperationCanceledException"/>): every problem becomes a diagnostic that points at
/// the offending XML line, and a spec with errors yields no model, so no half-generated code adds noise.
/// </summary>
internal static class SpecParser
{
    private static readonly Dictionary<string, AmqpType> Primitives = new(StringComparer.Ordinal)
    {
        ["bit"] = AmqpType.Bit,
        ["octet"] = AmqpType.Octet,
        ["short"] = AmqpType.Short,
        ["long"] = AmqpType.Long,
        ["longlong"] = AmqpType.LongLong,
        ["shortstr"] = AmqpType.ShortStr,
        ["longstr"] = AmqpType.LongStr,
        ["timestamp"] = AmqpType.Timestamp,
        ["table"] = AmqpType.Table,
    };

    /// <summary>At most this many content properties fit one property flag word (bit 0 is the continuation bit).</summary>
    internal const int MaxProperties = 15;

    /// <summary>Cheap test run before parsing: whether an additional file looks like an AMQP spec.</summary>
    public static bool IsCandidate(string path, Func<SourceText?> getText)
    {
        if (!path.EndsWith(".xml", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        if (path.EndsWith(".extended.xml", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        SourceText? text = getText();
        return text is not null && text.ToString().IndexOf("<amqp", StringComparison.Ordinal) >= 0;
    }

    public static ParseResult Parse(string path, SourceText? text, CancellationToken cancellationToken)
    {
        var context = new Context(path, text ?? SourceText.From(string.Empty));
        SpecModel? model = null;
        XDocument? document = context.Load();
        if (document?.Root is { } root && root.Name.LocalName == "amqp")
        {
            model = context.ParseSpec(root, cancellationToken);
        }

        return new ParseResult(path, context.HasErrors ? null : model, context.Diagnostics.ToEquatableArray());
    }

    private sealed class Context
    {
        private readonly string _path;
        private readonly SourceText _text;
        private readonly Dictionary<string, AmqpType> _domains = new(StringComparer.Ordinal);

        public Context(string path, SourceText text)
        {
            _path = path;
            _text = text;
        }

        public List<DiagnosticInfo> Diagnostics { get; } = new();

        public bool HasErrors { get; private set; }

        public XDocument? Load()
        {
            var settings = new XmlReaderSettings
            {
                DtdProcessing = DtdProcessing.Ignore,
                XmlResolver = null,
                IgnoreComments = true,
            };

            try
            {
                using var stringReader = new StringReader(_text.ToString());
                using var reader = XmlReader.Create(stringReader, settings);
                return XDocument.Load(reader, LoadOptions.SetLineInfo);
            }
            catch (XmlException exception)
            {
                Report(DiagnosticDescriptors.MalformedXml, exception.LineNumber, exception.LinePosition, 1, Path.GetFileName(_path), exception.Message);
                return null;
            }
        }

        public SpecModel ParseSpec(XElement root, CancellationToken cancellationToken)
        {
            int major = RequiredInt(root, "major", 0, 255) ?? 0;
            int minor = RequiredInt(root, "minor", 0, 255) ?? 0;
            int revision = RequiredInt(root, "revision", 0, 255) ?? 0;
            int port = root.Attribute("port") is null ? 5672 : RequiredInt(root, "port", 0, 65535) ?? 5672;

            var constants = new List<ConstantModel>();
            foreach (XElement element in root.Elements("constant"))
            {
                string? name = RequiredName(element);
                int? value = RequiredInt(element, "value", int.MinValue, int.MaxValue);
                if (name is not null && value is not null)
                {
                    constants.Add(new ConstantModel(name, value.Value, (string?)element.Attribute("class"), DocOf(element)));
                }
            }

            List<DomainModel> domains = ParseDomains(root);

            var classes = new List<ClassModel>();
            var classByIndex = new Dictionary<int, string>();
            var classNames = new HashSet<string>(StringComparer.Ordinal);
            foreach (XElement element in root.Elements("class"))
            {
                cancellationToken.ThrowIfCancellationRequested();
                ClassModel? model = ParseClass(element, cancellationToken);
                if (model is null)
                {
                    continue;
                }

                if (classByIndex.TryGetValue(model.Index, out string? other))
                {
                    ReportAt(DiagnosticDescriptors.DuplicateIndex, AttributeOrElement(element, "index"), $"Class '{model.Name}'", $"index ({model.Index})", $"class '{other}'");
                    continue;
                }

                if (!classNames.Add(model.Name))
                {
                    ReportAt(DiagnosticDescriptors.DuplicateIndex, AttributeOrElement(element, "name"), $"Class '{model.Name}'", "name", "an earlier class");
                    continue;
                }

                classByIndex.Add(model.Index, model.Name);
                classes.Add(model);
            }

            return new SpecModel(major, minor, revision, port, constants.ToEquatableArray(), domains.ToEquatableArray(), classes.ToEquatableArray());
        }

        private List<DomainModel> ParseDomains(XElement root)
        {
            // Pass 1: every domain's declared type, so a domain may name a domain declared after it.
            var declared = new Dictionary<string, string>(StringComparer.Ordinal);
            var elements = new List<(XElement Element, string Name, string Type)>();
            foreach (XElement element in root.Elements("domain"))
            {
                string? name = RequiredName(element);
                string? type = RequiredString(element, "type");
                if (name is null || type is null)
                {
                    continue;
                }

                if (declared.ContainsKey(name))
                {
                    ReportAt(DiagnosticDescriptors.DuplicateIndex, AttributeOrElement(element, "name"), $"Domain '{name}'", "name", "an earlier domain");
                    continue;
                }

                declared.Add(name, type);
                elements.Add((element, name, type));
            }

            // Pass 2: resolve to a primitive, through at most one other domain.
            var domains = new List<DomainModel>();
            foreach ((XElement element, string name, string type) in elements)
            {
                AmqpType resolved;
                if (Primitives.TryGetValue(type, out resolved)
                    || (declared.TryGetValue(type, out string? inner) && Primitives.TryGetValue(inner, out resolved)))
                {
                    _domains[name] = resolved;
                    domains.Add(new DomainModel(name, resolved, DocOf(element)));
                }
                else
                {
                    ReportAt(DiagnosticDescriptors.UnknownDomain, AttributeOrElement(element, "type"), $"Domain '{name}'", type);
                }
            }

            return domains;
        }

        private ClassModel? ParseClass(XElement element, CancellationToken cancellationToken)
        {
            string? name = RequiredName(element);
            int? index = RequiredInt(element, "index", 0, 65535);
            if (name is null || index is null)
            {
                return null;
            }

            List<FieldModel> properties = ParseFields(element, name);
            XElement[] propertyElements = element.Elements("field").ToArray();
            if (propertyElements.Length > MaxProperties)
            {
                ReportAt(DiagnosticDescriptors.TooManyProperties, propertyElements[MaxProperties], name, propertyElements.Length.ToString(CultureInfo.InvariantCulture));
            }

            var methods = new List<MethodModel>();
            var methodByIndex = new Dictionary<int, string>();
            var methodNames = new HashSet<string>(StringComparer.Ordinal);
            var methodElements = new List<XElement>();
            var declaredNames = new HashSet<string>(StringComparer.Ordinal);
            foreach (XElement methodElement in element.Elements("method"))
            {
                cancellationToken.ThrowIfCancellationRequested();
                MethodModel? method = ParseMethod(methodElement, name);
                if (method is null)
                {
                    continue;
                }

                // Responses may name a method rejected below as a duplicate: report the duplicate only.
                declaredNames.Add(method.Name);

                if (methodByIndex.TryGetValue(method.Index, out string? other))
                {
                    ReportAt(DiagnosticDescriptors.DuplicateIndex, AttributeOrElement(methodElement, "index"), $"Method '{name}.{method.Name}'", $"index ({method.Index})", $"method '{name}.{other}'");
                    continue;
                }

                if (!methodNames.Add(method.Name))
                {
                    ReportAt(DiagnosticDescriptors.DuplicateIndex, AttributeOrElement(methodElement, "name"), $"Method '{name}.{method.Name}'", "name", "an earlier method");
                    continue;
                }

                methodByIndex.Add(method.Index, method.Name);
                methods.Add(method);
                methodElements.Add(methodElement);
            }

            // Responses name methods of the same class; check them once all methods are known.
            for (int i = 0; i < methods.Count; i++)
            {
                foreach (XElement response in methodElements[i].Elements("response"))
                {
                    string? responseName = (string?)response.Attribute("name");
                    if (responseName is not null && !declaredNames.Contains(responseName))
                    {
                        ReportAt(DiagnosticDescriptors.UnknownResponse, response, $"{name}.{methods[i].Name}", responseName, name);
                    }
                }
            }

            return new ClassModel(name, index.Value, DocOf(element), ParseChassis(element), properties.ToEquatableArray(), methods.ToEquatableArray());
        }

        private MethodModel? ParseMethod(XElement element, string className)
        {
            string? name = RequiredName(element);
            int? index = RequiredInt(element, "index", 0, 65535);
            if (name is null || index is null)
            {
                return null;
            }

            var responses = new List<string>();
            foreach (XElement response in element.Elements("response"))
            {
                if (RequiredName(response) is { } responseName)
                {
                    responses.Add(responseName);
                }
            }

            return new MethodModel(
                name,
                index.Value,
                Flag(element, "synchronous"),
                Flag(element, "content"),
                DocOf(element),
                ParseChassis(element),
                responses.ToEquatableArray(),
                ParseFields(element, $"{className}.{name}").ToEquatableArray());
        }

        private List<FieldModel> ParseFields(XElement parent, string owner)
        {
            var fields = new List<FieldModel>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (XElement element in parent.Elements("field"))
            {
                string? name = RequiredName(element);
                XAttribute? domainAttribute = element.Attribute("domain") ?? element.Attribute("type");
                if (domainAttribute is null)
                {
                    ReportAt(DiagnosticDescriptors.BadAttribute, element, "field", "domain", "(or 'type'), which is missing");
                    continue;
                }

                if (name is null)
                {
                    continue;
                }

                string domain = domainAttribute.Value;
                if (!_domains.TryGetValue(domain, out AmqpType type) && !Primitives.TryGetValue(domain, out type))
                {
                    ReportAt(DiagnosticDescriptors.UnknownDomain, domainAttribute, $"Field '{owner}.{name}'", domain);
                    continue;
                }

                if (!names.Add(name))
                {
                    ReportAt(DiagnosticDescriptors.DuplicateIndex, AttributeOrElement(element, "name"), $"Field '{owner}.{name}'", "name", "an earlier field");
                    continue;
                }

                fields.Add(new FieldModel(name, domain, type, Flag(element, "reserved"), DocOf(element)));
            }

            return fields;
        }

        private static EquatableArray<ChassisModel> ParseChassis(XElement element) =>
            element.Elements("chassis")
                .Select(c => new ChassisModel((string?)c.Attribute("name") ?? string.Empty, (string?)c.Attribute("implement") ?? string.Empty))
                .ToEquatableArray();

        private static bool Flag(XElement element, string attribute) => ((string?)element.Attribute(attribute))?.Trim() == "1";

        private string? RequiredName(XElement element) => RequiredString(element, "name");

        private string? RequiredString(XElement element, string attribute)
        {
            string? value = ((string?)element.Attribute(attribute))?.Trim();
            if (string.IsNullOrEmpty(value))
            {
                ReportAt(DiagnosticDescriptors.BadAttribute, AttributeOrElement(element, attribute), element.Name.LocalName, attribute, "(it is missing or empty)");
                return null;
            }

            return value;
        }

        private int? RequiredInt(XElement element, string attribute, int min, int max)
        {
            string? value = RequiredString(element, attribute);
            if (value is null)
            {
                return null;
            }

            if (int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int number) && number >= min && number <= max)
            {
                return number;
            }

            string range = string.Format(CultureInfo.InvariantCulture, "to be a whole number from {0} to {1} (found '{2}')", min, max, value);
            ReportAt(DiagnosticDescriptors.BadAttribute, AttributeOrElement(element, attribute), element.Name.LocalName, attribute, range);
            return null;
        }

        private static XObject AttributeOrElement(XElement element, string attribute) => (XObject?)element.Attribute(attribute) ?? element;

        /// <summary>
        /// The doc comment text: the first paragraph of the first untyped <c>&lt;doc&gt;</c> (typed ones are grammar
        /// or test scenarios), whitespace collapsed; else the label.
        /// </summary>
        private static string? DocOf(XElement element)
        {
            XElement? doc = element.Elements("doc").FirstOrDefault(d => d.Attribute("type") is null);
            string? text = doc is null ? null : FirstParagraph(doc.Value);
            if (string.IsNullOrEmpty(text))
            {
                text = Collapse((string?)element.Attribute("label") ?? string.Empty);
            }

            return string.IsNullOrEmpty(text) ? null : text;
        }

        private static string FirstParagraph(string text)
        {
            string[] lines = text.Replace("\r\n", "\n").Split('\n');
            var paragraph = new StringBuilder();
            foreach (string line in lines)
            {
                if (line.Trim().Length == 0)
                {
                    if (paragraph.Length > 0)
                    {
                        break;
                    }

                    continue;
                }

                paragraph.Append(line).Append(' ');
            }

            return Collapse(paragraph.ToString());
        }

        private static string Collapse(string text)
        {
            var builder = new StringBuilder(text.Length);
            bool space = false;
            foreach (char c in text)
            {
                if (char.IsWhiteSpace(c))
                {
                    space = builder.Length > 0;
                    continue;
                }

                if (space)
                {
                    builder.Append(' ');
                    space = false;
                }

                builder.Append(c);
            }

            return builder.ToString();
        }

        private void ReportAt(DiagnosticDescriptor descriptor, XObject target, params string[] arguments)
        {
            var info = (IXmlLineInfo)target;
            int line = info.HasLineInfo() ? info.LineNumber : 1;
            int column = info.HasLineInfo() ? info.LinePosition : 1;
            int length;
            if (target is XElement element)
            {
                // Line info of an element points just after '<'; cover "<name".
                column = Math.Max(1, column - 1);
                length = element.Name.LocalName.Length + 1;
            }
            else if (target is XAttribute attribute)
            {
                length = attribute.ToString().Length;
            }
            else
            {
                length = 1;
            }

            Report(descriptor, line, column, length, arguments);
        }

        private void Report(DiagnosticDescriptor descriptor, int line, int column, int length, params string[] arguments)
        {
            if (descriptor.DefaultSeverity == DiagnosticSeverity.Error)
            {
                HasErrors = true;
            }

            // XML positions are one-based; clamp them into the text so a Location can always be built.
            int lineIndex = Math.Min(Math.Max(line - 1, 0), Math.Max(_text.Lines.Count - 1, 0));
            TextLine textLine = _text.Lines[lineIndex];
            int columnIndex = Math.Min(Math.Max(column - 1, 0), textLine.Span.Length);
            int start = textLine.Start + columnIndex;
            int end = Math.Min(start + Math.Max(length, 0), textLine.End);
            Diagnostics.Add(new DiagnosticInfo(
                descriptor.Id,
                arguments.ToEquatableArray(),
                _path,
                start,
                end - start,
                lineIndex,
                columnIndex,
                lineIndex,
                columnIndex + (end - start)));
        }
    }
}
