using System;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace CoolAmqp;

/// <summary>
/// How a node is reached over TLS (<see cref="NodeDefinition.Tls"/>). The defaults verify the server: its certificate
/// chain must end at a trusted root (the operating system's, or only <see cref="TrustedCertificates"/> and
/// <see cref="CaCertificatePath"/> when either is given), be valid now, and name the host
/// (<see cref="ServerName"/>); revocation is not checked unless <see cref="CheckCertificateRevocation"/> is set.
/// </summary>
/// <remarks>
/// <para>Files are read at each connection attempt, so replaced certificates are picked up on the next one. A file that
/// cannot be read fails the attempt with a <see cref="TlsHandshakeException"/>.</para>
/// <para><see cref="ToString"/> shows paths and certificate subjects, never a password or a private key.</para>
/// </remarks>
public sealed record TlsOptions
{
    /// <summary>TLS with every default: the operating system's protocols and trusted roots, the host name checked.</summary>
    public static TlsOptions Default { get; } = new();

    /// <summary>The TLS versions allowed; default <see cref="SslProtocols.None"/>, the operating system's choice
    /// (TLS 1.2 and 1.3 on current systems).</summary>
    public SslProtocols EnabledProtocols { get; init; } = SslProtocols.None;

    /// <summary>The name sent as SNI and that the server's certificate must carry; default (<see langword="null"/>):
    /// the node's <see cref="NodeDefinition.Host"/>. URI key: <c>server_name_indication</c>.</summary>
    public string? ServerName { get; init; }

    /// <summary>Root certificates to trust instead of the operating system's (the machine's store is neither read nor
    /// changed); together with <see cref="CaCertificatePath"/> when both are given. Default: none, the system's roots.</summary>
    public X509Certificate2Collection? TrustedCertificates { get; init; }

    /// <summary>A PEM file of one or more root certificates to trust instead of the operating system's, like
    /// <see cref="TrustedCertificates"/>. URI key: <c>cacertfile</c>.</summary>
    public string? CaCertificatePath { get; init; }

    /// <summary>The client certificate (with its private key) to present, e.g. for SASL EXTERNAL. Default: none.
    /// At most one of this, <see cref="ClientCertificatePath"/> and <see cref="ClientPkcs12Path"/>.</summary>
    public X509Certificate2? ClientCertificate { get; init; }

    /// <summary>A PEM file holding the client certificate (and its key, unless <see cref="ClientKeyPath"/> is given).
    /// URI key: <c>certfile</c>.</summary>
    public string? ClientCertificatePath { get; init; }

    /// <summary>A PEM file holding the unencrypted private key of <see cref="ClientCertificatePath"/>.
    /// URI key: <c>keyfile</c>.</summary>
    public string? ClientKeyPath { get; init; }

    /// <summary>A PKCS#12 (.p12, .pfx) file holding the client certificate and its key.</summary>
    public string? ClientPkcs12Path { get; init; }

    /// <summary>The password of <see cref="ClientPkcs12Path"/>, or <see langword="null"/> for none. Never shown by
    /// <see cref="ToString"/>.</summary>
    public string? ClientPkcs12Password { get; init; }

    /// <summary>Whether to check the revocation of the server's certificates online (CRL or OCSP); default
    /// <see langword="false"/>: not checked.</summary>
    public bool CheckCertificateRevocation { get; init; }

    /// <summary>For special cases: decides on the server's certificate instead of CoolAmqp, given the errors that
    /// validation found (with the custom roots, when set, already applied). Default: none, accept only a certificate
    /// without errors.</summary>
    public RemoteCertificateValidationCallback? RemoteCertificateValidationCallback { get; init; }

    /// <summary>TESTS ONLY: accepts any server certificate, whoever it belongs to and whoever signed it, which lets
    /// anyone between the client and the broker read and change the traffic. URI: <c>verify=verify_none</c>.
    /// Default <see langword="false"/>.</summary>
    public bool DangerousAcceptAnyServerCertificate { get; init; }

    /// <summary>Whether custom roots replace the system's (<see cref="TrustedCertificates"/> or
    /// <see cref="CaCertificatePath"/>).</summary>
    internal bool HasCustomTrust => TrustedCertificates is { Count: > 0 } || CaCertificatePath is not null;

