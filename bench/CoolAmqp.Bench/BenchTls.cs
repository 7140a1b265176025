using System;
using System.IO;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using RabbitMQ.Client;

namespace CoolAmqp.Bench;

/// <summary>
/// How the runner connects over TLS (<c>--tls</c>): one amqps:// URI and one CA file for every connection (the
/// clients under test, the runner's admin connection and the count watcher). Both .NET clients verify the server:
/// its chain must end at the CA in <see cref="CaFile"/> (and at nothing else: the machine's store is neither read nor
/// changed) and its certificate must name <see cref="ServerName"/>. CoolAmqp gets the CA as the URI's
/// <c>cacertfile</c>; RabbitMQ.Client, which has no CA setting, gets an <see cref="SslOption"/> whose validation
/// callback builds the chain against the same CA and refuses a name mismatch or a missing certificate.
/// </summary>
internal sealed class BenchTls
{
    /// <summary>The variable that hands the CA file to the count watcher's process.</summary>
    public const string CaVariable = "COOLAMQP_BENCH_TLS_CA";

    private readonly X509Certificate2Collection _roots;

    private BenchTls(Uri broker, string caFile, string serverName, X509Certificate2Collection roots)
    {
        Broker = broker;
        CaFile = caFile;
        ServerName = serverName;
        _roots = roots;
    }

    /// <summary>The amqps:// URI without its query.</summary>
    public Uri Broker { get; }

    /// <summary>The PEM file of the root certificates the server's chain must end at.</summary>
    public string CaFile { get; }

    /// <summary>The name sent as SNI and checked in the server's certificate: the URI's host or its server_name_indication.</summary>
    public string ServerName { get; }

    /// <summary>The URI CoolAmqp parses: the broker with <c>cacertfile</c> (and <c>server_name_indication</c> when given).</summary>
    public string CoolAmqpUri
    {
        get
        {
            var query = new StringBuilder("?cacertfile=").Append(Uri.EscapeDataString(CaFile));
            if (!string.Equals(ServerName, Broker.IdnHost, StringComparison.OrdinalIgnoreCase))
            {
                query.Append("&server_name_indication=").Append(Uri.EscapeDataString(ServerName));
            }
            return Broker.GetLeftPart(UriPartial.Path) + query;
        }
    }

    /// <summary>
    /// Reads the CA file and checks the URI: amqps, and no query key but <c>cacertfile</c> (the CA, when
    /// <paramref name="caFile"/> is null) and <c>server_name_indication</c>: client certificates and
    /// <c>verify=verify_none</c> are refused, so both clients connect the same way and both verify.
    /// </summary>
    public static BenchTls Create(Uri broker, string? caFile, Func<string, string?> environment)
    {
        if (!string.Equals(broker.Scheme, "amqps", StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException($"--tls needs an amqps:// URI, got {broker.Scheme}://.");
        }
        string? fromUri = null;
        string? serverName = null;
        foreach (var pair in broker.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            var key = Uri.UnescapeDataString(eq < 0 ? pair : pair[..eq]);
            var value = eq < 0 ? "" : Uri.UnescapeDataString(pair[(eq + 1)..]);
            switch (key)
            {
                case "cacertfile": fromUri = value; break;
                case "server_name_indication": serverName = value; break;
                default:
                    throw new ArgumentException($"--tls: the URI's query key '{key}' is not supported by the runner "
                        + "(only cacertfile and server_name_indication: both clients verify the server and present no certificate).");
            }
        }
        var ca = caFile ?? fromUri ?? DefaultCaFile(environment);
        var roots = new X509Certificate2Collection();
        try
        {
            roots.ImportFromPemFile(ca);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
        {
            throw new ArgumentException($"--tls: cannot read the CA file '{ca}': {e.Message} (tools/broker.sh tls writes one; --tls-ca names another).", e);
        }
        if (roots.Count == 0) throw new ArgumentException($"--tls: '{ca}' holds no PEM certificate.");
        var plain = new Uri(broker.GetLeftPart(UriPartial.Path));
        return new BenchTls(plain, Path.GetFullPath(ca), serverName ?? plain.IdnHost, roots);
    }

    /// <summary>The test CA that tools/broker.sh tls made: $COOLAMQP_TLS_CERTS/ca.pem, else under the broker state directory.</summary>
    public static string DefaultCaFile(Func<string, string?> environment)
    {
        var certs = environment("COOLAMQP_TLS_CERTS");
        if (string.IsNullOrWhiteSpace(certs))
        {
            var state = environment("COOLAMQP_BROKER_STATE");
            certs = Path.Combine(string.IsNullOrWhiteSpace(state) ? "/tmp/coolamqp-broker-state" : state, "certs");
        }
        return Path.Combine(certs, "ca.pem");
    }

    /// <summary>A RabbitMQ.Client factory for <paramref name="broker"/>, over TLS when <paramref name="tls"/> is set.</summary>
    public static ConnectionFactory RabbitMqFactory(Uri broker, BenchTls? tls, string clientName)
    {
        if (tls is null) return new ConnectionFactory { Uri = broker, ClientProvidedName = clientName };
        return new ConnectionFactory
        {
            Uri = tls.Broker,
            ClientProvidedName = clientName,
            // Set after Uri, which sets an SslOption of its own for amqps.
            Ssl = new SslOption
            {
                Enabled = true,
                ServerName = tls.ServerName,
                // SslProtocols.None: the system's choice, as CoolAmqp's default.
                Version = SslProtocols.None,
                AcceptablePolicyErrors = SslPolicyErrors.None,
                CertificateValidationCallback = tls.Validate,
            },
        };
    }

    /// <summary>A one-line description for the report.</summary>
    public string Describe() =>
        $"every connection (clients, admin, count watcher) over TLS to amqps://{Broker.Authority}{Broker.AbsolutePath}, server name {ServerName}, the server's certificate "
        + $"verified by both clients against {Path.GetFileName(CaFile)} only (custom root trust), no client certificate, "
        + "TLS version the system's choice";

    // RabbitMQ.Client's validation: the server's certificate must be there, name the host, and chain to our CA only.
    private bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null) return false;
        if ((errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None) return false;
        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.AddRange(_roots);
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (chain is not null)
        {
            // Intermediates the server sent, if any.
            for (var i = 1; i < chain.ChainElements.Count; i++) custom.ChainPolicy.ExtraStore.Add(chain.ChainElements[i].Certificate);
        }
        var leaf = certificate as X509Certificate2;
        var loaded = leaf is null ? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()) : null;
        try
        {
            return custom.Build(leaf ?? loaded!);
        }
        finally
        {
            loaded?.Dispose();
        }
    }
}
