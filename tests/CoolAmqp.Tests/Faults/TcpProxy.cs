using System;
using System.Collections.Generic;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;

namespace CoolAmqp.Tests.Faults;

/// <summary>
/// A TCP proxy on 127.0.0.1 (port 0) in front of a real broker: forwards bytes both ways until told to
/// <see cref="Stall"/> (hold everything, as a network that silently stops delivering), <see cref="Resume"/>, or
/// <see cref="CutAll"/> (close every proxied connection on both sides, as a network failure).
/// </summary>
public sealed class TcpProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly string _upstreamHost;
    private readonly int _upstreamPort;
    private readonly object _sync = new();
    private readonly List<Link> _links = [];
    private readonly List<Task> _pumps = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private TaskCompletionSource _flowing = Completed();
    private int _accepted;
    private long _downstreamBudget = -1;

    public TcpProxy(string upstreamHost, int upstreamPort)
    {
        _upstreamHost = upstreamHost;
        _upstreamPort = upstreamPort;
        _listener.Start();
        _accepting = Task.Run(AcceptLoopAsync);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Connections accepted so far.</summary>
    public int Accepted => Volatile.Read(ref _accepted);

    /// <summary>Stops forwarding in both directions; bytes wait (in the proxy and in socket buffers).</summary>
    public void Stall()
    {
        lock (_sync)
        {
            if (_flowing.Task.IsCompleted)
            {
                _flowing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
    }

    /// <summary>Forwards again, starting with what was held.</summary>
    public void Resume()
    {
        lock (_sync)
        {
            _flowing.TrySetResult();
        }
    }

    /// <summary>Forwards exactly <paramref name="bytes"/> more bytes from the broker to the client, then cuts every
    /// connection (RST): a cut at a chosen byte, so inside a frame when frames are larger than what is left.</summary>
    public void CutDownstreamAfter(long bytes) => Interlocked.Exchange(ref _downstreamBudget, bytes);

    /// <summary>Closes every proxied connection on both sides: with RST when <paramref name="reset"/>, else FIN.</summary>
    public void CutAll(bool reset = true)
    {
        Link[] links;
        lock (_sync)
        {
            links = [.. _links];
            _links.Clear();
        }

        foreach (Link link in links)
        {
            link.Close(reset);
        }
    }

    private static TaskCompletionSource Completed()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        done.SetResult();
        return done;
    }

    private Task Flowing()
    {
        lock (_sync)
        {
            return _flowing.Task;
        }
    }

    private async Task AcceptLoopAsync()
    {
        try
        {
            while (true)
            {
                Socket client = await _listener.AcceptSocketAsync(_stop.Token).ConfigureAwait(false);
                Interlocked.Increment(ref _accepted);
                var upstream = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                client.NoDelay = true;
                try
                {
                    await upstream.ConnectAsync(_upstreamHost, _upstreamPort, _stop.Token).ConfigureAwait(false);
                }
                catch (SocketException)
                {
                    client.Close();
                    upstream.Dispose();
                    continue;
                }

                var link = new Link(client, upstream);
                lock (_sync)
                {
                    _links.Add(link);
                }

                lock (_sync)
                {
                    _pumps.Add(Task.Run(() => PumpAsync(link, client, upstream, downstream: false)));
                    _pumps.Add(Task.Run(() => PumpAsync(link, upstream, client, downstream: true)));
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
        {
            // Disposed.
        }
    }

    private async Task PumpAsync(Link link, Socket from, Socket to, bool downstream)
    {
        byte[] buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                int n = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                await Flowing().WaitAsync(_stop.Token).ConfigureAwait(false);
                long budget = downstream ? Interlocked.Read(ref _downstreamBudget) : -1;
                if (budget >= 0)
                {
                    int part = (int)Math.Min(n, budget);
                    await to.SendAsync(buffer.AsMemory(0, part), SocketFlags.None, _stop.Token).ConfigureAwait(false);
                    if (Interlocked.Add(ref _downstreamBudget, -part) <= 0)
                    {
                        Interlocked.Exchange(ref _downstreamBudget, -1);
                        CutAll(reset: true);
                        break;
                    }

                    continue;
                }

                await to.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, _stop.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // Cut, disposed, or the other side went away.
        }

        // One side ended: end the other too, as a real middlebox would.
        lock (_sync)
        {
            _links.Remove(link);
        }

        link.Close(reset: false);
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        Resume();
        CutAll(reset: true);
        await _accepting.ConfigureAwait(false);
        Task[] pumps;
        lock (_sync)
        {
            pumps = [.. _pumps];
        }

        await Task.WhenAll(pumps).ConfigureAwait(false);
        _stop.Dispose();
    }

    private sealed class Link
    {
        private readonly Socket _client;
        private readonly Socket _upstream;
        private int _closed;

        public Link(Socket client, Socket upstream)
        {
            _client = client;
            _upstream = upstream;
        }

        public void Close(bool reset)
        {
            if (Interlocked.Exchange(ref _closed, 1) != 0)
            {
                return;
            }

            foreach (Socket socket in new[] { _client, _upstream })
            {
                try
                {
                    if (reset)
                    {
                        socket.LingerState = new LingerOption(true, 0);
                    }

                    socket.Close();
                }
                catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
                {
                    // Already gone.
                }
            }
        }
    }
}
