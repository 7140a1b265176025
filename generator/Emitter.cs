using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using CoolAmqp.Generator.Model;
using Microsoft.CodeAnalysis.CSharp;

namespace CoolAmqp.Generator;

/// <summary>One generated file: its hint name and text.</summary>
internal sealed record GeneratedFile(string HintName, string Text);

/// <summary>
/// Turns a <see cref="SpecModel"/> into C# source. Sees only the model (never XML or Roslyn symbols); output is
/// deterministic: spec order inside a file, ordinal order of files, invariant culture, "\n" line ends.
/// </summary>
internal static class Emitter
{
    internal const string Namespace = "CoolAmqp.Framing";

    private static readonly string GeneratedCodeAttribute =
        $"[GeneratedCode(\"CoolAmqp.Generator\", \"{typeof(Emitter).Assembly.GetName().Version?.ToString(3) ?? "0.0.0"}\")]";

    /// <summary>Members of <c>IAmqpMethod</c>: a field with one of these names takes the name on the struct and the
    /// interface member is implemented explicitly (connection.close has a <c>class-id</c> field, for example).</summary>
    private static readonly HashSet<string> InterfaceMembers = new(StringComparer.Ordinal)
    {
        "ClassId", "MethodId", "CommandId", "Synchronous", "HasContent",
    };

    /// <summary>Other member names a field must not take; such a field gets the suffix "Value".</summary>
    private static readonly HashSet<string> ReservedMembers = new(StringComparer.Ordinal)
    {
        "ClassIndex", "MethodIndex", "CommandIdValue", "Name", "Responses", "Read", "Reader", "ToMethod",
        "GetSize", "WriteArguments", "WriteTo", "ToString", "Equals", "GetHashCode", "GetType", "Flags", "ToProperties",
    };

    public static IReadOnlyList<GeneratedFile> Emit(SpecModel model)
    {
        var files = new List<GeneratedFile>();
        foreach (ClassModel amqpClass in model.Classes)
        {
            if (!amqpClass.Methods.IsEmpty)
            {
                files.Add(new GeneratedFile(Pascal(amqpClass.Name) + ".g.cs", EmitClass(amqpClass)));
            }

            if (!amqpClass.Properties.IsEmpty)
            {
                files.Add(new GeneratedFile(Pascal(amqpClass.Name) + "Properties.g.cs", EmitProperties(amqpClass)));
            }
        }

        files.Add(new GeneratedFile("MethodDispatcher.g.cs", EmitDispatcher(model)));
        files.Add(new GeneratedFile("MethodNames.g.cs", EmitMethodNames(model)));
        files.Add(new GeneratedFile("Constants.g.cs", EmitConstants(model)));
        files.Sort((a, b) => string.CompareOrdinal(a.HintName, b.HintName));
        return files;
    }

    // ------------------------------------------------------------------ method structs

    private sealed class FieldPlan
    {
        public FieldPlan(FieldModel field, string property)
        {
            Field = field;
            Property = property;
            Parameter = Identifier(char.ToLowerInvariant(property[0]) + property.Substring(1));
        }

        public FieldModel Field { get; }

        public string Property { get; }

        public string Parameter { get; }

        /// <summary>For a bit: which packed octet (counting the method's bit runs), else -1.</summary>
        public int BitOctet { get; set; } = -1;

        /// <summary>For a bit: its position in the octet, least significant first.</summary>
        public int BitIndex { get; set; }

        /// <summary>Whether this is the last bit of its octet, where the octet is written and read.</summary>
        public bool EndsOctet { get; set; }
    }

    private static List<FieldPlan> PlanFields(EquatableArray<FieldModel> fields, string typeName)
    {
        var plans = new List<FieldPlan>();
        int octet = -1;
        int bit = 8;
        FieldPlan? previous = null;
        foreach (FieldModel field in fields)
        {
            string property = Pascal(field.Name);
            if (ReservedMembers.Contains(property) || property == typeName)
            {
                property += "Value";
            }

            var plan = new FieldPlan(field, property);
            if (field.Type == AmqpType.Bit)
            {
                // Spec 4.2.5.2: consecutive bits pack into octets, least significant bit first, 8 per octet.
                if (previous is null || previous.Field.Type != AmqpType.Bit || bit == 8)
                {
                    if (previous is not null && previous.Field.Type == AmqpType.Bit)
                    {
                        previous.EndsOctet = true;
                    }

                    octet++;
                    bit = 0;
                }

                plan.BitOctet = octet;
                plan.BitIndex = bit++;
            }
            else if (previous is not null && previous.Field.Type == AmqpType.Bit)
            {
                previous.EndsOctet = true;
            }

            plans.Add(plan);
            previous = plan;
        }

        if (previous is not null && previous.Field.Type == AmqpType.Bit)
        {
            previous.EndsOctet = true;
        }

        return plans;
    }

    private static string EmitClass(ClassModel amqpClass)
    {
        SourceWriter writer = StartFile("System", "System.CodeDom.Compiler");
        bool first = true;
        foreach (MethodModel method in amqpClass.Methods)
        {
            if (!first)
            {
                writer.WriteLine();
            }

            first = false;
            EmitMethod(writer, amqpClass, method);
        }

        return EndFile(writer);
    }

