using System;
using System.Collections.Concurrent;
using System.IO;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Threading;
using System.Threading.Tasks;

namespace CoolAmqp.Tests.Tls;

/// <summary>
/// A TLS server on a real socket (any address, a free port) for what the broker cannot serve: a certificate for
/// another name, an expired one, one from an untrusted CA; or, with no certificate, a listener that accepts TCP
/// connections and then says nothing (a handshake that stalls). It never speaks AMQP.
/// </summary>
internal sealed class TlsTestServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly X509Certificate2? _certificate;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentBag<Socket> _clients = new();
    private readonly Task _accepting;
    private int _completedHandshakes;

    private TlsTestServer(X509Certificate2? certificate)
    {
        _certificate = certificate;
        _listener = TcpListener.Create(0);
        _listener.Start();
        _accepting = AcceptLoopAsync();
    }

    /// <summary>The port it listens on.</summary>
    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>How many clients took the certificate and completed the handshake.</summary>
    public int CompletedHandshakes => Volatile.Read(ref _completedHandshakes);

    /// <summary>A server that presents <paramref name="certificate"/>.pem with its key from the test certificates.</summary>
    public static TlsTestServer Serving(string certificate) =>
        new(X509Certificate2.CreateFromPemFile(TlsBroker.Cert(certificate + ".pem"), TlsBroker.Cert(certificate + ".key")));

    /// <summary>A server that accepts TCP connections and never answers.</summary>
    public static TlsTestServer Stalling() => new(null);

    /// <summary>amqps:// to this server as localhost, trusting the test CA.</summary>
    public NodeDefinition Node(TlsOptions? tls = null) =>
        new($"amqps://guest:guest@localhost:{Port}/") { Tls = tls ?? TlsBroker.Trusting() };

    private async Task AcceptLoopAsync()
    {
        try
        {
            while (true)
            {
                Socket client = await _listener.AcceptSocketAsync(_stop.Token);
                _clients.Add(client);
                if (_certificate is not null)
                {
                    _ = HandshakeAsync(client);
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
        {
            // Stopped.
        }
    }

    private async Task HandshakeAsync(Socket client)
    {
        try
        {
            await using var ssl = new SslStream(new NetworkStream(client, ownsSocket: false));
            await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = _certificate },
                _stop.Token);
            // The client took the certificate. This server speaks no AMQP: it closes, and the client fails at once.
            Interlocked.Increment(ref _completedHandshakes);
        }
        catch (Exception ex) when (ex is IOException or System.Security.Authentication.AuthenticationException
                                       or OperationCanceledException or ObjectDisposedException or SocketException)
        {
            // The client refused the certificate (what the tests want) or went away.
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        await _accepting;
        foreach (Socket client in _clients)
        {
            client.Dispose();
        }

        _certificate?.Dispose();
        _stop.Dispose();
    }
}
