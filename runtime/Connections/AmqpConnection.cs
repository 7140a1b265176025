using System;
using System.Collections.Generic;
using System.Buffers;
using System.IO;
using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Threading;
using System.Threading.Tasks;
using CoolAmqp.Channels;
using CoolAmqp.Framing;
using CoolAmqp.Tracing;
using Microsoft.Extensions.Logging;

namespace CoolAmqp.Connections;

/// <summary>
/// One AMQP connection to one node: socket, read loop, frame writer, handshake, heartbeats and the channel
/// table. Every failure leaves through <see cref="Break"/>, which fails everything pending on the connection
/// and raises <see cref="Terminated"/> so that the owner (the cluster) can recover.
/// </summary>
/// <remarks>Protocol reading and writing live in the framing layer; this class only keeps connection state.</remarks>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001:Types that own disposable fields should be disposable",
    Justification = "The lifetime token source has no timer; it is cancelled on termination and needs no disposal.")]
internal sealed partial class AmqpConnection : IOutboundFrameObserver
{
    private readonly object _stateSync = new();
    private readonly ConnectionSettings _settings;
    private TaskCompletionSource? _unblocked;
    private readonly ILogger _logger;
    private readonly IFrameTracer? _tracer;
    private readonly FrameWriter _writer;
    private readonly ChannelTable _channels = new();

    // Channels that completed a delivery during the current read batch (read loop only): their handlers hear
    // OnDeliveriesFlushed once the batch is parsed, so a consumer's dispatcher is woken once per batch.
    private DeliveryBatch _batch = new(0);

    // What the thread holding the reading role reads with (ReaderHandoff moves the role between threads).
    private Pipe? _pipe;
    private ReaderHandoff? _reading;
    private bool _firstReadDone;
    private readonly CancellationTokenSource _lifetime = new();
    private readonly TaskCompletionSource _opened = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _closeOk = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ConnectionState _state = ConnectionState.Created;
    private Exception? _failure;
    private Stream? _stream;
    private Socket? _socket;
    private TlsConnector? _tls;
    private Exception? _peerClose;
    private uint _inboundFrameMax = AmqpLimits.PreTuneInboundFrameMax;
    private long _lastReadTicks = Environment.TickCount64;
    private byte[]? _scratch;

    // Reads land in pooled 64 KiB segments, at least 16 KiB free per read, so a burst arrives in few reads.
    private const int ReadSegmentSize = 64 * 1024;
    private const int MinimumReadSize = 16 * 1024;

    private static long s_lastId;

    // Telemetry: bytes read (read loop only), and when the broker blocked this connection (0: not blocked).
    private long _receivedTotal;
    private long _blockedSince;

    public AmqpConnection(ConnectionSettings settings, ILogger logger)
    {
        Id = Interlocked.Increment(ref s_lastId);
        _settings = settings;
        _logger = logger;
        _tracer = settings.FrameTracer;
        _writer = new FrameWriter(AmqpLimits.WriteHighWater, OnWriterFault, _tracer is null ? null : this);
        Continuations = new ContinuationThread($"CoolAmqp continuations {settings.Host}:{settings.Port}");
        BoxedPort = settings.Port;
    }

    /// <summary>The broker's port, boxed once for metric tags.</summary>
    internal object BoxedPort { get; }

    /// <summary>Bytes read from the socket so far.</summary>
    internal long ReceivedTotal => Volatile.Read(ref _receivedTotal);

    /// <summary>Open channels.</summary>
    internal int ChannelCount => _channels.Count;

    /// <summary>Raised once when the connection ends: the reason, and whether it was closed on request.</summary>
    public event Action<AmqpConnection, Exception, bool>? Terminated;

    /// <summary>A number that tells this connection from every other of the process (never 0).</summary>
    public long Id { get; }

    /// <summary>Runs the continuations of what the read loop completes (publisher confirms).</summary>
    public ContinuationThread Continuations { get; }