    private static void EmitMethod(SourceWriter writer, ClassModel amqpClass, MethodModel method)
    {
        string typeName = TypeName(amqpClass, method);
        string fullName = $"{amqpClass.Name}.{method.Name}";
        string owner = Literal(fullName);
        List<FieldPlan> plans = PlanFields(method.Fields, typeName);
        List<FieldPlan> visible = plans.Where(p => !p.Field.Reserved).ToList();

        WriteSummary(writer, $"<c>{fullName}</c> ({amqpClass.Index}, {method.Index}): {method.Doc ?? "an AMQP method."}", escape: false, prefix: true);
        writer.WriteLine(GeneratedCodeAttribute);
        writer.WriteLine($"internal readonly partial struct {typeName} : IAmqpMethod");
        writer.OpenBlock();

        WriteSummary(writer, $"The class index of <c>{amqpClass.Name}</c>.", escape: false);
        writer.WriteLine($"public const ushort ClassIndex = {amqpClass.Index};");
        writer.WriteLine();
        WriteSummary(writer, $"The index of <c>{fullName}</c> within its class.", escape: false);
        writer.WriteLine($"public const ushort MethodIndex = {method.Index};");
        writer.WriteLine();
        WriteSummary(writer, "<c>ClassIndex &lt;&lt; 16 | MethodIndex</c>: the number that names this method.", escape: false);
        writer.WriteLine($"public const uint CommandIdValue = ({amqpClass.Index}u << 16) | {method.Index}u;");
        writer.WriteLine();
        WriteSummary(writer, $"The spec name of the method, <c>{fullName}</c>.", escape: false);
        writer.WriteLine($"public const string Name = {owner};");
        writer.WriteLine();

        EmitInterfaceMember(writer, visible, "ushort", "ClassId", "ClassIndex");
        EmitInterfaceMember(writer, visible, "ushort", "MethodId", "MethodIndex");
        EmitInterfaceMember(writer, visible, "uint", "CommandId", "CommandIdValue");
        EmitInterfaceMember(writer, visible, "bool", "Synchronous", method.Synchronous ? "true" : "false");
        EmitInterfaceMember(writer, visible, "bool", "HasContent", method.HasContent ? "true" : "false");

        WriteSummary(writer, "The command ids of the methods that answer this one (from the spec's <c>&lt;response&gt;</c>; empty when none).", escape: false);
        if (method.Responses.IsEmpty)
        {
            writer.WriteLine("public static ReadOnlySpan<uint> Responses => ReadOnlySpan<uint>.Empty;");
        }
        else
        {
            string responses = string.Join(", ", method.Responses.Select(r => TypeName(amqpClass, r) + ".CommandIdValue"));
            writer.WriteLine($"public static ReadOnlySpan<uint> Responses => new uint[] {{ {responses} }};");
        }

        if (visible.Count > 0)
        {
            writer.WriteLine();
            WriteSummary(writer, $"Creates a <c>{fullName}</c> from its fields, in spec order (reserved fields are always sent as zero or empty).", escape: false);
            foreach (FieldPlan plan in visible)
            {
                writer.WriteLine($"/// <param name=\"{plan.Parameter.TrimStart('@')}\">{Escape(plan.Field.Doc ?? plan.Field.Name)}</param>");
            }

            // Trailing tables (declare arguments and the like) are optional: most calls pass none.
            int optionalFrom = visible.Count;
            while (optionalFrom > 0 && visible[optionalFrom - 1].Field.Type == AmqpType.Table)
            {
                optionalFrom--;
            }

            string parameters = string.Join(", ", visible.Select((p, i) => $"{PropertyType(p.Field.Type)} {p.Parameter}{(i >= optionalFrom ? " = null" : string.Empty)}"));
            writer.WriteLine($"public {typeName}({parameters})");
            writer.OpenBlock();
            foreach (FieldPlan plan in visible)
            {
                writer.WriteLine($"{plan.Property} = {plan.Parameter};");
            }

            writer.CloseBlock();
        }

        foreach (FieldPlan plan in visible)
        {
            writer.WriteLine();
            WriteFieldSummary(writer, plan.Field);
            writer.WriteLine($"public {PropertyType(plan.Field.Type)} {plan.Property} {{ get; init; }}");
        }

        writer.WriteLine();
        EmitGetSize(writer, plans, owner);
        writer.WriteLine();
        EmitWriteArguments(writer, plans, owner);
        writer.WriteLine();
        WriteSummary(writer, $"Parses the arguments of a <c>{fullName}</c> (the method payload after its class and method ids); trailing bytes after the last field are ignored.", escape: false);
        writer.WriteLine("/// <param name=\"arguments\">The encoded arguments; the reader is a view over them.</param>");
        writer.WriteLine("/// <exception cref=\"AmqpFrameFormatException\">A field runs past the end of <paramref name=\"arguments\"/>.</exception>");
        writer.WriteLine("public static Reader Read(ReadOnlySpan<byte> arguments) => new Reader(arguments);");
        writer.WriteLine();
        EmitReader(writer, typeName, fullName, plans, visible);
        writer.CloseBlock();
    }

    private static void EmitInterfaceMember(SourceWriter writer, List<FieldPlan> visible, string type, string name, string value)
    {
        writer.WriteLine("/// <inheritdoc/>");
        if (visible.Any(p => p.Property == name))
        {
            writer.WriteLine($"{type} IAmqpMethod.{name} => {value};");
        }
        else
        {
            writer.WriteLine($"public {type} {name} => {value};");
        }

        writer.WriteLine();
    }

    private static void EmitGetSize(SourceWriter writer, List<FieldPlan> plans, string owner)
    {
        int fixedSize = 0;
        var variable = new List<string>();
        foreach (FieldPlan plan in plans)
        {
            FieldModel field = plan.Field;
            switch (field.Type)
            {
                case AmqpType.Bit:
                    fixedSize += plan.BitIndex == 0 ? 1 : 0;
                    break;
                case AmqpType.ShortStr when !field.Reserved:
                    variable.Add($"Wire.ShortStrSize({plan.Property}, {owner}, {Literal(field.Name)})");
                    break;
                case AmqpType.LongStr when !field.Reserved:
                    variable.Add($"Wire.LongStrSize({plan.Property})");
                    break;
                case AmqpType.Table when !field.Reserved:
                    variable.Add($"Wire.TableSize({plan.Property})");
                    break;
                default:
                    fixedSize += FixedSize(field.Type);
                    break;
            }
        }

        writer.WriteLine("/// <inheritdoc/>");
        if (variable.Count == 0)
        {
            writer.WriteLine($"public int GetSize() => {fixedSize};");
            return;
        }

        writer.WriteLine("public int GetSize()");
        writer.OpenBlock();
        writer.WriteLine($"int size = {fixedSize};");
        foreach (string term in variable)
        {
            writer.WriteLine($"size += {term};");
        }

        writer.WriteLine("return size;");
        writer.CloseBlock();
    }

