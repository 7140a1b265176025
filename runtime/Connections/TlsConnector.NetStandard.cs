#if NETSTANDARD2_0
using System;
using System.Collections.Generic;
using System.IO;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace CoolAmqp.Connections;

// netstandard2.0 has neither SslClientAuthenticationOptions nor X509ChainPolicy.CustomTrustStore nor PEM loading: the
// same TlsOptions are applied through the older SslStream API, and custom roots are checked in the validation callback
// by rebuilding the chain against them.
internal sealed partial class TlsConnector
{
    private X509Certificate2Collection? _customRoots;

    private ClientSetup BuildSetup()
    {
        X509Certificate2? client;
        try
        {
            if (_options.HasCustomTrust)
            {
                var roots = new X509Certificate2Collection();
                if (_options.TrustedCertificates is { } trusted)
                {
                    roots.AddRange(trusted);
                }

                if (_options.CaCertificatePath is { } path)
                {
                    int before = roots.Count;
                    foreach (byte[] der in PemCertificates(File.ReadAllText(path)))
                    {
                        roots.Add(new X509Certificate2(der));
                    }

                    if (roots.Count == before)
                    {
                        throw new CryptographicException($"'{path}' holds no PEM certificate.");
                    }
                }

                _customRoots = roots;
            }

            client = LoadClientCertificate();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException
                                       or FormatException)
        {
            throw new TlsHandshakeException(TlsFailureReason.Other, _server,
                $"Could not set up TLS for {_server}: {ex.Message}", SslPolicyErrors.None, X509ChainStatusFlags.NoError, ex);
        }

        _sentClientCertificate = client is not null;
        return new ClientSetup(client);
    }

    private X509Certificate2? LoadClientCertificate()
    {
        if (_options.ClientCertificate is { } given)
        {
            return given;
        }

        if (_options.ClientCertificatePath is not null)
        {
            throw new CryptographicException(
                "A PEM client certificate (TlsOptions.ClientCertificatePath) needs the .NET 8+ build of CoolAmqp: " +
                "netstandard2.0 cannot import its private key. Use ClientPkcs12Path or ClientCertificate.");
        }

        if (_options.ClientPkcs12Path is { } pkcs12)
        {
            return X509CertificateLoader.LoadPkcs12FromFile(pkcs12, _options.ClientPkcs12Password);
        }

        return null;
    }

    /// <summary><see cref="Validate"/>, after replacing the system's verdict on the chain by one against the custom
    /// roots when there are any (what CustomRootTrust does on .NET 5+).</summary>
    private bool ValidateWithCustomTrust(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (_customRoots is { } roots && certificate is not null)
        {
            using var custom = new X509Chain();
            custom.ChainPolicy.RevocationMode =
                _options.CheckCertificateRevocation ? X509RevocationMode.Online : X509RevocationMode.NoCheck;
            custom.ChainPolicy.VerificationFlags = X509VerificationFlags.AllowUnknownCertificateAuthority;
            custom.ChainPolicy.ExtraStore.AddRange(roots);
            using var leaf = new X509Certificate2(certificate);
            bool built = custom.Build(leaf);
            bool anchored = custom.ChainElements.Count > 0
                            && Contains(roots, custom.ChainElements[custom.ChainElements.Count - 1].Certificate);
            errors &= ~SslPolicyErrors.RemoteCertificateChainErrors;
            if (!built || !anchored || HasErrorsBeyondUnknownRoot(custom))
            {
                errors |= SslPolicyErrors.RemoteCertificateChainErrors;
            }

            return Validate(sender, certificate, anchored ? custom : chain, errors);
        }

        return Validate(sender, certificate, chain, errors);
    }

    private static bool Contains(X509Certificate2Collection roots, X509Certificate2 root)
    {
        foreach (X509Certificate2 candidate in roots)
        {
            if (string.Equals(candidate.Thumbprint, root.Thumbprint, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private static bool HasErrorsBeyondUnknownRoot(X509Chain chain)
    {
        foreach (X509ChainStatus status in chain.ChainStatus)
        {
            if (status.Status is not (X509ChainStatusFlags.NoError or X509ChainStatusFlags.UntrustedRoot))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The DER bytes of each <c>CERTIFICATE</c> block of a PEM text (RFC 7468).</summary>
    private static IEnumerable<byte[]> PemCertificates(string pem)
    {
        const string Begin = "-----BEGIN CERTIFICATE-----";
        const string End = "-----END CERTIFICATE-----";
        int at = 0;
        while ((at = pem.IndexOf(Begin, at, StringComparison.Ordinal)) >= 0)
        {
            int start = at + Begin.Length;
            int end = pem.IndexOf(End, start, StringComparison.Ordinal);
            if (end < 0)
            {
                yield break;
            }

            yield return Convert.FromBase64String(pem.Substring(start, end - start));
            at = end + End.Length;
        }
    }

    /// <summary>The client certificate to send, whatever CAs the server names as acceptable (as the .NET 8+ build's
    /// certificate context does): a refusal must come from the server, so that it is seen and reported.</summary>
    private sealed class ClientSetup(X509Certificate2? client)
    {
        public X509CertificateCollection? ClientCertificates { get; } =
            client is null ? null : new X509CertificateCollection { client };

        public X509Certificate2? SelectClientCertificate(object sender, string targetHost,
            X509CertificateCollection localCertificates, X509Certificate? remoteCertificate, string[] acceptableIssuers) =>
            client;
    }
}
#endif