    /// <summary>Cancelled when the connection ends.</summary>
    public CancellationToken Lifetime => _lifetime.Token;

    /// <summary>What the connection was created with.</summary>
    public ConnectionSettings Settings => _settings;

    /// <summary>The current state.</summary>
    public ConnectionState State
    {
        get
        {
            lock (_stateSync)
            {
                return _state;
            }
        }
    }

    /// <summary>Whether channels can be used.</summary>
    public bool IsOpen => State == ConnectionState.Open;

    /// <summary>Whether the handshake ever completed (the connection was open at some point).</summary>
    public bool WasOpen => _opened.Task.IsCompletedSuccessfully;

    /// <summary>Why the connection ended (null while it has not).</summary>
    public Exception? Failure => Volatile.Read(ref _failure);

    /// <summary>The outbound frame path.</summary>
    public FrameWriter Writer => _writer;

    /// <summary>The broker's server-properties from connection.start (null before it arrived).</summary>
    public FieldTable? ServerProperties { get; private set; }

    /// <summary>Negotiated channel-max.</summary>
    public ushort ChannelMax => _channels.ChannelMax;

    /// <summary>Negotiated frame-max (never 0: when both peers ask for no limit the client sets 128 KiB).</summary>
    public uint FrameMax { get; private set; }

    /// <summary>Negotiated heartbeat interval in seconds (0: none).</summary>
    public ushort Heartbeat { get; private set; }

    /// <summary>The TLS version negotiated, or null for a plain connection (or before the handshake).</summary>
    public System.Security.Authentication.SslProtocols? TlsProtocol => (_stream as SslStream)?.SslProtocol;

    /// <summary>Whether the broker has blocked publishing (connection.blocked).</summary>
    public bool IsBlocked => Volatile.Read(ref _unblocked) is not null;

    /// <summary>Raised on the read loop when the broker blocks publishing (with its reason) or unblocks it (null).</summary>
    public event Action<AmqpConnection, string?>? BlockedChanged;

    /// <summary>Completes when the connection is open; fails with the reason it could not open.</summary>
    public Task Opened => _opened.Task;

    internal ILogger Logger => _logger;

    /// <summary>How long a channel's request waits for its answer.</summary>
    internal TimeSpan RpcTimeout => _settings.RpcTimeout;

    // ---- the state machine ----

    /// <summary>The one place the state changes. Returns false (and changes nothing) when the move is not
    /// allowed from the current state, which is how races between a close and a failure resolve.</summary>
    private bool TryTransition(ConnectionState to)
    {
        lock (_stateSync)
        {
            ConnectionState from = _state;
            bool allowed = to switch
            {
                ConnectionState.Connecting => from == ConnectionState.Created,
                ConnectionState.AwaitingStart => from == ConnectionState.Connecting,
                ConnectionState.AwaitingTune => from == ConnectionState.AwaitingStart || from == ConnectionState.AwaitingTune,
                ConnectionState.AwaitingOpenOk => from == ConnectionState.AwaitingTune,
                ConnectionState.Open => from == ConnectionState.AwaitingOpenOk,
                ConnectionState.Closing => from == ConnectionState.Open,
                ConnectionState.Closed => from == ConnectionState.Closing,
                ConnectionState.Broken => from is not (ConnectionState.Closed or ConnectionState.Broken),
                _ => false,
            };
            if (allowed)
            {
                _state = to;
                LogConnectionStateChanged(_logger, _settings.Host, from, to);
            }

            return allowed;
        }
    }

    // ---- connecting ----