    /// <summary>Whether a client certificate is configured in any of its three forms.</summary>
    internal bool HasClientCertificate =>
        ClientCertificate is not null || ClientCertificatePath is not null || ClientPkcs12Path is not null;

    /// <inheritdoc/>
    public bool Equals(TlsOptions? other)
    {
        if (other is null)
        {
            return false;
        }

        if (ReferenceEquals(this, other))
        {
            return true;
        }

        return EnabledProtocols == other.EnabledProtocols
            && string.Equals(ServerName, other.ServerName, StringComparison.OrdinalIgnoreCase)
            && SameCertificates(TrustedCertificates, other.TrustedCertificates)
            && string.Equals(CaCertificatePath, other.CaCertificatePath, StringComparison.Ordinal)
            && string.Equals(ClientCertificate?.Thumbprint, other.ClientCertificate?.Thumbprint, StringComparison.Ordinal)
            && string.Equals(ClientCertificatePath, other.ClientCertificatePath, StringComparison.Ordinal)
            && string.Equals(ClientKeyPath, other.ClientKeyPath, StringComparison.Ordinal)
            && string.Equals(ClientPkcs12Path, other.ClientPkcs12Path, StringComparison.Ordinal)
            && string.Equals(ClientPkcs12Password, other.ClientPkcs12Password, StringComparison.Ordinal)
            && CheckCertificateRevocation == other.CheckCertificateRevocation
            && Equals(RemoteCertificateValidationCallback, other.RemoteCertificateValidationCallback)
            && DangerousAcceptAnyServerCertificate == other.DangerousAcceptAnyServerCertificate;
    }

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(EnabledProtocols);
        hash.Add(ServerName, StringComparer.OrdinalIgnoreCase);
        hash.Add(TrustedCertificates?.Count ?? 0);
        hash.Add(CaCertificatePath, StringComparer.Ordinal);
        hash.Add(ClientCertificate?.Thumbprint, StringComparer.Ordinal);
        hash.Add(ClientCertificatePath, StringComparer.Ordinal);
        hash.Add(ClientKeyPath, StringComparer.Ordinal);
        hash.Add(ClientPkcs12Path, StringComparer.Ordinal);
        hash.Add(CheckCertificateRevocation);
        hash.Add(DangerousAcceptAnyServerCertificate);
        return hash.ToHashCode();
    }

    // Certificates compare by content (thumbprint), in order: two collections loaded from the same file are equal.
    private static bool SameCertificates(X509Certificate2Collection? a, X509Certificate2Collection? b)
    {
        int count = a?.Count ?? 0;
        if (count != (b?.Count ?? 0))
        {
            return false;
        }

        for (int i = 0; i < count; i++)
        {
            if (!string.Equals(a![i].Thumbprint, b![i].Thumbprint, StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    // Records print every member; this one leaves out the password and shows certificates by subject only.
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append("EnabledProtocols = ").Append(EnabledProtocols);
        Append(builder, nameof(ServerName), ServerName);
        if (TrustedCertificates is { Count: > 0 } trusted)
        {
            builder.Append(", TrustedCertificates = [");
            for (int i = 0; i < trusted.Count; i++)
            {
                builder.Append(i == 0 ? "" : "; ").Append(trusted[i].Subject);
            }

            builder.Append(']');
        }

        Append(builder, nameof(CaCertificatePath), CaCertificatePath);
        Append(builder, nameof(ClientCertificate), ClientCertificate?.Subject);
        Append(builder, nameof(ClientCertificatePath), ClientCertificatePath);
        Append(builder, nameof(ClientKeyPath), ClientKeyPath);
        Append(builder, nameof(ClientPkcs12Path), ClientPkcs12Path);
        Append(builder, nameof(ClientPkcs12Password), ClientPkcs12Password is null ? null : "***");
        builder.Append(", CheckCertificateRevocation = ").Append(CheckCertificateRevocation);
        Append(builder, nameof(RemoteCertificateValidationCallback), RemoteCertificateValidationCallback is null ? null : "set");
        if (DangerousAcceptAnyServerCertificate)
        {
            builder.Append(", DangerousAcceptAnyServerCertificate = True");
        }

        return true;
    }

    private static void Append(StringBuilder builder, string name, string? value)
    {
        if (value is not null)
        {
            builder.Append(", ").Append(name).Append(" = ").Append(value);
        }
    }
}
