using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace CoolAmqp;

// The AMQP URI: parsing it (with its query parameters and percent-escapes), the checks on what it gives, and the
// helpers ToString uses to write one back.
public sealed partial class NodeDefinition
{
    private static void AppendParameter(StringBuilder sb, ref char separator, string key, string? value)
    {
        if (value is not null)
        {
            sb.Append(separator).Append(key).Append('=');
            AppendEscaped(sb, value);
            separator = '&';
        }
    }

    private sealed class UriParts
    {
        public bool UseTls;
        public TlsOptions? Tls;
        public string? CaCertFile;
        public string? CertFile;
        public string? KeyFile;
        public string? ServerNameIndication;
        public bool VerifyNone;
        public bool AnyTlsParameter;
        public string? User;
        public string? Password;
        public string Host = "localhost";
        public int? Port;
        public string VirtualHost = DefaultVirtualHost;
        public ushort? Heartbeat;
        public uint FrameMax;
        public ushort ChannelMax;
        public TimeSpan? ConnectionTimeout;
        public List<string>? AuthMechanisms;
    }

    private static UriParts ParseUri(string text)
    {
        var parts = new UriParts();
        int schemeEnd = text.IndexOf("://", StringComparison.Ordinal);
        string scheme = text.Substring(0, schemeEnd);
        if (scheme.Equals("amqp", StringComparison.OrdinalIgnoreCase))
        {
            parts.UseTls = false;
        }
        else if (scheme.Equals("amqps", StringComparison.OrdinalIgnoreCase))
        {
            parts.UseTls = true;
        }
        else
        {
            throw new FormatException($"Bad scheme '{scheme}' in AMQP URI: expected 'amqp' or 'amqps'.");
        }

        string rest = text.Substring(schemeEnd + 3);
        if (rest.Contains('#', StringComparison.Ordinal))
        {
            throw new FormatException("An AMQP URI cannot have a fragment ('#'); percent-encode '#' as %23.");
        }

        string? query = null;
        int queryStart = rest.IndexOf('?', StringComparison.Ordinal);
        if (queryStart >= 0)
        {
            query = rest.Substring(queryStart + 1);
            rest = rest.Substring(0, queryStart);
        }

        string authority = rest;
        int pathStart = rest.IndexOf('/', StringComparison.Ordinal);
        if (pathStart >= 0)
        {
            authority = rest.Substring(0, pathStart);
            string path = rest.Substring(pathStart + 1);
            if (path.Contains('/', StringComparison.Ordinal))
            {
                throw new FormatException(
                    $"Bad virtual host '{path}' in AMQP URI: it must be a single path segment; percent-encode '/' as %2F.");
            }

            parts.VirtualHost = path.Length == 0 ? DefaultVirtualHost : Decode(path, "virtual host");
        }

        // The password may itself contain an unescaped '@' in sloppy URIs, so split on the last one.
        int at = authority.LastIndexOf('@');
        string hostPort = authority;
        if (at >= 0)
        {
            string userInfo = authority.Substring(0, at);
            hostPort = authority.Substring(at + 1);
            int colon = userInfo.IndexOf(':', StringComparison.Ordinal);
            if (colon >= 0)
            {
                parts.User = Decode(userInfo.Substring(0, colon), "user");
                parts.Password = Decode(userInfo.Substring(colon + 1), "password");
            }
            else
            {
                parts.User = Decode(userInfo, "user");
            }
        }

        ParseHostPort(hostPort, parts);
        if (query is not null)
        {
            ParseQuery(query, parts);
        }

        if (parts.AnyTlsParameter && !parts.UseTls)
        {
            throw new FormatException(
                "The TLS parameters (cacertfile, certfile, keyfile, server_name_indication, verify) need an amqps:// URI.");
        }

        if (parts.UseTls)
        {
            if (parts.KeyFile is not null && parts.CertFile is null)
            {
                throw new FormatException("Bad AMQP URI: keyfile needs certfile.");
            }

            parts.Tls = parts.AnyTlsParameter
                ? new TlsOptions
                {
                    CaCertificatePath = parts.CaCertFile,
                    ClientCertificatePath = parts.CertFile,
                    ClientKeyPath = parts.KeyFile,
                    ServerName = parts.ServerNameIndication,
                    DangerousAcceptAnyServerCertificate = parts.VerifyNone,
                }
                : TlsOptions.Default;
        }

        return parts;
    }

