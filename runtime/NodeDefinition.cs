using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace CoolAmqp;

/// <summary>
/// Where and how to reach one AMQP broker: host, port, credentials, virtual host and connection tuning.
/// Immutable, with value equality, so it can be a dictionary key.
/// </summary>
/// <remarks>
/// <para>Three ways to build one, as in CoolAMQP:</para>
/// <code>
/// new NodeDefinition(host: "192.168.0.1", user: "admin", password: "password", virtualHost: "vhost");
/// new NodeDefinition("192.168.0.1", "admin", "password");
/// new NodeDefinition("amqp://user:password@host:5672/vhost", heartbeat: 20);   // or NodeDefinition.Parse(uri)
/// </code>
/// <para>
/// A first argument containing <c>://</c> is parsed as an AMQP URI (RabbitMQ's URI specification):
/// <c>amqp://</c> or <c>amqps://</c> (TLS, default port 5671), percent-encoded user, password and virtual host,
/// IPv6 literal hosts in brackets, and the query parameters <c>heartbeat</c> (seconds), <c>frame_max</c>,
/// <c>channel_max</c>, <c>connection_timeout</c> (milliseconds) and <c>auth_mechanism</c> (may repeat); with
/// <c>amqps://</c> also the TLS parameters <c>cacertfile</c>, <c>certfile</c>, <c>keyfile</c> (PEM files),
/// <c>server_name_indication</c> and <c>verify</c> (<c>verify_peer</c>, the default, or <c>verify_none</c>, which sets
/// <see cref="TlsOptions.DangerousAcceptAnyServerCertificate"/>); see <see cref="TlsOptions"/>.
/// A missing, empty (<c>amqp://host/</c>) or <c>%2F</c> path is the virtual host <c>/</c>.
/// Arguments passed explicitly next to a URI take precedence over the URI's values.
/// </para>
/// <para><see cref="ToString"/> never shows the password.</para>
/// </remarks>
public sealed partial class NodeDefinition : IEquatable<NodeDefinition>
{
    /// <summary>The AMQP port used when none is given and TLS is off.</summary>
    public const int DefaultPort = 5672;

    /// <summary>The AMQP-over-TLS port used when none is given and TLS is on.</summary>
    public const int DefaultTlsPort = 5671;

    /// <summary>The user name used when none is given (RabbitMQ's default account).</summary>
    public const string DefaultUser = "guest";

    /// <summary>The password used when none is given (RabbitMQ's default account).</summary>
    public const string DefaultPassword = "guest";

    /// <summary>The virtual host used when none is given.</summary>
    public const string DefaultVirtualHost = "/";

    /// <summary>The SASL mechanism used when none is given.</summary>
    public const string PlainMechanism = "PLAIN";

    /// <summary>How long connecting may take when nothing else is said: 10 seconds, as CoolAMQP's <c>Cluster.start</c>.</summary>
    public static readonly TimeSpan DefaultConnectionTimeout = TimeSpan.FromSeconds(10);

    private static readonly string[] DefaultMechanisms = [PlainMechanism];

    private const uint MinFrameMax = 4096; // AMQP 0-9-1 frame-min-size

    private readonly int? _port;
    private readonly uint _frameMax;
    private readonly IReadOnlyList<string> _authMechanisms = DefaultMechanisms;
    private readonly TimeSpan _connectionTimeout = DefaultConnectionTimeout;
    private readonly TlsOptions? _tls;

