using System;
using System.Collections.Generic;
using System.IO;
using System.Text.Json;
using System.Threading.Tasks;
using CoolAmqp.Tests.Integration;
using NUnit.Framework;

namespace CoolAmqp.Tests.Tls;

/// <summary>
/// The TLS node the TLS tests run against (<c>tools/broker.sh tls</c>; <c>tools/broker.sh env-tls</c> prints these):
/// <c>COOLAMQP_TLS_BROKER</c> (its amqps:// URI), <c>COOLAMQP_TLS_PLAIN_BROKER</c> (the same node's plain listener),
/// <c>COOLAMQP_TLS_NODE</c> (its node name for <c>rabbitmqctl -n</c>) and <c>COOLAMQP_TLS_CERTS</c> (the directory
/// <c>tools/tls-certs.sh</c> filled). Like the other integration tests, they fail (never skip) without them.
/// </summary>
internal static class TlsBroker
{
    /// <summary>The PKCS#12 password tools/tls-certs.sh gives client.p12.</summary>
    public const string Pkcs12Password = "coolamqp";

    /// <summary>The user EXTERNAL logs in as: client.pem's common name.</summary>
    public const string ClientUser = "coolamqp-client";

    public static string Uri => Require("COOLAMQP_TLS_BROKER", "the amqps:// URI of the TLS node");

    public static string PlainUri => Require("COOLAMQP_TLS_PLAIN_BROKER", "the amqp:// URI of the TLS node's plain listener");

    public static string NodeName => Require("COOLAMQP_TLS_NODE", "the TLS node's name for rabbitmqctl -n");

    public static string Certs => Require("COOLAMQP_TLS_CERTS", "the directory of the test certificates");

    /// <summary>A file of the test certificates' directory.</summary>
    public static string Cert(string file) => Path.Combine(Certs, file);

    /// <summary>TLS that trusts only the test CA (or <paramref name="ca"/>).</summary>
    public static TlsOptions Trusting(string ca = "ca.pem") => new() { CaCertificatePath = Cert(ca) };

    /// <summary>The TLS node, over TLS, with these options.</summary>
    public static NodeDefinition Node(TlsOptions tls) => new(Uri) { Tls = tls };

    /// <summary>list_connections of the TLS node (JSON rows) with these columns and client_properties.</summary>
    public static async Task<List<JsonElement>> ConnectionsAsync(params string[] columns)
    {
        string json = await Broker.CtlOnAsync(NodeName, ["list_connections", "client_properties", .. columns, "--formatter", "json"]);
        var rows = new List<JsonElement>();
        if (string.IsNullOrWhiteSpace(json))
        {
            return rows;
        }

        using JsonDocument document = JsonDocument.Parse(json);
        foreach (JsonElement row in document.RootElement.EnumerateArray())
        {
            rows.Add(row.Clone());
        }

        return rows;
    }

    /// <summary>The list_connections row of the connection with this connection_name.</summary>
    public static async Task<JsonElement> ConnectionNamedAsync(string name, params string[] columns)
    {
        foreach (JsonElement row in await ConnectionsAsync(columns))
        {
            if (Broker.TableField(row.GetProperty("client_properties"), "connection_name")?.GetString() == name)
            {
                return row;
            }
        }

        throw new AssertionException($"The TLS node lists no connection named {name}.");
    }

    internal static string Require(string variable, string what) =>
        Environment.GetEnvironmentVariable(variable) is { Length: > 0 } value
            ? value
            : throw new AssertionException(
                $"{variable} is not set: it names {what}. Run the tests through the build (dotnet cake --target=Test), or " +
                "start the node with tools/broker.sh tls and export what tools/broker.sh env-tls prints.");
}