    private static void EmitWriteArguments(SourceWriter writer, List<FieldPlan> plans, string owner)
    {
        writer.WriteLine("/// <inheritdoc/>");
        if (plans.Count == 0)
        {
            writer.WriteLine("public int WriteArguments(Span<byte> destination) => 0;");
            return;
        }

        writer.WriteLine("public int WriteArguments(Span<byte> destination)");
        writer.OpenBlock();
        writer.WriteLine("int offset = 0;");
        foreach (FieldPlan plan in plans)
        {
            FieldModel field = plan.Field;
            string value = field.Reserved ? ReservedValue(field.Type) : plan.Property;
            switch (field.Type)
            {
                case AmqpType.Bit:
                    if (plan.BitIndex == 0)
                    {
                        writer.WriteLine($"byte bits{plan.BitOctet} = 0;");
                    }

                    if (!field.Reserved)
                    {
                        writer.WriteLine($"if ({plan.Property})");
                        writer.OpenBlock();
                        writer.WriteLine($"bits{plan.BitOctet} |= {BitMask(plan.BitIndex)};");
                        writer.CloseBlock();
                        writer.WriteLine();
                    }

                    if (plan.EndsOctet)
                    {
                        writer.WriteLine($"offset += Wire.WriteOctet(destination.Slice(offset), bits{plan.BitOctet});");
                    }

                    break;
                case AmqpType.ShortStr:
                    writer.WriteLine(field.Reserved
                        ? "offset += Wire.WriteOctet(destination.Slice(offset), 0);"
                        : $"offset += Wire.WriteShortStr(destination.Slice(offset), {value}, {owner}, {Literal(field.Name)});");
                    break;
                case AmqpType.LongStr:
                    writer.WriteLine(field.Reserved
                        ? "offset += Wire.WriteLong(destination.Slice(offset), 0);"
                        : $"offset += Wire.WriteLongStr(destination.Slice(offset), {value}.Span);");
                    break;
                case AmqpType.Table:
                    writer.WriteLine(field.Reserved
                        ? "offset += Wire.WriteLong(destination.Slice(offset), 0);"
                        : $"offset += Wire.WriteTable(destination.Slice(offset), {value});");
                    break;
                default:
                    writer.WriteLine($"offset += Wire.{WriteMethod(field.Type)}(destination.Slice(offset), {value});");
                    break;
            }
        }

        writer.WriteLine("return offset;");
        writer.CloseBlock();
    }

    private static void EmitReader(SourceWriter writer, string typeName, string fullName, List<FieldPlan> plans, List<FieldPlan> visible)
    {
        WriteSummary(writer, $"A zero-copy view over the encoded arguments of a <c>{fullName}</c>; every field is parsed (and every length checked) when it is created.", escape: false);
        writer.WriteLine("public readonly ref struct Reader");
        writer.OpenBlock();
        writer.WriteLine("internal Reader(ReadOnlySpan<byte> arguments)");
        writer.OpenBlock();
        if (plans.Count > 0)
        {
            writer.WriteLine("int position = 0;");
        }

        foreach (FieldPlan plan in plans)
        {
            FieldModel field = plan.Field;
            string what = Literal($"{fullName} {field.Name}");
            if (field.Type == AmqpType.Bit)
            {
                if (plan.BitIndex == 0)
                {
                    writer.WriteLine($"byte bits{plan.BitOctet} = Wire.ReadOctet(arguments, ref position, {what});");
                }

                if (!field.Reserved)
                {
                    writer.WriteLine($"{plan.Property} = (bits{plan.BitOctet} & {BitMask(plan.BitIndex)}) != 0;");
                }

                continue;
            }

            EmitRead(writer, plan, "arguments", what);
        }

        writer.CloseBlock();
        foreach (FieldPlan plan in visible)
        {
            writer.WriteLine();
            EmitReaderAccessor(writer, plan);
        }

        writer.WriteLine();
        WriteSummary(writer, $"Copies the fields into a <see cref=\"{typeName}\"/> (allocates strings and tables; for tests and cold paths).", escape: false);
        string arguments = string.Join(", ", visible.Select(p => p.Field.Type == AmqpType.LongStr ? p.Property + ".ToArray()" : p.Property));
        writer.WriteLine($"public {typeName} ToMethod() => new {typeName}({arguments});");
        writer.CloseBlock();
    }

    /// <summary>Reads one non-bit field at <c>position</c>; reserved fields are checked and skipped.</summary>
    private static void EmitRead(SourceWriter writer, FieldPlan plan, string source, string what)
    {
        FieldModel field = plan.Field;
        string target = field.Reserved ? "_" : ReaderStorage(plan);
        writer.WriteLine($"{target} = Wire.{ReadMethod(field.Type)}({source}, ref position, {what});");
    }

    private static string ReaderStorage(FieldPlan plan) =>
        plan.Field.Type is AmqpType.ShortStr or AmqpType.Table ? plan.Property + "Bytes" : plan.Property;

    private static void EmitReaderAccessor(SourceWriter writer, FieldPlan plan)
    {
        FieldModel field = plan.Field;
        switch (field.Type)
        {
            case AmqpType.ShortStr:
                WriteFieldSummary(writer, field, " (the UTF-8 bytes, a view into the frame)");
                writer.WriteLine($"public ReadOnlySpan<byte> {plan.Property}Bytes {{ get; }}");
                writer.WriteLine();
                WriteFieldSummary(writer, field, " (decoded; allocates a string)");
                writer.WriteLine($"public string {plan.Property} => Wire.DecodeString({plan.Property}Bytes);");
                break;
            case AmqpType.Table:
                WriteFieldSummary(writer, field, " (the table body without its length, a view into the frame)");
                writer.WriteLine($"public ReadOnlySpan<byte> {plan.Property}Bytes {{ get; }}");
                writer.WriteLine();
                WriteFieldSummary(writer, field, " (decoded; allocates)");
                writer.WriteLine("/// <exception cref=\"AmqpFrameFormatException\">The table is malformed.</exception>");
                writer.WriteLine($"public FieldTable {plan.Property} => FieldTable.Decode({plan.Property}Bytes);");
                break;
            case AmqpType.LongStr:
                WriteFieldSummary(writer, field, " (a view into the frame)");
                writer.WriteLine($"public ReadOnlySpan<byte> {plan.Property} {{ get; }}");
                break;
            default:
                WriteFieldSummary(writer, field);
                writer.WriteLine($"public {PropertyType(field.Type)} {plan.Property} {{ get; }}");
                break;
        }
    }