    /// <summary>Opens the socket, runs the handshake and completes when connection.open-ok arrives.</summary>
    /// <exception cref="ConnectionDeadException">The broker cannot be reached or the connection broke.</exception>
    /// <exception cref="AuthenticationFailedException">The broker refused the credentials.</exception>
    /// <exception cref="AmqpException">The broker refused the connection (e.g. an unknown virtual host).</exception>
    public async Task ConnectAsync(CancellationToken cancellationToken)
    {
        if (!TryTransition(ConnectionState.Connecting))
        {
            throw new InvalidOperationException("The connection was already started.");
        }

        try
        {
            _stream = await OpenStreamAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (TlsHandshakeException ex)
        {
            Break(ex);
            throw;
        }
        catch (Exception ex) when (ex is SocketException or IOException or AuthenticationException)
        {
            var dead = new ConnectionDeadException(
                $"Could not connect to {_settings.Host}:{_settings.Port}: {ex.Message}", ex);
            Break(dead);
            throw dead;
        }
        catch (OperationCanceledException ex)
        {
            var dead = new ConnectionDeadException(
                $"Connecting to {_settings.Host}:{_settings.Port} did not finish in time.", ex);
            Break(dead);
            throw dead;
        }

        if (!TryTransition(ConnectionState.AwaitingStart))
        {
            throw Failure ?? new ConnectionDeadException("The connection was closed while connecting.");
        }

        _writer.Start(_stream, $"CoolAmqp writer {_settings.Host}:{_settings.Port}", _socket);
        _writer.WriteRaw(FrameEncoder.ProtocolHeader);
        _pipe = new Pipe(new PipeOptions(
            pool: new SegmentPool(ReadSegmentSize, 16),
            pauseWriterThreshold: 0,
            resumeWriterThreshold: 0,
            minimumSegmentSize: ReadSegmentSize,
            readerScheduler: PipeScheduler.Inline,
            writerScheduler: PipeScheduler.Inline,
            useSynchronizationContext: false));
        _reading = new ReaderHandoff(ReadUntilHandoff, $"CoolAmqp reader {_settings.Host}:{_settings.Port}");
        _reading.Start();
        Continuations.Start();

        using (cancellationToken.UnsafeRegister(static s =>
        {
            var self = (AmqpConnection)s!;
            string step = self.HandshakeStep();
            self.Break(new ConnectionDeadException(
                $"The handshake with {self._settings.Host}:{self._settings.Port} did not finish in time: {step}.",
                new TimeoutException($"The AMQP handshake stalled: {step}.")));
        }, this))
        {
            await _opened.Task.ConfigureAwait(false);
        }
    }

    /// <summary>What the handshake was waiting for, for the timeout's message.</summary>
    private string HandshakeStep() => State switch
    {
        ConnectionState.AwaitingStart => "no connection.start from the broker (after the protocol header)",
        ConnectionState.AwaitingTune => "no connection.tune from the broker (after connection.start-ok)",
        ConnectionState.AwaitingOpenOk => "no connection.open-ok from the broker (after connection.open)",
        ConnectionState state => $"the connection was {state}",
    };

    private async Task<Stream> OpenStreamAsync(CancellationToken cancellationToken)
    {
        IPAddress[] addresses = IPAddress.TryParse(_settings.Host, out IPAddress? literal)
            ? [literal]
            : await Dns.GetHostAddressesAsync(_settings.Host, cancellationToken).ConfigureAwait(false);
        if (addresses.Length == 0)
        {
            throw new SocketException((int)SocketError.HostNotFound);
        }

        Exception? last = null;
        foreach (IPAddress address in addresses)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                // Blocking calls only, on a pool thread: one asynchronous operation would switch the socket to
                // non-blocking mode for good, and the reader and writer threads' blocking calls would then be
                // emulated over the runtime's epoll thread (a hop per read). Cancellation disposes the socket.
                var endPoint = new IPEndPoint(address, _settings.Port);
                using (cancellationToken.UnsafeRegister(static s => ((Socket)s!).Dispose(), socket))
                {
                    return await Task.Run(() => ConnectBlocking(socket, endPoint, cancellationToken), CancellationToken.None)
                        .ConfigureAwait(false);
                }
            }
            catch (ObjectDisposedException) when (cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException(cancellationToken);
            }
            catch (SocketException) when (cancellationToken.IsCancellationRequested)
            {
                socket.Dispose();
                throw new OperationCanceledException(cancellationToken);
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                last = ex;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        throw last!;
    }

    private Stream ConnectBlocking(Socket socket, IPEndPoint endPoint, CancellationToken cancellationToken)
    {
        socket.Connect(endPoint);
        _socket = socket;
        var network = new NetworkStream(socket, ownsSocket: true);
        if (_settings.Tls is not { } tls)
        {
            return network;
        }

        _tls = new TlsConnector(tls, _settings.Host, _settings.Port);
        return _tls.Authenticate(network, cancellationToken);
    }

    /// <summary>What the first read of a plain connection says about the peer: a TLS record (20 to 23; a TLS server
    /// answers the protocol header with an alert, 21) where a frame type (1, 2, 3 or 8) belongs means a TLS port.</summary>
    private TlsHandshakeException? PlainToTls(ReadOnlySpan<byte> first) =>
        _tls is null && first.Length > 0 && first[0] is >= 20 and <= 23
            ? new TlsHandshakeException(TlsFailureReason.PlainToTls, $"{_settings.Host}:{_settings.Port}",
                $"{_settings.Host}:{_settings.Port} answered the AMQP protocol header with a TLS record: it is a TLS port. " +
                "Connect with amqps:// (or NodeDefinition.Tls).", SslPolicyErrors.None,
                System.Security.Cryptography.X509Certificates.X509ChainStatusFlags.NoError, null)
            : null;

    /// <summary>A TLS 1.3 server refuses the client certificate after the client finished its handshake: that alert
    /// fails the first read or write, before the broker's first frame.</summary>
    private TlsHandshakeException? RefusedAfterHandshake(Exception error) =>
        _tls is not null && State is ConnectionState.AwaitingStart ? _tls.RefusalAfterHandshake(error) : null;

    // ---- reading ----

    // Dedicated threads with blocking reads rather than an async loop: the hop from the socket's completion to a
    // thread-pool worker (which then spins before sleeping) cost more CPU than parsing what was read (issue 4). The
    // reading thread runs quick consumer callbacks itself; one that runs long hands the role on (ReaderHandoff).

    /// <summary>Reads until the connection ends (true) or another thread takes the reading role while this one runs
    /// callbacks (false). Only the thread holding the role runs it.</summary>
    private bool ReadUntilHandoff()
    {
        Stream stream = _stream!;
        ReaderHandoff reading = _reading!;
        PipeReader reader = _pipe!.Reader;
        PipeWriter writer = _pipe.Writer;
        bool ended = true;
        try
        {
            // Taking over: flush what the previous reader's batch has left (it may still be in a callback of it).
            DeliveryBatch taken = _batch;
            if (taken.Turn != reading.Turn)
            {
                taken.Flush();
                _batch = new DeliveryBatch(reading.Turn);
            }

            while (true)
            {
                Span<byte> into = writer.GetMemory(MinimumReadSize).Span;
                int read = stream.Read(into);
                if (read == 0)
                {
                    Break(Volatile.Read(ref _peerClose) ?? ClosedByPeer());
                    return true;
                }

                if (!_firstReadDone)
                {
                    _firstReadDone = true;
                    if (PlainToTls(into.Slice(0, read)) is { } notAmqp)
                    {
                        Break(notAmqp);
                        return true;
                    }
                }

                Volatile.Write(ref _lastReadTicks, Environment.TickCount64);
                Volatile.Write(ref _receivedTotal, _receivedTotal + read);
                writer.Advance(read);
                // Completes synchronously: nothing pauses this pipe's writer (pauseWriterThreshold 0).
                ValueTask<FlushResult> flush = writer.FlushAsync();
                if (!flush.IsCompleted)
                {
                    flush.AsTask().GetAwaiter().GetResult();
                }

                if (!reader.TryRead(out ReadResult result))
                {
                    continue;
                }

                ReadOnlySequence<byte> buffer = result.Buffer;
                while (FrameDecoder.TryReadFrame(in buffer, _inboundFrameMax, out FrameHeader header,
                           out ReadOnlySequence<byte> payload, out SequencePosition next))
                {
                    HandleFrame(in header, in payload);
                    buffer = buffer.Slice(next);
                }

                reader.AdvanceTo(buffer.Start, buffer.End);
                DeliveryBatch batch = _batch;
                if (batch.Count > 0)
                {
                    // Everything read is parsed and the pipe advanced: should a callback run long, another thread
                    // goes on reading from here.
                    batch.Flush();
                    if (reading.Turn != batch.Turn)
                    {
                        ended = false;
                        return false;
                    }

                    batch.Reset();
                }
            }
        }
        catch (AmqpFrameFormatException ex)
        {
            CloseThenBreak(ReplyCode.FrameError, ex.Message,
                new ConnectionDeadException("The broker sent a malformed frame: " + ex.Message, ex));
        }
        catch (ProtocolLimitExceededException ex)
        {
            // Only the handshake gets here (deliveries over a limit are refused one by one): the broker's own
            // connection.start broke a limit.
            CloseThenBreak(ReplyCode.ResourceError, ex.Message,
                new ConnectionDeadException("The broker sent more than ClusterOptions.Limits allow: " + ex.Message, ex));
        }
        catch (ProtocolViolationException ex)
        {
            CloseThenBreak(ReplyCode.UnexpectedFrame, ex.Message,
                new ConnectionDeadException("The broker broke the protocol: " + ex.Message, ex));
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            Break(Volatile.Read(ref _peerClose) ?? (Exception?)RefusedAfterHandshake(ex) ?? (State is ConnectionState.AwaitingTune
                ? AuthenticationRejected(null)
                : new ConnectionDeadException("Reading from the broker failed: " + ex.Message, ex)));
        }
#pragma warning disable CA1031 // Anything else (a bug, a throwing tracer) must still take the one break path.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Break(new ConnectionDeadException("The connection's read loop failed: " + ex.Message, ex));
        }
        finally
        {
            if (ended)
            {
                // Deliveries parsed before a failure still reach their consumers.
                _batch.Flush();
                reader.Complete();
                writer.Complete();
                FrameDecoder.ReturnScratch(ref _scratch);
            }
        }

        return true;
    }