    /// <summary>
    /// Defines a node from its parts, or from an AMQP URI given as <paramref name="host"/>.
    /// </summary>
    /// <param name="host">A host name or IP address (an IPv6 address may be in brackets), or an
    /// <c>amqp://</c> / <c>amqps://</c> URI.</param>
    /// <param name="user">User name; default <c>guest</c> (or the URI's).</param>
    /// <param name="password">Password; default <c>guest</c> (or the URI's).</param>
    /// <param name="virtualHost">Virtual host; default <c>/</c> (or the URI's).</param>
    /// <param name="heartbeat">Heartbeat interval in seconds (0 to 65535; 0 disables heartbeats);
    /// default: accept the broker's proposal (or the URI's <c>heartbeat</c>).</param>
    /// <param name="port">TCP port (1 to 65535); default 5672, or 5671 with TLS (or the URI's).</param>
    /// <exception cref="ArgumentException">A value is empty or out of range; the message names it.</exception>
    /// <exception cref="FormatException"><paramref name="host"/> is a URI that does not parse; the message names the bad part.</exception>
    public NodeDefinition(
        string host,
        string? user = null,
        string? password = null,
        string? virtualHost = null,
        int? heartbeat = null,
        int? port = null)
    {
        ArgumentNullException.ThrowIfNull(host);
        if (host.Contains("://", StringComparison.Ordinal))
        {
            UriParts uri = ParseUri(host);
            Host = uri.Host;
            _port = uri.Port;
            User = uri.User ?? DefaultUser;
            Password = uri.Password ?? DefaultPassword;
            VirtualHost = uri.VirtualHost;
            Heartbeat = uri.Heartbeat;
            _tls = uri.Tls;
            _frameMax = uri.FrameMax;
            ChannelMax = uri.ChannelMax;
            if (uri.ConnectionTimeout is { } timeout)
            {
                _connectionTimeout = timeout;
            }

            if (uri.AuthMechanisms is { } mechanisms)
            {
                _authMechanisms = mechanisms;
            }
        }
        else
        {
            Host = NormalizeHost(host);
            User = DefaultUser;
            Password = DefaultPassword;
            VirtualHost = DefaultVirtualHost;
        }

        if (user is not null)
        {
            User = user;
        }

        if (password is not null)
        {
            Password = password;
        }

        if (virtualHost is not null)
        {
            VirtualHost = virtualHost;
        }

        if (heartbeat is { } hb)
        {
            if (hb < 0 || hb > ushort.MaxValue)
            {
                throw new ArgumentOutOfRangeException(nameof(heartbeat), hb, "Heartbeat must be 0 to 65535 seconds.");
            }

            Heartbeat = (ushort)hb;
        }

        if (port is { } p)
        {
            _port = CheckPort(p, nameof(port));
        }
    }

    /// <summary>Host name or IP address to connect to (an IPv6 address without brackets, e.g. <c>::1</c>).</summary>
    public string Host { get; }

    /// <summary>TCP port: the one given, else 5671 with TLS (<see cref="Tls"/> set), else 5672.</summary>
    public int Port => _port ?? (UseTls ? DefaultTlsPort : DefaultPort);

    /// <summary>User name to log in with.</summary>
    public string User { get; }

    /// <summary>Password to log in with. Never shown by <see cref="ToString"/>.</summary>
    public string Password { get; }

    /// <summary>Virtual host to open, e.g. <c>/</c>.</summary>
    public string VirtualHost { get; }

    /// <summary>
    /// Heartbeat interval in seconds that the client asks for in <c>connection.tune-ok</c>; 0 disables heartbeats;
    /// <see langword="null"/> accepts whatever the broker proposes in <c>connection.tune</c>.
    /// </summary>
    public ushort? Heartbeat { get; }

    /// <summary>Whether to connect over TLS (set by the <c>amqps</c> scheme). Changes the default port to 5671.
    /// A shorthand: setting it to <see langword="true"/> sets <see cref="Tls"/> to <see cref="TlsOptions.Default"/>
    /// (unless TLS options were set already), <see langword="false"/> clears <see cref="Tls"/>.</summary>
    public bool UseTls
    {
        get => _tls is not null;
        init => Tls = value ? _tls ?? TlsOptions.Default : null;
    }

    /// <summary>How to connect over TLS, or <see langword="null"/> (the default with <c>amqp://</c>) for a plain
    /// connection. <c>amqps://</c> sets it, to <see cref="TlsOptions.Default"/> or from the URI's TLS parameters.
    /// Changes the default port to 5671.</summary>
    /// <exception cref="ArgumentException">Set to options that contradict themselves (two client certificates, a key
    /// without its certificate).</exception>
    public TlsOptions? Tls
    {
        get => _tls;
        init => _tls = value is null ? null : CheckTls(value);
    }

    /// <summary>Largest frame size (bytes, including frame header and end octet) the client asks for;
    /// 0 (the default) accepts the broker's proposal, or 131,072 (128 KiB) when the broker proposes no limit either, so
    /// inbound frames are always bounded. Otherwise at least 4096, the spec's frame-min-size. Frames larger than what was
    /// negotiated break the connection (a frame error) before they are buffered.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Set to a value from 1 to 4095.</exception>
    public uint FrameMax
    {
        get => _frameMax;
        init
        {
            if (value is > 0 and < MinFrameMax)
            {
                throw new ArgumentOutOfRangeException(nameof(FrameMax), value, "Frame max must be 0 (broker's choice) or at least 4096.");
            }

            _frameMax = value;
        }
    }

    /// <summary>Highest channel number the client asks for; 0 (the default) accepts the broker's proposal.</summary>
    public ushort ChannelMax { get; init; }

    /// <summary>How long opening a connection (TCP, TLS and the AMQP handshake) may take; default 10 seconds.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Set to zero or less (other than <see cref="System.Threading.Timeout.InfiniteTimeSpan"/>).</exception>
    public TimeSpan ConnectionTimeout
    {
        get => _connectionTimeout;
        init
        {
            if (value <= TimeSpan.Zero && value != System.Threading.Timeout.InfiniteTimeSpan)
            {
                throw new ArgumentOutOfRangeException(nameof(ConnectionTimeout), value, "Connection timeout must be positive.");
            }

            _connectionTimeout = value;
        }
    }