    // ------------------------------------------------------------------ content properties

    private static string EmitProperties(ClassModel amqpClass)
    {
        string typeName = Pascal(amqpClass.Name) + "Properties";
        string owner = Literal(amqpClass.Name + " properties");
        List<FieldPlan> plans = amqpClass.Properties.Select(p => new FieldPlan(p, SafeProperty(p.Name, typeName))).ToList();
        ushort known = 0;
        for (int i = 0; i < plans.Count; i++)
        {
            known |= FlagBit(i);
        }

        SourceWriter writer = StartFile("System", "System.CodeDom.Compiler");
        WriteSummary(writer, $"The content properties of class <c>{amqpClass.Name}</c> (spec 4.2.6.1): a property is sent exactly when it is not null, so a zero or empty value can be sent too.", escape: false);
        writer.WriteLine(GeneratedCodeAttribute);
        writer.WriteLine($"internal readonly partial struct {typeName}");
        writer.OpenBlock();
        WriteSummary(writer, $"The class index of <c>{amqpClass.Name}</c>, which a content header carries.", escape: false);
        writer.WriteLine($"public const ushort ClassIndex = {amqpClass.Index};");
        writer.WriteLine();
        WriteSummary(writer, "The flag bits that name a property; any other bit (including the continuation bit 0) is malformed input.", escape: false);
        writer.WriteLine($"public const ushort KnownFlags = {Hex(known)};");
        for (int i = 0; i < plans.Count; i++)
        {
            writer.WriteLine();
            WriteFieldSummary(writer, plans[i].Field, $" (flag bit {15 - i})");
            writer.WriteLine($"public {NullablePropertyType(plans[i].Field.Type)} {plans[i].Property} {{ get; init; }}");
        }

        writer.WriteLine();
        WriteSummary(writer, "The property flags word: bit 15 for the first property downward, set for each property that is present.", escape: false);
        writer.WriteLine("public ushort Flags");
        writer.OpenBlock();
        writer.WriteLine("get");
        writer.OpenBlock();
        writer.WriteLine("ushort flags = 0;");
        for (int i = 0; i < plans.Count; i++)
        {
            writer.WriteLine($"if ({Present(plans[i])})");
            writer.OpenBlock();
            writer.WriteLine($"flags |= {Hex(FlagBit(i))};");
            writer.CloseBlock();
            writer.WriteLine();
        }

        writer.WriteLine("return flags;");
        writer.CloseBlock();
        writer.CloseBlock();

        writer.WriteLine();
        WriteSummary(writer, "The exact number of bytes <see cref=\"WriteTo\"/> writes: the flags word and the present properties.", escape: false);
        writer.WriteLine("/// <exception cref=\"ArgumentException\">A value does not fit its AMQP type.</exception>");
        writer.WriteLine("public int GetSize()");
        writer.OpenBlock();
        writer.WriteLine("int size = 2;");
        foreach (FieldPlan plan in plans)
        {
            string? term = plan.Field.Type switch
            {
                AmqpType.Bit => null,
                AmqpType.ShortStr => $"Wire.ShortStrSize({plan.Property}, {owner}, {Literal(plan.Field.Name)})",
                AmqpType.LongStr => $"Wire.LongStrSize({plan.Property}.Value)",
                AmqpType.Table => $"Wire.TableSize({plan.Property})",
                _ => FixedSize(plan.Field.Type).ToString(CultureInfo.InvariantCulture),
            };
            if (term is null)
            {
                continue;
            }

            writer.WriteLine($"if ({Present(plan)})");
            writer.OpenBlock();
            writer.WriteLine($"size += {term};");
            writer.CloseBlock();
            writer.WriteLine();
        }

        writer.WriteLine("return size;");
        writer.CloseBlock();

        writer.WriteLine();
        WriteSummary(writer, "Writes the flags word and the present properties; returns the bytes written.", escape: false);
        writer.WriteLine("/// <exception cref=\"ArgumentException\">A value does not fit its AMQP type.</exception>");
        writer.WriteLine("public int WriteTo(Span<byte> destination)");
        writer.OpenBlock();
        writer.WriteLine("int offset = Wire.WriteShort(destination, Flags);");
        foreach (FieldPlan plan in plans)
        {
            string slice = "destination.Slice(offset)";
            string? statement = plan.Field.Type switch
            {
                AmqpType.Bit => null,
                AmqpType.ShortStr => $"offset += Wire.WriteShortStr({slice}, {plan.Property}, {owner}, {Literal(plan.Field.Name)});",
                AmqpType.LongStr => $"offset += Wire.WriteLongStr({slice}, {plan.Property}.Value.Span);",
                AmqpType.Table => $"offset += Wire.WriteTable({slice}, {plan.Property});",
                _ => $"offset += Wire.{WriteMethod(plan.Field.Type)}({slice}, {plan.Property}.Value);",
            };
            if (statement is null)
            {
                continue;
            }

            writer.WriteLine($"if ({Present(plan)})");
            writer.OpenBlock();
            writer.WriteLine(statement);
            writer.CloseBlock();
            writer.WriteLine();
        }

        writer.WriteLine("return offset;");
        writer.CloseBlock();

        writer.WriteLine();
        WriteSummary(writer, "Parses a property flags word and property list.", escape: false);
        writer.WriteLine("/// <param name=\"source\">The encoded flags and properties; the reader is a view over them.</param>");
        writer.WriteLine("/// <exception cref=\"AmqpFrameFormatException\">A property runs past the end of <paramref name=\"source\"/>, or an unknown flag is set.</exception>");
        writer.WriteLine("public static Reader Read(ReadOnlySpan<byte> source) => new Reader(source);");
        writer.WriteLine();
        EmitPropertiesReader(writer, amqpClass, typeName, plans);
        writer.CloseBlock();
        return EndFile(writer);
    }