    private static void ParseHostPort(string hostPort, UriParts parts)
    {
        string host;
        string? port = null;
        if (hostPort.StartsWith('['))
        {
            int close = hostPort.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                throw new FormatException($"Bad host '{hostPort}' in AMQP URI: '[' without a closing ']'.");
            }

            host = Decode(hostPort.Substring(1, close - 1), "host");
            string after = hostPort.Substring(close + 1);
            if (after.Length > 0)
            {
                if (after[0] != ':')
                {
                    throw new FormatException($"Bad host '{hostPort}' in AMQP URI: unexpected '{after}' after the IPv6 address.");
                }

                port = after.Substring(1);
            }

            if (host.Length == 0 || !host.Contains(':', StringComparison.Ordinal))
            {
                throw new FormatException($"Bad host '{hostPort}' in AMQP URI: '[...]' must hold an IPv6 address.");
            }
        }
        else
        {
            int colon = hostPort.IndexOf(':', StringComparison.Ordinal);
            if (colon >= 0)
            {
                host = hostPort.Substring(0, colon);
                port = hostPort.Substring(colon + 1);
            }
            else
            {
                host = hostPort;
            }

            host = Decode(host, "host");
        }

        if (host.Length > 0)
        {
            parts.Host = host;
        }

        // A pattern, not string.IsNullOrEmpty: netstandard2.0's has no nullability annotation.
        if (port is { Length: > 0 })
        {
            if (!IsDigits(port)
                || !int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out int value)
                || value < 1 || value > 65535)
            {
                throw new FormatException($"Bad port '{port}' in AMQP URI: expected a number from 1 to 65535.");
            }