    /// <summary>SASL mechanisms the client may use, in order of preference (<c>PLAIN</c>, <c>AMQPLAIN</c>,
    /// <c>EXTERNAL</c>); default <c>PLAIN</c>.</summary>
    /// <exception cref="ArgumentException">Set to an empty list or a list with an unknown mechanism.</exception>
    public IReadOnlyList<string> AuthMechanisms
    {
        get => _authMechanisms;
        init
        {
            ArgumentNullException.ThrowIfNull(value);
            if (value.Count == 0)
            {
                throw new ArgumentException("At least one auth mechanism is needed.", nameof(AuthMechanisms));
            }

            var copy = new string[value.Count];
            for (int i = 0; i < copy.Length; i++)
            {
                copy[i] = CheckMechanism(value[i]) ?? throw new ArgumentException(
                    $"Unknown auth mechanism '{value[i]}'; expected PLAIN, AMQPLAIN or EXTERNAL.", nameof(AuthMechanisms));
            }

            _authMechanisms = copy;
        }
    }

    /// <summary>Parses an AMQP URI such as <c>amqp://user:pass@host:5672/vhost?heartbeat=20</c>.</summary>
    /// <param name="uri">The URI; the scheme must be <c>amqp</c> or <c>amqps</c>.</param>
    /// <returns>The node the URI describes.</returns>
    /// <exception cref="FormatException">The URI does not parse; the message names the bad part.</exception>
    public static NodeDefinition Parse(string uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        if (!uri.Contains("://", StringComparison.Ordinal))
        {
            throw new FormatException($"'{Redact(uri)}' is not an AMQP URI: expected amqp://... or amqps://...");
        }

        return new NodeDefinition(uri);
    }

    /// <summary>Parses a comma-separated list of AMQP URIs, one per node of a cluster, such as
    /// <c>amqp://user:pass@rabbit1/vhost,amqp://user:pass@rabbit2/vhost</c> (blanks around the commas are ignored).</summary>
    /// <param name="uris">The list; each entry as <see cref="Parse"/> takes it.</param>
    /// <returns>The nodes, in the order given.</returns>
    /// <exception cref="FormatException">An entry does not parse, or is empty; the message names which (by position,
    /// the password left out).</exception>
    public static IReadOnlyList<NodeDefinition> ParseList(string uris)
    {
        ArgumentNullException.ThrowIfNull(uris);
        string[] parts = uris.Split(',');
        var nodes = new NodeDefinition[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            string part = parts[i].Trim();
            if (part.Length == 0)
            {
                throw new FormatException($"Entry {i + 1} of the URI list is empty (a comma too many?).");
            }

            try
            {
                nodes[i] = Parse(part);
            }
            catch (Exception ex) when (ex is FormatException or ArgumentException)
            {
                throw new FormatException($"Entry {i + 1} of the URI list: {ex.Message}", ex);
            }
        }

        return nodes;
    }

