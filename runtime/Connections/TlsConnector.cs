using System;
using System.ComponentModel;
using System.Globalization;
using System.IO;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Threading;

namespace CoolAmqp.Connections;

/// <summary>
/// The TLS handshake of one connection attempt: builds the client options from <see cref="TlsOptions"/>, validates
/// the server's certificate (recording what was wrong with it) and turns every failure into a
/// <see cref="TlsHandshakeException"/> that says why.
/// </summary>
internal sealed partial class TlsConnector
{
    private readonly TlsOptions _options;
    private readonly string _server;
    private readonly string _serverName;
    private bool _sentClientCertificate;

    // What the validation callback saw; read after the handshake failed (same thread).
    private bool _validated;
    private SslPolicyErrors _policyErrors;
    private X509ChainStatusFlags _chainStatus;
    private string? _certificateSubject;
    private DateTime _certificateNotAfter;

    public TlsConnector(TlsOptions options, string host, int port)
    {
        _options = options;
        _server = host.Contains(':', StringComparison.Ordinal)
            ? $"[{host}]:{port.ToString(CultureInfo.InvariantCulture)}"
            : $"{host}:{port.ToString(CultureInfo.InvariantCulture)}";
        _serverName = options.ServerName ?? host;
    }

    /// <summary>Runs the handshake over <paramref name="network"/>, blocking (the socket stays in blocking mode; see
    /// the caller). <paramref name="cancellationToken"/> is the connect deadline: the caller disposes the socket
    /// when it fires, which ends a stalled handshake here.</summary>
    /// <exception cref="TlsHandshakeException">The handshake failed, or did not finish in time.</exception>
    public SslStream Authenticate(NetworkStream network, CancellationToken cancellationToken)
    {
#if NETSTANDARD2_0
        ClientSetup setup = BuildSetup();
        var recorder = new FirstBytesStream(network);
        var ssl = new SslStream(recorder, leaveInnerStreamOpen: false, ValidateWithCustomTrust, setup.SelectClientCertificate);
        try
        {
            ssl.AuthenticateAsClient(_serverName, setup.ClientCertificates, _options.EnabledProtocols,
                _options.CheckCertificateRevocation);
#else
        SslClientAuthenticationOptions authentication = BuildOptions();
        var recorder = new FirstBytesStream(network);
        var ssl = new SslStream(recorder, leaveInnerStreamOpen: false);
        try
        {
            ssl.AuthenticateAsClient(authentication);
#endif
            recorder.StopRecording();
            return ssl;
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException or ObjectDisposedException
                                       or SocketException or Win32Exception)
        {
            ssl.Dispose();
            if (cancellationToken.IsCancellationRequested)
            {
                throw new TlsHandshakeException(TlsFailureReason.HandshakeTimeout, _server,
                    $"The TLS handshake with {_server} did not finish within the connection timeout (the server accepted " +
                    "the TCP connection and then stalled).", SslPolicyErrors.None, X509ChainStatusFlags.NoError,
                    new TimeoutException("The TLS handshake did not finish in time.", ex));
            }

            throw Classify(ex, recorder.FirstBytes);
        }
    }

    /// <summary>A read that failed before the broker's first frame, right after a handshake that succeeded: with TLS
    /// 1.3 the server checks the client's certificate after the client has finished, so its refusal comes as an alert
    /// on the first read. Null when <paramref name="error"/> is not such a refusal.</summary>
    public TlsHandshakeException? RefusalAfterHandshake(Exception error) =>
        IsCertificateAlert(error) ? ClientCertificateRefused(error) : null;

#if !NETSTANDARD2_0
    private SslClientAuthenticationOptions BuildOptions()
    {
        var policy = new X509ChainPolicy
        {
            RevocationMode = _options.CheckCertificateRevocation ? X509RevocationMode.Online : X509RevocationMode.NoCheck,
        };
        X509Certificate2? client;
        try
        {
            if (_options.HasCustomTrust)
            {
                // Only these roots: the machine's store is neither consulted nor changed.
                policy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                if (_options.TrustedCertificates is { } trusted)
                {
                    policy.CustomTrustStore.AddRange(trusted);
                }

                if (_options.CaCertificatePath is { } path)
                {
                    var fromFile = new X509Certificate2Collection();
                    fromFile.ImportFromPemFile(path);
                    if (fromFile.Count == 0)
                    {
                        throw new CryptographicException($"'{path}' holds no PEM certificate.");
                    }

                    policy.CustomTrustStore.AddRange(fromFile);
                }
            }

            client = LoadClientCertificate();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException)
        {
            throw new TlsHandshakeException(TlsFailureReason.Other, _server,
                $"Could not set up TLS for {_server}: {ex.Message}", SslPolicyErrors.None, X509ChainStatusFlags.NoError, ex);
        }

        _sentClientCertificate = client is not null;
        return new SslClientAuthenticationOptions
        {
            TargetHost = _serverName,
            EnabledSslProtocols = _options.EnabledProtocols,
            CertificateChainPolicy = policy,
            RemoteCertificateValidationCallback = Validate,
            // A context (not ClientCertificates) is sent whatever CAs the server names as acceptable: a refusal must
            // come from the server, so that it is seen and reported.
            ClientCertificateContext = client is null ? null : SslStreamCertificateContext.Create(client, null, offline: true),
        };
    }

    private X509Certificate2? LoadClientCertificate()
    {
        if (_options.ClientCertificate is { } given)
        {
            return given;
        }

        if (_options.ClientCertificatePath is { } certPath)
        {
            return X509Certificate2.CreateFromPemFile(certPath, _options.ClientKeyPath);
        }

        if (_options.ClientPkcs12Path is { } pkcs12)
        {
            return X509CertificateLoader.LoadPkcs12FromFile(pkcs12, _options.ClientPkcs12Password);
        }

        return null;
    }
#endif

    private bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        _validated = true;
        _policyErrors = errors;
        _chainStatus = X509ChainStatusFlags.NoError;
        if (chain is not null)
        {
            foreach (X509ChainStatus status in chain.ChainStatus)
            {
                _chainStatus |= status.Status;
            }
        }

        if (certificate is not null)
        {
            _certificateSubject = certificate.Subject;
            _certificateNotAfter = certificate is X509Certificate2 c2 ? c2.NotAfter : default;
        }

        if (_options.DangerousAcceptAnyServerCertificate)
        {
            return true;
        }

        return _options.RemoteCertificateValidationCallback is { } custom
            ? custom(sender, certificate, chain, errors)
            : errors == SslPolicyErrors.None;
    }