    /// <summary>Read loop only: the channels that completed deliveries in the current read batch.</summary>
    internal DeliveryBatch DeliveryBatch => _batch;

    /// <summary>Hands the reading role on when consumer callbacks run long (null before the connection opens).</summary>
    internal ReaderHandoff? Reading => _reading;

    private Exception ClosedByPeer() => State is ConnectionState.AwaitingTune
        // Without authentication_failure_close a broker just drops the socket on bad credentials (spec 4.10.2).
        ? AuthenticationRejected(null)
        : new ConnectionDeadException($"The broker {_settings.Host}:{_settings.Port} closed the connection.");

    private void HandleFrame(in FrameHeader header, in ReadOnlySequence<byte> payload)
    {
        if (_tracer is not null)
        {
            TraceInbound(in header, in payload);
        }

        switch (header.Type)
        {
            case FrameType.Method:
            {
                ReadOnlySpan<byte> method = FrameDecoder.Contiguous(in payload, ref _scratch);
                if (header.Channel == 0 && TryTakeUpdateSecretOk(method))
                {
                    break;
                }

                var handler = new InboundMethodHandler(this);
                MethodDispatcher.Dispatch(ref handler, header.Channel, method);
                break;
            }

            case FrameType.Header:
            {
                ReadOnlySpan<byte> content = FrameDecoder.Contiguous(in payload, ref _scratch);
                RequireChannel(header.Channel, "content header")?.OnContentHeader(content);
                break;
            }

            case FrameType.Body:
                RequireChannel(header.Channel, "content body")?.OnContentBody(in payload);
                break;

            case FrameType.Heartbeat:
                // The read itself refreshed the liveness clock.
                break;

            default:
                throw new AmqpFrameFormatException($"Unknown frame type {(byte)header.Type}.");
        }
    }

