using System;

namespace CoolAmqp.Generator.Model;

// The cached model of the generator. Every member must have value equality (strings, primitives, enums,
// records, EquatableArray): one member without it makes the model compare unequal on every run and
// silently turns off incremental caching. No XElement, Location, Diagnostic or symbol may live here.

/// <summary>The primitive AMQP types (spec section 4.2.5) that domains resolve to.</summary>
internal enum AmqpType
{
    Bit,
    Octet,
    Short,
    Long,
    LongLong,
    ShortStr,
    LongStr,
    Timestamp,
    Table,
}

/// <summary>The whole spec: protocol version, constants, domains and classes, in document order.</summary>
internal sealed record SpecModel(
    int Major,
    int Minor,
    int Revision,
    int Port,
    EquatableArray<ConstantModel> Constants,
    EquatableArray<DomainModel> Domains,
    EquatableArray<ClassModel> Classes)
{
    /// <summary>The same model with every doc text removed, to compare two specs by structure only.</summary>
    public SpecModel WithoutDocs() => this with
    {
        Constants = Constants.Select(c => c with { Doc = null }),
        Domains = Domains.Select(d => d with { Doc = null }),
        Classes = Classes.Select(c => c.WithoutDocs()),
    };
}

/// <summary>A <c>&lt;constant&gt;</c>; <see cref="ErrorClass"/> is <c>soft-error</c>, <c>hard-error</c> or null.</summary>
internal sealed record ConstantModel(string Name, int Value, string? ErrorClass, string? Doc);

/// <summary>A <c>&lt;domain&gt;</c> with its type resolved to a primitive.</summary>
internal sealed record DomainModel(string Name, AmqpType Type, string? Doc);

/// <summary>A <c>&lt;chassis&gt;</c> element: which peer implements a class or receives a method.</summary>
internal sealed record ChassisModel(string Name, string Implement);

/// <summary>A <c>&lt;class&gt;</c>: its content properties (class-level fields) and methods.</summary>
internal sealed record ClassModel(
    string Name,
    int Index,
    string? Doc,
    EquatableArray<ChassisModel> Chassis,
    EquatableArray<FieldModel> Properties,
    EquatableArray<MethodModel> Methods)
{
    public ClassModel WithoutDocs() => this with
    {
        Doc = null,
        Properties = Properties.Select(p => p with { Doc = null }),
        Methods = Methods.Select(m => m with { Doc = null, Fields = m.Fields.Select(f => f with { Doc = null }) }),
    };
}

/// <summary>A <c>&lt;method&gt;</c>; <see cref="Responses"/> are names of methods of the same class.</summary>
internal sealed record MethodModel(
    string Name,
    int Index,
    bool Synchronous,
    bool HasContent,
    string? Doc,
    EquatableArray<ChassisModel> Chassis,
    EquatableArray<string> Responses,
    EquatableArray<FieldModel> Fields)
{
    /// <summary>Whether a client receives this method (<c>&lt;chassis name="client"&gt;</c>).</summary>
    public bool ClientReceives
    {
        get
        {
            foreach (ChassisModel chassis in Chassis)
            {
                if (chassis.Name == "client")
                {
                    return true;
                }
            }

            return false;
        }
    }
}

/// <summary>
/// A method argument or content property. <see cref="Domain"/> is the domain (or type) named in the spec,
/// <see cref="Type"/> what it resolves to.
/// </summary>
internal sealed record FieldModel(string Name, string Domain, AmqpType Type, bool Reserved, string? Doc);

internal static class EquatableArrayExtensions
{
    public static EquatableArray<TResult> Select<T, TResult>(this EquatableArray<T> items, Func<T, TResult> selector)
        where T : IEquatable<T>
        where TResult : IEquatable<TResult>
    {
        var result = new TResult[items.Count];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = selector(items[i]);
        }

        return new EquatableArray<TResult>(result);
    }
}