    /// <summary>Parses an AMQP URI, returning <see langword="false"/> instead of throwing when it is invalid.</summary>
    /// <param name="uri">The URI to parse.</param>
    /// <param name="node">The parsed node, or <see langword="null"/>.</param>
    /// <returns>Whether <paramref name="uri"/> was a valid AMQP URI.</returns>
    public static bool TryParse(string? uri, out NodeDefinition? node)
    {
        node = null;
        if (uri is null)
        {
            return false;
        }

        try
        {
            node = Parse(uri);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>Renders the node as an AMQP URI without the password, e.g. <c>amqp://admin@host:5672/vhost?heartbeat=20</c>.</summary>
    /// <returns>The URI, with the password left out.</returns>
    public override string ToString()
    {
        var sb = new StringBuilder(64);
        sb.Append(UseTls ? "amqps://" : "amqp://");
        AppendEscaped(sb, User);
        sb.Append('@');
        if (Host.Contains(':', StringComparison.Ordinal))
        {
            sb.Append('[').Append(Host.Replace("%", "%25", StringComparison.Ordinal)).Append(']');
        }
        else
        {
            sb.Append(Host);
        }

        sb.Append(':').Append(Port.ToString(CultureInfo.InvariantCulture)).Append('/');
        AppendEscaped(sb, VirtualHost);
        char separator = '?';
        if (Heartbeat is { } hb)
        {
            sb.Append(separator).Append("heartbeat=").Append(hb.ToString(CultureInfo.InvariantCulture));
            separator = '&';
        }

        if (FrameMax != 0)
        {
            sb.Append(separator).Append("frame_max=").Append(FrameMax.ToString(CultureInfo.InvariantCulture));
            separator = '&';
        }

        if (ChannelMax != 0)
        {
            sb.Append(separator).Append("channel_max=").Append(ChannelMax.ToString(CultureInfo.InvariantCulture));
            separator = '&';
        }

        if (ConnectionTimeout != DefaultConnectionTimeout)
        {
            sb.Append(separator).Append("connection_timeout=")
              .Append(((long)ConnectionTimeout.TotalMilliseconds).ToString(CultureInfo.InvariantCulture));
            separator = '&';
        }

        if (AuthMechanisms.Count != 1 || AuthMechanisms[0] != PlainMechanism)
        {
            foreach (string mechanism in AuthMechanisms)
            {
                sb.Append(separator).Append("auth_mechanism=").Append(mechanism);
                separator = '&';
            }
        }

        // The TLS settings a URI can carry; the others (certificate objects, protocols, revocation, a callback) only
        // show in Tls.ToString().
        if (Tls is { } tls)
        {
            AppendParameter(sb, ref separator, "cacertfile", tls.CaCertificatePath);
            AppendParameter(sb, ref separator, "certfile", tls.ClientCertificatePath);
            AppendParameter(sb, ref separator, "keyfile", tls.ClientKeyPath);
            AppendParameter(sb, ref separator, "server_name_indication", tls.ServerName);
            AppendParameter(sb, ref separator, "verify", tls.DangerousAcceptAnyServerCertificate ? "verify_none" : null);
        }

        return sb.ToString();
    }

    /// <inheritdoc/>
    public bool Equals(NodeDefinition? other)
    {
        if (other is null)
        {
            return false;
        }

        if (ReferenceEquals(this, other))
        {
            return true;
        }

        if (!string.Equals(Host, other.Host, StringComparison.OrdinalIgnoreCase)
            || Port != other.Port
            || !string.Equals(User, other.User, StringComparison.Ordinal)
            || !string.Equals(Password, other.Password, StringComparison.Ordinal)
            || !string.Equals(VirtualHost, other.VirtualHost, StringComparison.Ordinal)
            || Heartbeat != other.Heartbeat
            || !Equals(Tls, other.Tls)
            || FrameMax != other.FrameMax
            || ChannelMax != other.ChannelMax
            || ConnectionTimeout != other.ConnectionTimeout
            || AuthMechanisms.Count != other.AuthMechanisms.Count)
        {
            return false;
        }

        for (int i = 0; i < AuthMechanisms.Count; i++)
        {
            if (!string.Equals(AuthMechanisms[i], other.AuthMechanisms[i], StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as NodeDefinition);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Host, StringComparer.OrdinalIgnoreCase);
        hash.Add(Port);
        hash.Add(User, StringComparer.Ordinal);
        hash.Add(Password, StringComparer.Ordinal);
        hash.Add(VirtualHost, StringComparer.Ordinal);
        hash.Add(Heartbeat);
        hash.Add(Tls);
        hash.Add(FrameMax);
        hash.Add(ChannelMax);
        hash.Add(ConnectionTimeout);
        foreach (string mechanism in AuthMechanisms)
        {
            hash.Add(mechanism, StringComparer.Ordinal);
        }

        return hash.ToHashCode();
    }

    /// <summary>Value equality.</summary>
    /// <param name="left">One node.</param>
    /// <param name="right">The other node.</param>
    /// <returns>Whether both describe the same node with the same settings.</returns>
    public static bool operator ==(NodeDefinition? left, NodeDefinition? right) =>
        left is null ? right is null : left.Equals(right);

    /// <summary>Value inequality.</summary>
    /// <param name="left">One node.</param>
    /// <param name="right">The other node.</param>
    /// <returns>Whether the nodes differ in any setting.</returns>
    public static bool operator !=(NodeDefinition? left, NodeDefinition? right) => !(left == right);

    private static TlsOptions CheckTls(TlsOptions tls)
    {
        int clientCertificates = (tls.ClientCertificate is null ? 0 : 1) + (tls.ClientCertificatePath is null ? 0 : 1)
            + (tls.ClientPkcs12Path is null ? 0 : 1);
        if (clientCertificates > 1)
        {
            throw new ArgumentException(
                "TLS options: give at most one of ClientCertificate, ClientCertificatePath and ClientPkcs12Path.", nameof(tls));
        }

        if (tls.ClientKeyPath is not null && tls.ClientCertificatePath is null)
        {
            throw new ArgumentException("TLS options: ClientKeyPath needs ClientCertificatePath.", nameof(tls));
        }

        if (tls.ClientCertificate is { HasPrivateKey: false })
        {
            throw new ArgumentException("TLS options: ClientCertificate has no private key.", nameof(tls));
        }

        return tls;
    }
}