    private static void EmitPropertiesReader(SourceWriter writer, ClassModel amqpClass, string typeName, List<FieldPlan> plans)
    {
        WriteSummary(writer, $"A zero-copy view over encoded <c>{amqpClass.Name}</c> content properties, parsed and checked when it is created.", escape: false);
        writer.WriteLine("public readonly ref struct Reader");
        writer.OpenBlock();
        writer.WriteLine("internal Reader(ReadOnlySpan<byte> source)");
        writer.OpenBlock();
        writer.WriteLine("int position = 0;");
        writer.WriteLine($"Flags = Wire.ReadShort(source, ref position, {Literal(amqpClass.Name + " property flags")});");
        writer.WriteLine("if ((Flags & ~KnownFlags) != 0)");
        writer.OpenBlock();
        writer.WriteLine($"throw new AmqpFrameFormatException({Literal(amqpClass.Name + " properties: flag bits ")} + (Flags & ~KnownFlags).ToString(\"X4\", System.Globalization.CultureInfo.InvariantCulture) + \" name no property (continued flag words are not supported).\");");
        writer.CloseBlock();
        for (int i = 0; i < plans.Count; i++)
        {
            FieldPlan plan = plans[i];
            if (plan.Field.Type == AmqpType.Bit)
            {
                continue;
            }

            writer.WriteLine();
            writer.WriteLine($"if ((Flags & {Hex(FlagBit(i))}) != 0)");
            writer.OpenBlock();
            EmitRead(writer, plan, "source", Literal($"{amqpClass.Name} property {plan.Field.Name}"));
            writer.CloseBlock();
        }

        writer.CloseBlock();
        writer.WriteLine();
        WriteSummary(writer, "The property flags word.", escape: false);
        writer.WriteLine("public ushort Flags { get; }");
        for (int i = 0; i < plans.Count; i++)
        {
            FieldPlan plan = plans[i];
            FieldModel field = plan.Field;
            writer.WriteLine();
            if (field.Type == AmqpType.Bit)
            {
                WriteFieldSummary(writer, field, " (a bit property is its flag)");
                writer.WriteLine($"public bool {plan.Property} => (Flags & {Hex(FlagBit(i))}) != 0;");
                continue;
            }

            WriteSummary(writer, $"Whether <c>{field.Name}</c> is present.", escape: false);
            writer.WriteLine($"public bool Has{plan.Property} => (Flags & {Hex(FlagBit(i))}) != 0;");
            writer.WriteLine();
            switch (field.Type)
            {
                case AmqpType.ShortStr:
                    WriteFieldSummary(writer, field, " (UTF-8 bytes, a view into the frame; empty when absent)");
                    writer.WriteLine($"public ReadOnlySpan<byte> {plan.Property}Bytes {{ get; }}");
                    writer.WriteLine();
                    WriteFieldSummary(writer, field, " (decoded, null when absent; allocates a string)");
                    writer.WriteLine($"public string? {plan.Property} => Has{plan.Property} ? Wire.DecodeString({plan.Property}Bytes) : null;");
                    break;
                case AmqpType.Table:
                    WriteFieldSummary(writer, field, " (the table body without its length, a view into the frame; empty when absent)");
                    writer.WriteLine($"public ReadOnlySpan<byte> {plan.Property}Bytes {{ get; }}");
                    writer.WriteLine();
                    WriteFieldSummary(writer, field, " (decoded, null when absent; allocates)");
                    writer.WriteLine("/// <exception cref=\"AmqpFrameFormatException\">The table is malformed.</exception>");
                    writer.WriteLine($"public FieldTable? {plan.Property} => Has{plan.Property} ? FieldTable.Decode({plan.Property}Bytes) : null;");
                    break;
                case AmqpType.LongStr:
                    WriteFieldSummary(writer, field, " (a view into the frame; empty when absent)");
                    writer.WriteLine($"public ReadOnlySpan<byte> {plan.Property} {{ get; }}");
                    break;
                default:
                    WriteFieldSummary(writer, field, " (null when absent)");
                    writer.WriteLine($"public {PropertyType(field.Type)}? {plan.Property} {{ get; }}");
                    break;
            }
        }

        writer.WriteLine();
        WriteSummary(writer, $"Copies the properties into a <see cref=\"{typeName}\"/> (allocates strings and tables).", escape: false);
        writer.WriteLine($"public {typeName} ToProperties() => new {typeName}");
        writer.OpenBlock();
        foreach (FieldPlan plan in plans)
        {
            string value = plan.Field.Type == AmqpType.LongStr
                ? $"Has{plan.Property} ? {plan.Property}.ToArray() : null"
                : plan.Property;
            writer.WriteLine($"{plan.Property} = {value},");
        }

        writer.CloseBlock(";");
        writer.CloseBlock();
    }

    private static string Present(FieldPlan plan) =>
        plan.Field.Type == AmqpType.Bit ? plan.Property : $"{plan.Property} is not null";

    private static ushort FlagBit(int index) => (ushort)(1 << (15 - index));

    // ------------------------------------------------------------------ dispatcher, names, constants