    /// <summary>The channel a frame is for; null (frame dropped) when the channel is gone.</summary>
    internal AmqpChannel? RequireChannel(ushort id, string what)
    {
        if (id == 0)
        {
            throw new ProtocolViolationException($"The broker sent a {what} frame on channel 0.");
        }

        AmqpChannel? channel = _channels.Get(id);
        if (channel is null)
        {
            LogFrameForUnknownChannel(_logger, what, id);
        }

        return channel;
    }

    // ---- channels ----

    /// <summary>Opens a new channel whose events go to <paramref name="handler"/>.</summary>
    public async Task<AmqpChannel> OpenChannelAsync(IChannelHandler handler, CancellationToken cancellationToken)
    {
        ThrowIfNotOpen();
        AmqpChannel channel = _channels.Add(id => new AmqpChannel(this, id, handler));
        try
        {
            await channel.OpenAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            channel.Abandon();
            throw;
        }

        // A break that ran between Add and here missed this channel: make sure it learns about it.
        if (Failure is { } failure)
        {
            channel.OnConnectionBroken(failure);
            throw AsChannelFailure(failure);
        }

        return channel;
    }

    /// <summary>Frees a channel number after the channel closed.</summary>
    internal void ReleaseChannel(AmqpChannel channel) => _channels.Remove(channel);