            parts.Port = value;
        }
    }

    private static void ParseQuery(string query, UriParts parts)
    {
        foreach (string pair in query.Split('&'))
        {
            if (pair.Length == 0)
            {
                continue;
            }

            int eq = pair.IndexOf('=', StringComparison.Ordinal);
            string key = Decode(eq < 0 ? pair : pair.Substring(0, eq), "query key");
            string value = eq < 0 ? string.Empty : Decode(pair.Substring(eq + 1), "query value");
            switch (key)
            {
                case "heartbeat":
                    parts.Heartbeat = (ushort)ParseNumber(key, value, ushort.MaxValue, "seconds");
                    break;
                case "frame_max":
                    parts.FrameMax = (uint)ParseNumber(key, value, uint.MaxValue, "bytes");
                    if (parts.FrameMax is > 0 and < MinFrameMax)
                    {
                        throw new FormatException($"Bad frame_max '{value}' in AMQP URI: expected 0 or at least 4096 bytes.");
                    }

                    break;
                case "channel_max":
                    parts.ChannelMax = (ushort)ParseNumber(key, value, ushort.MaxValue, "channels");
                    break;
                case "connection_timeout":
                    ulong ms = ParseNumber(key, value, int.MaxValue, "milliseconds");
                    if (ms == 0)
                    {
                        throw new FormatException("Bad connection_timeout '0' in AMQP URI: expected a positive number of milliseconds.");
                    }

                    parts.ConnectionTimeout = TimeSpan.FromMilliseconds(ms);
                    break;
                case "auth_mechanism":
                    string mechanism = CheckMechanism(value) ?? throw new FormatException(
                        $"Bad auth_mechanism '{value}' in AMQP URI: expected PLAIN, AMQPLAIN or EXTERNAL.");
                    parts.AuthMechanisms ??= new List<string>(2);
                    parts.AuthMechanisms.Add(mechanism);
                    break;
                case "cacertfile":
                    parts.CaCertFile = RequireValue(key, value);
                    parts.AnyTlsParameter = true;
                    break;
                case "certfile":
                    parts.CertFile = RequireValue(key, value);
                    parts.AnyTlsParameter = true;
                    break;
                case "keyfile":
                    parts.KeyFile = RequireValue(key, value);
                    parts.AnyTlsParameter = true;
                    break;
                case "server_name_indication":
                    parts.ServerNameIndication = RequireValue(key, value);
                    parts.AnyTlsParameter = true;
                    break;
                case "verify":
                    parts.VerifyNone = value switch
                    {
                        "verify_peer" => false,
                        "verify_none" => true,
                        _ => throw new FormatException($"Bad verify '{value}' in AMQP URI: expected verify_peer or verify_none."),
                    };
                    parts.AnyTlsParameter = true;
                    break;
                default:
                    throw new FormatException(
                        $"Unknown query parameter '{key}' in AMQP URI: expected heartbeat, frame_max, channel_max, connection_timeout, " +
                        "auth_mechanism, or (amqps) cacertfile, certfile, keyfile, server_name_indication, verify.");
            }
        }
    }

    private static string RequireValue(string key, string value) => value.Length > 0
        ? value
        : throw new FormatException($"Bad {key} in AMQP URI: it needs a value.");

    private static ulong ParseNumber(string key, string value, ulong max, string unit)
    {
        if (!IsDigits(value)
            || !ulong.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out ulong number)
            || number > max)
        {
            throw new FormatException(
                $"Bad {key} '{value}' in AMQP URI: expected a whole number of {unit} from 0 to {max.ToString(CultureInfo.InvariantCulture)}.");
        }

        return number;
    }

    private static bool IsDigits(string value)
    {
        if (value.Length == 0)
        {
            return false;
        }

        foreach (char c in value)
        {
            if (c < '0' || c > '9')
            {
                return false;
            }
        }

        return true;
    }

    private static string? CheckMechanism(string? mechanism)
    {
        if (mechanism is null)
        {
            return null;
        }

        if (mechanism.Equals("PLAIN", StringComparison.OrdinalIgnoreCase))
        {
            return "PLAIN";
        }

        if (mechanism.Equals("AMQPLAIN", StringComparison.OrdinalIgnoreCase))
        {
            return "AMQPLAIN";
        }

        if (mechanism.Equals("EXTERNAL", StringComparison.OrdinalIgnoreCase))
        {
            return "EXTERNAL";
        }

        return null;
    }

    private static int CheckPort(int port, string paramName)
    {
        if (port < 1 || port > 65535)
        {
            throw new ArgumentOutOfRangeException(paramName, port, "Port must be 1 to 65535.");
        }

        return port;
    }

    private static string NormalizeHost(string host)
    {
        if (host.Length == 0)
        {
            throw new ArgumentException("Host must not be empty.", nameof(host));
        }

        // Accept "[::1]" as well as "::1" for an IPv6 literal.
        if (host.Length > 2 && host[0] == '[' && host[^1] == ']')
        {
            return host.Substring(1, host.Length - 2);
        }

        return host;
    }

    /// <summary>Percent-decodes one URI component as UTF-8, refusing malformed escapes.</summary>
    private static string Decode(string component, string part)
    {
        if (!component.Contains('%', StringComparison.Ordinal))
        {
            return component;
        }

        var bytes = new List<byte>(component.Length);
        Span<byte> one = stackalloc byte[4];
        for (int i = 0; i < component.Length; i++)
        {
            char c = component[i];
            if (c == '%')
            {
                if (i + 2 >= component.Length || !IsHex(component[i + 1]) || !IsHex(component[i + 2]))
                {
                    throw new FormatException($"Bad percent-escape in the {part} of an AMQP URI: '%' must be followed by two hex digits.");
                }

                bytes.Add((byte)((HexValue(component[i + 1]) << 4) | HexValue(component[i + 2])));
                i += 2;
            }
            else
            {
                int n = Encoding.UTF8.GetBytes(component.AsSpan(i, char.IsHighSurrogate(c) && i + 1 < component.Length ? 2 : 1), one);
                if (n > 0 && char.IsHighSurrogate(c) && i + 1 < component.Length)
                {
                    i++;
                }

                for (int k = 0; k < n; k++)
                {
                    bytes.Add(one[k]);
                }
            }
        }

        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes.ToArray());
        }
        catch (DecoderFallbackException e)
        {
            throw new FormatException($"Bad percent-escape in the {part} of an AMQP URI: the bytes are not valid UTF-8.", e);
        }
    }

    private static bool IsHex(char c) => c is (>= '0' and <= '9') or (>= 'a' and <= 'f') or (>= 'A' and <= 'F');

    private static int HexValue(char c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;

    private static void AppendEscaped(StringBuilder sb, string value) => sb.Append(Uri.EscapeDataString(value));

    /// <summary>Hides a password-looking part of a string that failed to parse, for error messages.</summary>
    private static string Redact(string text)
    {
        int at = text.LastIndexOf('@');
        int colon = at > 0 ? text.LastIndexOf(':', at - 1) : -1;
        int slashes = text.IndexOf("//", StringComparison.Ordinal);
        return colon > slashes && colon >= 0 && at > colon ? string.Concat(text.AsSpan(0, colon + 1), "***", text.AsSpan(at)) : text;
    }
}