    private static string EmitDispatcher(SpecModel model)
    {
        var received = new List<(ClassModel Class, MethodModel Method)>();
        foreach (ClassModel amqpClass in model.Classes)
        {
            foreach (MethodModel method in amqpClass.Methods)
            {
                if (method.ClientReceives)
                {
                    received.Add((amqpClass, method));
                }
            }
        }

        SourceWriter writer = StartFile("System", "System.Buffers.Binary", "System.CodeDom.Compiler", "System.Globalization");
        WriteSummary(writer, "Receives every method a server may send to a client (each method whose spec has <c>&lt;chassis name=\"client\"&gt;</c>). Readers are views into the frame: copy what must outlive the call.", escape: false);
        writer.WriteLine(GeneratedCodeAttribute);
        writer.WriteLine("internal interface IClientMethodHandler");
        writer.OpenBlock();
        bool first = true;
        foreach ((ClassModel amqpClass, MethodModel method) in received)
        {
            if (!first)
            {
                writer.WriteLine();
            }

            first = false;
            string typeName = TypeName(amqpClass, method);
            WriteSummary(writer, $"Handles <c>{amqpClass.Name}.{method.Name}</c>: {method.Doc ?? "an AMQP method."}", escape: false, prefix: true);
            writer.WriteLine("/// <param name=\"channel\">The channel the method arrived on.</param>");
            writer.WriteLine("/// <param name=\"method\">The parsed arguments.</param>");
            writer.WriteLine($"void On{typeName}(ushort channel, {typeName}.Reader method);");
        }

        writer.CloseBlock();
        writer.WriteLine();
        WriteSummary(writer, "Routes a method frame received by a client to the matching <see cref=\"IClientMethodHandler\"/> method.", escape: false);
        writer.WriteLine(GeneratedCodeAttribute);
        writer.WriteLine("internal static class MethodDispatcher");
        writer.OpenBlock();
        WriteSummary(writer, "Parses the class and method ids and the arguments of <paramref name=\"payload\"/> and calls the handler.", escape: false);
        writer.WriteLine("/// <typeparam name=\"THandler\">The handler type; a struct handler is called without boxing.</typeparam>");
        writer.WriteLine("/// <param name=\"handler\">The handler to call.</param>");
        writer.WriteLine("/// <param name=\"channel\">The channel of the frame.</param>");
        writer.WriteLine("/// <param name=\"payload\">The whole method-frame payload: class id, method id, arguments.</param>");
        writer.WriteLine("/// <exception cref=\"AmqpFrameFormatException\">The payload is truncated or malformed, or names a method a client never receives.</exception>");
        writer.WriteLine("public static void Dispatch<THandler>(ref THandler handler, ushort channel, ReadOnlySpan<byte> payload)");
        writer.WriteLine("    where THandler : IClientMethodHandler");
        WriteCommandSwitchStart(writer);
        foreach ((ClassModel amqpClass, MethodModel method) in received)
        {
            string typeName = TypeName(amqpClass, method);
            writer.WriteLine($"case {typeName}.CommandIdValue:");
            writer.Indentation++;
            writer.WriteLine($"handler.On{typeName}(channel, {typeName}.Read(arguments));");
            writer.WriteLine("return;");
            writer.Indentation--;
        }

        writer.WriteLine("default:");
        writer.Indentation++;
        writer.WriteLine("throw Unexpected(commandId);");
        writer.Indentation--;
        writer.CloseBlock();
        writer.CloseBlock();
        writer.WriteLine();
        WriteSummary(writer, "Parses any method of the spec, whichever peer sends it, into its struct: for traces, tests and fuzzing, not the receive path (the strings and tables of the arguments are materialised).", escape: false);
        writer.WriteLine("/// <param name=\"payload\">The whole method-frame payload: class id, method id, arguments.</param>");
        writer.WriteLine("/// <returns>The method, boxed.</returns>");
        writer.WriteLine("/// <exception cref=\"AmqpFrameFormatException\">The payload is truncated or malformed, or names no method of the spec.</exception>");
        writer.WriteLine("public static IAmqpMethod Decode(ReadOnlySpan<byte> payload)");
        WriteCommandSwitchStart(writer);
        foreach (ClassModel amqpClass in model.Classes)
        {
            foreach (MethodModel method in amqpClass.Methods)
            {
                string typeName = TypeName(amqpClass, method);
                writer.WriteLine($"case {typeName}.CommandIdValue:");
                writer.Indentation++;
                writer.WriteLine($"return {typeName}.Read(arguments).ToMethod();");
                writer.Indentation--;
            }
        }

        writer.WriteLine("default:");
        writer.Indentation++;
        writer.WriteLine("throw new AmqpFrameFormatException(\"Unknown AMQP method (\" + (commandId >> 16).ToString(CultureInfo.InvariantCulture) + \", \" + (commandId & 0xFFFF).ToString(CultureInfo.InvariantCulture) + \").\");");
        writer.Indentation--;
        writer.CloseBlock();
        writer.CloseBlock();
        writer.WriteLine();
        writer.WriteLine("private static AmqpFrameFormatException Unexpected(uint commandId)");
        writer.OpenBlock();
        writer.WriteLine("string ids = \"(\" + (commandId >> 16).ToString(CultureInfo.InvariantCulture) + \", \" + (commandId & 0xFFFF).ToString(CultureInfo.InvariantCulture) + \")\";");
        writer.WriteLine("string? name = MethodNames.Get(commandId);");
        writer.WriteLine("return name is null");
        writer.WriteLine("    ? new AmqpFrameFormatException(\"Unknown AMQP method \" + ids + \".\")");
        writer.WriteLine("    : new AmqpFrameFormatException(\"The method \" + name + \" \" + ids + \" is never sent to a client.\");");
        writer.CloseBlock();
        writer.CloseBlock();
        return EndFile(writer);
    }

    /// <summary>The start of a method that switches on the command id of a method-frame payload.</summary>
    private static void WriteCommandSwitchStart(SourceWriter writer)
    {
        writer.OpenBlock();
        writer.WriteLine("if (payload.Length < 4)");
        writer.OpenBlock();
        writer.WriteLine("throw new AmqpFrameFormatException(\"A method frame payload needs 4 bytes of class and method id; it has \" + payload.Length.ToString(CultureInfo.InvariantCulture) + \".\");");
        writer.CloseBlock();
        writer.WriteLine();
        writer.WriteLine("uint commandId = BinaryPrimitives.ReadUInt32BigEndian(payload);");
        writer.WriteLine("ReadOnlySpan<byte> arguments = payload.Slice(4);");
        writer.WriteLine("switch (commandId)");
        writer.OpenBlock();
    }

    private static string EmitMethodNames(SpecModel model)
    {
        SourceWriter writer = StartFile("System.CodeDom.Compiler");
        WriteSummary(writer, "The spec names of AMQP methods, for logs and traces.", escape: false);
        writer.WriteLine(GeneratedCodeAttribute);
        writer.WriteLine("internal static class MethodNames");
        writer.OpenBlock();
        WriteSummary(writer, "The name of a method, such as <c>basic.publish</c>, from its command id (<c>class &lt;&lt; 16 | method</c>); null when unknown.", escape: false);
        writer.WriteLine("/// <param name=\"commandId\">The command id.</param>");
        writer.WriteLine("/// <returns>The name, or null when the spec has no such method.</returns>");
        writer.WriteLine("public static string? Get(uint commandId) => commandId switch");
        writer.OpenBlock();
        foreach (ClassModel amqpClass in model.Classes)
        {
            foreach (MethodModel method in amqpClass.Methods)
            {
                string typeName = TypeName(amqpClass, method);
                writer.WriteLine($"{typeName}.CommandIdValue => {typeName}.Name,");
            }
        }

        writer.WriteLine("_ => null,");
        writer.CloseBlock(";");
        writer.CloseBlock();
        return EndFile(writer);
    }