    internal void ThrowIfNotOpen()
    {
        ConnectionState state = State;
        if (state != ConnectionState.Open)
        {
            throw Failure is { } failure
                ? AsChannelFailure(failure)
                : new ConnectionDeadException($"The connection is not open (it is {state}).");
        }
    }

    /// <summary>The exception pending operations fail with after <paramref name="failure"/> ended the connection:
    /// always a <see cref="ConnectionDeadException"/>, so callers can catch one type; a broker's connection.close
    /// reason (an <see cref="AmqpException"/>) is its inner exception.</summary>
    internal static ConnectionDeadException AsChannelFailure(Exception failure) => failure switch
    {
        ConnectionDeadException dead => dead,
        AmqpException closed => new ConnectionDeadException("The broker closed the connection: " + closed.Message, closed),
        _ => new ConnectionDeadException("The connection failed: " + failure.Message, failure),
    };

    // ---- closing and breaking ----

    /// <summary>Closes gracefully: connection.close, wait for close-ok (up to <paramref name="timeout"/>), then
    /// tear down. Pending operations fail with <see cref="ConnectionDeadException"/>.</summary>
    public async Task CloseAsync(TimeSpan timeout)
    {
        if (!TryTransition(ConnectionState.Closing))
        {
            // Not open: whatever is half-done is simply torn down.
            Break(new ConnectionDeadException("The connection was closed by the client."));
            return;
        }

        try
        {
            _writer.WriteMethod(0, new ConnectionClose((ushort)ReplyCode.Success, "Goodbye", 0, 0));
            await _closeOk.Task.WaitAsync(timeout).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or ConnectionDeadException)
        {
            LogCloseOkMissing(_logger, _settings.Host, ex);
        }

        Terminate(new ConnectionDeadException("The connection was closed by the client."), graceful: true);
    }

    /// <summary>
    /// The one failure path: marks the connection broken, stops both loops, closes the socket, fails the
    /// handshake, every channel's pending RPC, unconfirmed publish and consumer, then raises
    /// <see cref="Terminated"/>. Safe to call from any thread, any number of times; only the first counts.
    /// </summary>
    public void Break(Exception reason) => Terminate(reason, graceful: false);