    private TlsHandshakeException Classify(Exception error, ReadOnlySpan<byte> firstBytes)
    {
        if (_validated && _policyErrors != SslPolicyErrors.None && !_options.DangerousAcceptAnyServerCertificate)
        {
            return CertificateRefused(error);
        }

        // TLS records start with a content type of 20 to 23; anything else is not a TLS server talking.
        if (firstBytes.Length > 0 && firstBytes[0] is < 20 or > 23)
        {
            bool amqp = firstBytes.StartsWith("AMQP"u8);
            return Fail(TlsFailureReason.NotTls,
                $"{_server} does not speak TLS: it answered the TLS hello with " +
                (amqp ? "an AMQP protocol header (a plain AMQP port? use amqp:// or the TLS port, usually 5671)." :
                    $"bytes that are not TLS ({Convert.ToHexString(firstBytes)})."),
                error);
        }

        if (IsCertificateAlert(error))
        {
            return ClientCertificateRefused(error);
        }

        return Fail(TlsFailureReason.Other,
            $"The TLS handshake with {_server} failed: {Innermost(error)}", error);
    }

    private TlsHandshakeException CertificateRefused(Exception error)
    {
        string subject = _certificateSubject ?? "(none)";
        string chain = _chainStatus == X509ChainStatusFlags.NoError ? "" : $" (chain status: {_chainStatus})";
        if ((_policyErrors & SslPolicyErrors.RemoteCertificateChainErrors) != 0)
        {
            if ((_chainStatus & X509ChainStatusFlags.NotTimeValid) != 0)
            {
                return Fail(TlsFailureReason.Expired,
                    $"The TLS certificate of {_server} ({subject}) is expired or not yet valid (not after " +
                    $"{_certificateNotAfter.ToUniversalTime().ToString("u", CultureInfo.InvariantCulture)}){chain}.", error);
            }

            if ((_chainStatus & (X509ChainStatusFlags.UntrustedRoot | X509ChainStatusFlags.PartialChain)) != 0)
            {
                return Fail(TlsFailureReason.UntrustedRoot,
                    $"The TLS certificate of {_server} ({subject}) is not signed by a trusted CA{chain}" +
                    (_options.HasCustomTrust ? " (trusted: the CAs of the node's TLS options)." : " (trusted: the system's CAs)."),
                    error);
            }

            return Fail(TlsFailureReason.Other,
                $"The TLS certificate of {_server} ({subject}) was refused: {_policyErrors}{chain}.", error);
        }

        if ((_policyErrors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
        {
            return Fail(TlsFailureReason.NameMismatch,
                $"The TLS certificate of {_server} ({subject}) is not for '{_serverName}'.", error);
        }

        return Fail(TlsFailureReason.Other, $"The TLS certificate of {_server} was refused: {_policyErrors}.", error);
    }

    private TlsHandshakeException ClientCertificateRefused(Exception error) => Fail(TlsFailureReason.ClientCertificateRefused,
        _sentClientCertificate
            ? $"{_server} refused the client certificate: {Innermost(error)}"
            : $"{_server} wants a client certificate and none is configured (TlsOptions.ClientCertificate...): {Innermost(error)}",
        error);

    private TlsHandshakeException Fail(TlsFailureReason reason, string message, Exception error) =>
        new(reason, _server, message, _policyErrors, _chainStatus, error);

    /// <summary>Whether the failure is the server's TLS alert about the client's certificate (as OpenSSL words it:
    /// "tlsv1 alert unknown ca", "sslv3 alert bad certificate", "tlsv13 alert certificate required", ...).</summary>
    private static bool IsCertificateAlert(Exception error)
    {
        for (Exception? e = error; e is not null; e = e.InnerException)
        {
            string text = e.Message;
            if (text.Contains("alert unknown ca", StringComparison.OrdinalIgnoreCase)
                || text.Contains("alert bad certificate", StringComparison.OrdinalIgnoreCase)
                || text.Contains("alert certificate", StringComparison.OrdinalIgnoreCase)
                || text.Contains("alert unsupported certificate", StringComparison.OrdinalIgnoreCase)
                || text.Contains("alert access denied", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private static string Innermost(Exception error)
    {
        Exception e = error;
        while (e.InnerException is not null)
        {
            e = e.InnerException;
        }

        return ReferenceEquals(e, error) ? error.Message : $"{error.Message} ({e.Message})";
    }

    /// <summary>Passes everything through; until told to stop, keeps the first bytes the peer sent, so that a failed
    /// handshake can tell a server that does not speak TLS from one that does.</summary>
    private sealed class FirstBytesStream : Stream
    {
        private readonly Stream _inner;
        private readonly byte[] _first = new byte[8];
        private int _count;
        private bool _recording = true;

        public FirstBytesStream(Stream inner) => _inner = inner;

        public ReadOnlySpan<byte> FirstBytes => _first.AsSpan(0, _count);

        public void StopRecording() => _recording = false;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

#if NETSTANDARD2_0
        // netstandard2.0's Stream has no span members: SslStream calls the array ones, which end up here alike.
        public int Read(Span<byte> buffer)
#else
        public override int Read(Span<byte> buffer)
#endif
        {
            int read = _inner.Read(buffer);
            if (_recording && _count < _first.Length && read > 0)
            {
                int keep = Math.Min(read, _first.Length - _count);
                buffer.Slice(0, keep).CopyTo(_first.AsSpan(_count));
                _count += keep;
            }

            return read;
        }

#if NETSTANDARD2_0
        public override System.Threading.Tasks.Task<int> ReadAsync(byte[] buffer, int offset, int count,
            CancellationToken cancellationToken) =>
            _inner.ReadAsync(buffer, offset, count, cancellationToken);

        public override System.Threading.Tasks.Task WriteAsync(byte[] buffer, int offset, int count,
            CancellationToken cancellationToken) =>
            _inner.WriteAsync(buffer, offset, count, cancellationToken);

        public override void Write(byte[] buffer, int offset, int count) => _inner.Write(buffer, offset, count);
#else
        public override System.Threading.Tasks.ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            // Asynchronous reads happen only after the handshake (the handshake is synchronous): nothing to record.
            return _inner.ReadAsync(buffer, cancellationToken);
        }

        public override System.Threading.Tasks.ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            _inner.WriteAsync(buffer, cancellationToken);

        public override void Write(byte[] buffer, int offset, int count) => _inner.Write(buffer, offset, count);

        public override void Write(ReadOnlySpan<byte> buffer) => _inner.Write(buffer);
#endif

        public override void Flush() => _inner.Flush();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