    private static string EmitConstants(SpecModel model)
    {
        var replyCodes = model.Constants.Where(c => c.ErrorClass is not null || c.Name.StartsWith("reply-", StringComparison.Ordinal)).ToList();
        var frameTypes = model.Constants.Where(c => c.ErrorClass is null && c.Name.StartsWith("frame-", StringComparison.Ordinal)
            && c.Name != "frame-min-size" && c.Name != "frame-end").ToList();
        var numeric = model.Constants.Where(c => c.ErrorClass is null).ToList();

        SourceWriter writer = StartFile("System.CodeDom.Compiler");
        WriteSummary(writer, "AMQP reply codes (spec 1.2 constants) carried by connection.close, channel.close and basic.return.", escape: false);
        writer.WriteLine(GeneratedCodeAttribute);
        writer.WriteLine("public enum ReplyCode : ushort");
        writer.OpenBlock();
        foreach (ConstantModel constant in replyCodes)
        {
            string name = Pascal(constant.Name.StartsWith("reply-", StringComparison.Ordinal) ? constant.Name.Substring("reply-".Length) : constant.Name);
            WriteConstantSummary(writer, constant);
            writer.WriteLine($"{name} = {constant.Value.ToString(CultureInfo.InvariantCulture)},");
        }

        writer.CloseBlock();
        writer.WriteLine();
        WriteSummary(writer, "Classifies reply codes: a hard error closes the connection, a soft error only the channel.", escape: false);
        writer.WriteLine(GeneratedCodeAttribute);
        writer.WriteLine("internal static class ReplyCodes");
        writer.OpenBlock();
        EmitErrorClassCheck(writer, replyCodes, "hard-error", "IsHardError", "the connection");
        writer.WriteLine();
        EmitErrorClassCheck(writer, replyCodes, "soft-error", "IsSoftError", "only the channel");
        writer.WriteLine();
        EmitReplyCodeNames(writer, replyCodes);
        writer.CloseBlock();

        writer.WriteLine();
        WriteSummary(writer, "AMQP frame types (spec 4.2.3).", escape: false);
        writer.WriteLine(GeneratedCodeAttribute);
        writer.WriteLine("public enum FrameType : byte");
        writer.OpenBlock();
        foreach (ConstantModel constant in frameTypes)
        {
            WriteConstantSummary(writer, constant);
            writer.WriteLine($"{Pascal(constant.Name.Substring("frame-".Length))} = {constant.Value.ToString(CultureInfo.InvariantCulture)},");
        }

        writer.CloseBlock();
        writer.WriteLine();
        WriteSummary(writer, "Numeric constants of the AMQP spec, and the protocol version it describes.", escape: false);
        writer.WriteLine(GeneratedCodeAttribute);
        writer.WriteLine("internal static class AmqpConstants");
        writer.OpenBlock();
        WriteSummary(writer, "The protocol major version.", escape: false);
        writer.WriteLine($"public const int ProtocolMajor = {model.Major.ToString(CultureInfo.InvariantCulture)};");
        writer.WriteLine();
        WriteSummary(writer, "The protocol minor version.", escape: false);
        writer.WriteLine($"public const int ProtocolMinor = {model.Minor.ToString(CultureInfo.InvariantCulture)};");
        writer.WriteLine();
        WriteSummary(writer, "The protocol revision.", escape: false);
        writer.WriteLine($"public const int ProtocolRevision = {model.Revision.ToString(CultureInfo.InvariantCulture)};");
        writer.WriteLine();
        WriteSummary(writer, "The default TCP port.", escape: false);
        writer.WriteLine($"public const int DefaultPort = {model.Port.ToString(CultureInfo.InvariantCulture)};");
        foreach (ConstantModel constant in numeric)
        {
            writer.WriteLine();
            WriteConstantSummary(writer, constant);
            writer.WriteLine($"public const int {Pascal(constant.Name)} = {constant.Value.ToString(CultureInfo.InvariantCulture)};");
        }

        writer.CloseBlock();
        writer.WriteLine();
        WriteSummary(writer, "The AMQP class indexes.", escape: false);
        writer.WriteLine(GeneratedCodeAttribute);
        writer.WriteLine("internal static class AmqpClassIds");
        writer.OpenBlock();
        bool firstClass = true;
        foreach (ClassModel amqpClass in model.Classes)
        {
            if (!firstClass)
            {
                writer.WriteLine();
            }

            firstClass = false;
            WriteSummary(writer, $"<c>{amqpClass.Name}</c>: {amqpClass.Doc ?? "an AMQP class."}", escape: false, prefix: true);
            writer.WriteLine($"public const ushort {Pascal(amqpClass.Name)} = {amqpClass.Index.ToString(CultureInfo.InvariantCulture)};");
        }

        writer.CloseBlock();
        return EndFile(writer);
    }

    private static void EmitErrorClassCheck(SourceWriter writer, List<ConstantModel> codes, string errorClass, string method, string closes)
    {
        var values = codes.Where(c => c.ErrorClass == errorClass).Select(c => c.Value.ToString(CultureInfo.InvariantCulture)).ToList();
        WriteSummary(writer, $"Whether <paramref name=\"code\"/> is a {errorClass}, which closes {closes}.", escape: false);
        writer.WriteLine("/// <param name=\"code\">A reply code.</param>");
        writer.WriteLine("/// <returns>True for a " + errorClass + " code.</returns>");
        writer.WriteLine(values.Count == 0
            ? $"public static bool {method}(ushort code) => false;"
            : $"public static bool {method}(ushort code) => code is {string.Join(" or ", values)};");
    }

    private static void EmitReplyCodeNames(SourceWriter writer, List<ConstantModel> codes)
    {
        WriteSummary(writer, "The constant's name as RabbitMQ spells it in reply texts and logs (<c>NOT_FOUND</c> for 404), or null for a code the spec does not name.", escape: false);
        writer.WriteLine("/// <param name=\"code\">A reply code.</param>");
        writer.WriteLine("/// <returns>The upper-case name, or null.</returns>");
        writer.WriteLine("public static string? GetName(ushort code) => code switch");
        writer.OpenBlock();
        foreach (ConstantModel constant in codes)
        {
            string name = constant.Name.ToUpperInvariant().Replace('-', '_');
            writer.WriteLine($"{constant.Value.ToString(CultureInfo.InvariantCulture)} => \"{name}\",");
        }

        writer.WriteLine("_ => null,");
        writer.CloseBlock(";");
    }