    private void Terminate(Exception reason, bool graceful)
    {
        lock (_stateSync)
        {
            if (_state is ConnectionState.Closed or ConnectionState.Broken)
            {
                return;
            }
        }

        if (!TryTransition(graceful ? ConnectionState.Closed : ConnectionState.Broken) &&
            !TryTransition(ConnectionState.Broken))
        {
            return;
        }

        Volatile.Write(ref _failure, reason);
        if (!graceful)
        {
            LogBroken(_logger, _settings.Host, reason.Message, reason);
        }

        Exception channelFailure = AsChannelFailure(reason);
        _writer.Fail(channelFailure);
        if (Interlocked.Exchange(ref _unblocked, null) is { } unblocked && unblocked.TrySetException(channelFailure))
        {
            // Publishers held by connection.blocked get the failure; when none waits it must not resurface.
            _ = unblocked.Task.Exception;
        }

        EndBlockedTime();
        Telemetry.CoolAmqpTelemetry.ConnectionEnded(this);
        _lifetime.Cancel();
        try
        {
            _stream?.Dispose();
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            // Already gone.
        }

        if (_opened.TrySetException(reason))
        {
            // ConnectAsync reports the failure to its caller (or threw its own before it awaited this): seen.
            _ = _opened.Task.Exception;
        }
        _closeOk.TrySetResult();
        FailUpdateSecret(channelFailure);
        foreach (AmqpChannel channel in _channels.RemoveAll())
        {
            channel.OnConnectionBroken(channelFailure);
        }

        // After the channels failed their confirms: the thread runs the last continuation it took, then ends.
        Continuations.Stop();

        try
        {
            Terminated?.Invoke(this, reason, graceful);
        }
#pragma warning disable CA1031 // An owner's handler must not stop the teardown of the connection.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            LogHandlerFailed(_logger, ex);
        }
    }

    private void OnWriterFault(Exception ex)
    {
        Exception reason = Volatile.Read(ref _peerClose) ?? RefusedAfterHandshake(ex) ??
            new ConnectionDeadException("Writing to the broker failed: " + ex.Message, ex);
        if (_tls is not null && State is ConnectionState.AwaitingStart)
        {
            // A TLS 1.3 server that refuses the client certificate sends an alert and resets: the write meets the reset,
            // the reader is about to read the alert, which says why. Let the reader break first; this is the fallback.
            _ = Task.Delay(500).ContinueWith(_ => Break(reason), CancellationToken.None,
                TaskContinuationOptions.None, TaskScheduler.Default);
            return;
        }

        Break(reason);
    }

    /// <summary>Tells the broker why (connection.close, sent before the socket goes), then breaks. Reader thread
    /// only: it blocks until the writer has sent the close (at most a second).</summary>
    private void CloseThenBreak(ReplyCode code, string text, Exception reason)
    {
        try
        {
            _writer.WriteMethod(0, new ConnectionClose((ushort)code, Truncate(text), 0, 0));
            _writer.FlushAndStopAsync(TimeSpan.FromSeconds(1)).GetAwaiter().GetResult();
        }
        catch (ConnectionDeadException)
        {
            // Nothing to tell a peer we cannot reach.
        }

        Break(reason);
    }

    internal static string Truncate(string text) => text.Length <= 200 ? text : text.Substring(0, 200);

    // ---- logging ----

    [LoggerMessage(EventId = 1001, Level = LogLevel.Debug, Message = "Connection to {Host}: {From} -> {To}")]
    private static partial void LogConnectionStateChanged(ILogger logger, string host, ConnectionState from, ConnectionState to);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Warning, Message = "Connection to {Host} broke: {Reason}")]
    private static partial void LogBroken(ILogger logger, string host, string reason, Exception exception);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Debug, Message = "Dropped a {What} frame for channel {Channel}, which is not open")]
    private static partial void LogFrameForUnknownChannel(ILogger logger, string what, ushort channel);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Information, Message = "No connection.close-ok from {Host}; closing the socket anyway")]
    private static partial void LogCloseOkMissing(ILogger logger, string host, Exception exception);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Error, Message = "A connection-terminated handler threw")]
    private static partial void LogHandlerFailed(ILogger logger, Exception exception);
}