    // ------------------------------------------------------------------ helpers

    private static SourceWriter StartFile(params string[] usings)
    {
        var writer = new SourceWriter();
        writer.WriteLine("// <auto-generated/>");
        writer.WriteLine("// Generated by CoolAmqp.Generator from the AMQP 0-9-1 spec; do not edit.");
        writer.WriteLine("#nullable enable");
        writer.WriteLine();
        foreach (string item in usings)
        {
            writer.WriteLine($"using {item};");
        }

        writer.WriteLine();
        writer.WriteLine($"namespace {Namespace}");
        writer.OpenBlock();
        return writer;
    }

    private static string EndFile(SourceWriter writer)
    {
        writer.CloseBlock();
        return writer.ToString();
    }

    private static void WriteSummary(SourceWriter writer, string text, bool escape, bool prefix = false)
    {
        // With prefix, text is "<markup>: doc" where only the doc part (after the first ": ") needs escaping.
        string body;
        if (prefix)
        {
            int split = text.IndexOf(": ", StringComparison.Ordinal);
            body = text.Substring(0, split + 2) + Escape(text.Substring(split + 2));
        }
        else
        {
            body = escape ? Escape(text) : text;
        }

        writer.WriteLine($"/// <summary>{body}</summary>");
    }

    private static void WriteFieldSummary(SourceWriter writer, FieldModel field, string suffix = "")
    {
        writer.WriteLine($"/// <summary><c>{field.Name}</c>{suffix}: {Escape(field.Doc ?? field.Domain)}</summary>");
    }

    private static void WriteConstantSummary(SourceWriter writer, ConstantModel constant)
    {
        string kind = constant.ErrorClass is null ? string.Empty : $" ({constant.ErrorClass})";
        writer.WriteLine($"/// <summary><c>{constant.Name}</c>{kind}: {Escape(constant.Doc ?? constant.Name)}</summary>");
    }

    internal static string Escape(string text)
    {
        var builder = new StringBuilder(text.Length);
        foreach (char c in text)
        {
            switch (c)
            {
                case '&': builder.Append("&amp;"); break;
                case '<': builder.Append("&lt;"); break;
                case '>': builder.Append("&gt;"); break;
                default: builder.Append(c); break;
            }
        }

        return builder.ToString();
    }

    private static string TypeName(ClassModel amqpClass, MethodModel method) => TypeName(amqpClass, method.Name);

    private static string TypeName(ClassModel amqpClass, string methodName) => Pascal(amqpClass.Name) + Pascal(methodName);

    private static string SafeProperty(string name, string typeName)
    {
        string property = Pascal(name);
        return ReservedMembers.Contains(property) || property == typeName ? property + "Value" : property;
    }

    /// <summary>"routing-key" → "RoutingKey"; any character that is not a letter or digit separates words.</summary>
    internal static string Pascal(string name)
    {
        var builder = new StringBuilder(name.Length);
        bool upper = true;
        foreach (char c in name)
        {
            if (!char.IsLetterOrDigit(c))
            {
                upper = true;
                continue;
            }

            builder.Append(upper ? char.ToUpperInvariant(c) : c);
            upper = false;
        }

        if (builder.Length == 0 || char.IsDigit(builder[0]))
        {
            builder.Insert(0, '_');
        }

        return builder.ToString();
    }

    private static string Identifier(string name) =>
        SyntaxFacts.GetKeywordKind(name) != SyntaxKind.None || SyntaxFacts.GetContextualKeywordKind(name) != SyntaxKind.None
            ? "@" + name
            : name;

    private static string Literal(string value) => SymbolDisplay.FormatLiteral(value, quote: true);

    private static string Hex(ushort value) => "0x" + value.ToString("X4", CultureInfo.InvariantCulture);

    private static string BitMask(int index) => "0x" + (1 << index).ToString("X2", CultureInfo.InvariantCulture);

    private static string PropertyType(AmqpType type) => type switch
    {
        AmqpType.Bit => "bool",
        AmqpType.Octet => "byte",
        AmqpType.Short => "ushort",
        AmqpType.Long => "uint",
        AmqpType.LongLong => "ulong",
        AmqpType.Timestamp => "ulong",
        AmqpType.ShortStr => "string",
        AmqpType.LongStr => "ReadOnlyMemory<byte>",
        AmqpType.Table => "FieldTable?",
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    private static string NullablePropertyType(AmqpType type) => type switch
    {
        AmqpType.Bit => "bool",
        AmqpType.ShortStr => "string?",
        AmqpType.Table => "FieldTable?",
        _ => PropertyType(type) + "?",
    };

    private static int FixedSize(AmqpType type) => type switch
    {
        AmqpType.Octet => 1,
        AmqpType.Short => 2,
        AmqpType.Long => 4,
        AmqpType.LongLong => 8,
        AmqpType.Timestamp => 8,
        AmqpType.ShortStr => 1,
        AmqpType.LongStr => 4,
        AmqpType.Table => 4,
        _ => 0,
    };

    private static string WriteMethod(AmqpType type) => type switch
    {
        AmqpType.Octet => "WriteOctet",
        AmqpType.Short => "WriteShort",
        AmqpType.Long => "WriteLong",
        AmqpType.LongLong => "WriteLongLong",
        AmqpType.Timestamp => "WriteLongLong",
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    private static string ReadMethod(AmqpType type) => type switch
    {
        AmqpType.Octet => "ReadOctet",
        AmqpType.Short => "ReadShort",
        AmqpType.Long => "ReadLong",
        AmqpType.LongLong => "ReadLongLong",
        AmqpType.Timestamp => "ReadLongLong",
        AmqpType.ShortStr => "ReadShortStr",
        AmqpType.LongStr => "ReadLongStr",
        AmqpType.Table => "ReadTable",
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    private static string ReservedValue(AmqpType type) => type switch
    {
        AmqpType.Bit => "false",
        _ => "0",
    };
}
