using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using CoolAmqp.Framing;

namespace CoolAmqp.Tests.Faults;

/// <summary>
/// A fake AMQP 0-9-1 server on 127.0.0.1 (port 0) that speaks real bytes over a real socket, so the runtime's
/// socket, read loop, writer and timers all run as they do against a broker. Accept a connection, run the
/// handshake (or part of it), then let the <see cref="ServerConnection"/> answer what the client sends while the
/// test injects whatever a real broker never would.
/// </summary>
internal sealed class ScriptedServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly List<ServerConnection> _connections = [];

    public ScriptedServer()
    {
        _listener.Start();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>A node definition that points at this server.</summary>
    public NodeDefinition Node(int? heartbeat = null, TimeSpan? connectionTimeout = null) =>
        new("127.0.0.1", heartbeat: heartbeat, port: Port) { ConnectionTimeout = connectionTimeout ?? TimeSpan.FromSeconds(5) };

    /// <summary>The next client connection (nothing is read or sent yet).</summary>
    public async Task<ServerConnection> AcceptAsync(CancellationToken cancellationToken)
    {
        Socket socket = await _listener.AcceptSocketAsync(cancellationToken).ConfigureAwait(false);
        var connection = new ServerConnection(socket);
        lock (_connections)
        {
            _connections.Add(connection);
        }

        return connection;
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        ServerConnection[] all;
        lock (_connections)
        {
            all = [.. _connections];
        }

        foreach (ServerConnection connection in all)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>Where the scripted handshake stops answering.</summary>
public enum HandshakeStall
{
    /// <summary>Complete handshake.</summary>
    None,

    /// <summary>Reads the protocol header and sends nothing.</summary>
    BeforeStart,

    /// <summary>Sends connection.start, reads start-ok, sends nothing more.</summary>
    BeforeTune,

    /// <summary>Sends tune, reads tune-ok and open, never sends open-ok.</summary>
    BeforeOpenOk,
}

/// <summary>A frame the server received from the client.</summary>
internal sealed class InboundFrame
{
    public InboundFrame(FrameType type, ushort channel, byte[] payload)
    {
        Type = type;
        Channel = channel;
        Payload = payload;
        At = Environment.TickCount64;
    }

    public FrameType Type { get; }

    public ushort Channel { get; }

    public byte[] Payload { get; }

    /// <summary>When it was read (<see cref="Environment.TickCount64"/>).</summary>
    public long At { get; }

    /// <summary>class-id &lt;&lt; 16 | method-id for a method frame, else 0.</summary>
    public uint CommandId => Type == FrameType.Method && Payload.Length >= 4
        ? ((uint)BinaryPrimitives.ReadUInt16BigEndian(Payload) << 16) | BinaryPrimitives.ReadUInt16BigEndian(Payload.AsSpan(2))
        : 0;

    /// <summary>The method's arguments (after class and method ids).</summary>
    public ReadOnlySpan<byte> Arguments => Payload.AsSpan(4);

    public override string ToString() => Type == FrameType.Method
        ? $"{MethodNames.Get(CommandId) ?? CommandId.ToString(System.Globalization.CultureInfo.InvariantCulture)} on channel {Channel}"
        : $"{Type} frame on channel {Channel} ({Payload.Length} bytes)";
}

/// <summary>
/// One client connection to the <see cref="ScriptedServer"/>. After the handshake, <see cref="StartResponder"/>
/// reads every frame, records it (<see cref="WaitForAsync"/>) and answers it the way a broker would (channel.open,
/// queue.declare, basic.consume, confirm.select, ...) unless the test replaced the answer with <see cref="On"/> or
/// made the server <see cref="Silent"/>. Anything can be injected with <see cref="SendAsync"/>.
/// </summary>
internal sealed class ServerConnection : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly object _sync = new();
    private readonly List<InboundFrame> _received = [];
    private readonly List<string> _clientErrors = [];
    private readonly Dictionary<uint, Func<InboundFrame, Task>> _handlers = [];
    private readonly Dictionary<ushort, ChannelScript> _channels = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _clientGone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _pump = Task.CompletedTask;
    private Task _heartbeats = Task.CompletedTask;
    private long _lastSentTicks = Environment.TickCount64;
    private volatile bool _silent;
    private int _queues;

    public ServerConnection(Socket socket)
    {
        _socket = socket;
        _socket.NoDelay = true;
        _stream = new NetworkStream(socket, ownsSocket: true);
    }

    /// <summary>frame-max sent in connection.tune (and body frames are cut to it).</summary>
    public uint FrameMax { get; private set; } = 131072;

    /// <summary>Heartbeat the client agreed to in tune-ok.</summary>
    public ushort Heartbeat { get; private set; }

    /// <summary>When the server last sent bytes (<see cref="Environment.TickCount64"/>).</summary>
    public long LastSentTicks => Interlocked.Read(ref _lastSentTicks);

    /// <summary>Completes when the client closed or reset the socket (or the server dropped it).</summary>
    public Task ClientGone => _clientGone.Task;

    /// <summary>Stop answering anything and stop sending heartbeats (frames are still read and recorded).</summary>
    public bool Silent
    {
        get => _silent;
        set => _silent = value;
    }

    /// <summary>Whether complete publishes on a confirm-mode channel are acked at once.</summary>
    public bool AckPublishes { get; set; }

    /// <summary>Malformed frames the client sent (the runtime must never produce one).</summary>
    public IReadOnlyList<string> ClientErrors
    {
        get
        {
            lock (_sync)
            {
                return [.. _clientErrors];
            }
        }
    }

    /// <summary>The consumer tag given to the basic.consume on <paramref name="channel"/>.</summary>
    public string ConsumerTagOf(ushort channel)
    {
        lock (_sync)
        {
            return _channels.TryGetValue(channel, out ChannelScript? script) && script.ConsumerTag is { } tag
                ? tag
                : throw new InvalidOperationException($"No basic.consume on channel {channel}.");
        }
    }

    /// <summary>Replaces the server's answer to a method (an empty handler makes the server ignore it: a stall).</summary>
    public void On(uint commandId, Func<InboundFrame, Task> handler)
    {
        lock (_sync)
        {
            _handlers[commandId] = handler;
        }
    }

    /// <summary>Ignore this method (the client waits for an answer that never comes).</summary>
    public void Ignore(uint commandId) => On(commandId, static _ => Task.CompletedTask);

    // ---- the handshake ----

    /// <summary>Reads the 8-byte protocol header and checks it is AMQP 0-9-1.</summary>
    public async Task ReadProtocolHeaderAsync(CancellationToken cancellationToken)
    {
        byte[] header = new byte[8];
        await _stream.ReadExactlyAsync(header, cancellationToken).ConfigureAwait(false);
        if (!header.AsSpan().SequenceEqual("AMQP\0\0\x09\x01"u8))
        {
            throw new InvalidDataException($"The client sent protocol header {Convert.ToHexString(header)}.");
        }
    }

    /// <summary>The well-formed connection.start this server sends.</summary>
    public static byte[] ConnectionStartFrame() => Frames.Method(0, new ConnectionStart(0, 9,
        new FieldTable
        {
            { "product", "CoolAmqp.Tests scripted server" },
            { "capabilities", new FieldTable { { "publisher_confirms", true }, { "consumer_cancel_notify", true } } },
        },
        "PLAIN AMQPLAIN"u8.ToArray(), "en_US"u8.ToArray()));

    /// <summary>Runs the server side of the handshake (spec 4.2.3), stopping where <paramref name="stall"/> says.</summary>
    public async Task HandshakeAsync(CancellationToken cancellationToken, ushort heartbeat = 0, uint frameMax = 131072,
        ushort channelMax = 2047, HandshakeStall stall = HandshakeStall.None)
    {
        await ReadProtocolHeaderAsync(cancellationToken).ConfigureAwait(false);
        if (stall == HandshakeStall.BeforeStart)
        {
            return;
        }

        await SendAsync(ConnectionStartFrame()).ConfigureAwait(false);
        InboundFrame startOk = await ExpectDirectAsync(ConnectionStartOk.CommandIdValue, cancellationToken).ConfigureAwait(false);
        ConnectionStartOk.Reader reader = ConnectionStartOk.Read(startOk.Arguments);
        if (reader.Mechanism != "PLAIN")
        {
            throw new InvalidDataException($"The client chose mechanism {reader.Mechanism}.");
        }

        if (stall == HandshakeStall.BeforeTune)
        {
            return;
        }

        FrameMax = frameMax;
        await SendAsync(Frames.Method(0, new ConnectionTune(channelMax, frameMax, heartbeat))).ConfigureAwait(false);
        InboundFrame tuneOk = await ExpectDirectAsync(ConnectionTuneOk.CommandIdValue, cancellationToken).ConfigureAwait(false);
        ConnectionTuneOk.Reader tuned = ConnectionTuneOk.Read(tuneOk.Arguments);
        Heartbeat = tuned.Heartbeat;
        if (frameMax == 0 && tuned.FrameMax != 0)
        {
            // "No limit" proposed: the client may set one, which both sides then keep to.
            FrameMax = tuned.FrameMax;
        }
        else if (tuned.FrameMax != frameMax)
        {
            throw new InvalidDataException($"The client answered frame-max {tuned.FrameMax} to {frameMax}.");
        }

        await ExpectDirectAsync(ConnectionOpen.CommandIdValue, cancellationToken).ConfigureAwait(false);
        if (stall == HandshakeStall.BeforeOpenOk)
        {
            return;
        }

        await SendAsync(Frames.Method(0, new ConnectionOpenOk())).ConfigureAwait(false);
    }

    /// <summary>Reads frames until a method with <paramref name="commandId"/> (heartbeats skipped), before the
    /// responder runs.</summary>
    private async Task<InboundFrame> ExpectDirectAsync(uint commandId, CancellationToken cancellationToken)
    {
        while (true)
        {
            InboundFrame frame = await ReadFrameAsync(cancellationToken).ConfigureAwait(false)
                ?? throw new EndOfStreamException($"The client closed the connection before {MethodNames.Get(commandId)}.");
            Record(frame);
            if (frame.Type == FrameType.Heartbeat)
            {
                continue;
            }

            return frame.CommandId == commandId
                ? frame
                : throw new InvalidDataException($"Expected {MethodNames.Get(commandId)}, got {frame}.");
        }
    }

    // ---- after the handshake ----

    /// <summary>Starts reading, recording and answering in the background (and sending heartbeats).</summary>
    public void StartResponder()
    {
        _pump = Task.Run(PumpAsync);
        if (Heartbeat > 0)
        {
            _heartbeats = Task.Run(HeartbeatLoopAsync);
        }
    }

    /// <summary>Starts only recording what the client sends (nothing is answered): to see the client close.</summary>
    public void StartRecording()
    {
        _silent = true;
        _pump = Task.Run(PumpAsync);
    }

    /// <summary>Sends bytes (whole frames, half frames, anything). False when the client is gone.</summary>
    public async Task<bool> SendAsync(ReadOnlyMemory<byte> bytes)
    {
        await _sendLock.WaitAsync().ConfigureAwait(false);
        try
        {
            await _stream.WriteAsync(bytes).ConfigureAwait(false);
            Interlocked.Exchange(ref _lastSentTicks, Environment.TickCount64);
            return true;
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            return false;
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>Sends one method frame.</summary>
    public Task<bool> SendMethodAsync<T>(ushort channel, T method)
        where T : struct, IAmqpMethod => SendAsync(Frames.Method(channel, method));

    /// <summary>Closes the socket (FIN), or resets it (RST) when <paramref name="reset"/>.</summary>
    public void Drop(bool reset = false)
    {
        try
        {
            if (reset)
            {
                _socket.LingerState = new LingerOption(true, 0);
            }

            _socket.Close();
        }
        catch (ObjectDisposedException)
        {
            // Already closed.
        }
    }

    /// <summary>The <paramref name="occurrence"/>-th received frame that matches, waiting for it.</summary>
    /// <exception cref="EndOfStreamException">The client went away first.</exception>
    public async Task<InboundFrame> WaitForAsync(Func<InboundFrame, bool> match, CancellationToken cancellationToken,
        int occurrence = 1, string? what = null)
    {
        while (true)
        {
            Task changed;
            lock (_sync)
            {
                int seen = 0;
                foreach (InboundFrame frame in _received)
                {
                    if (match(frame) && ++seen == occurrence)
                    {
                        return frame;
                    }
                }

                changed = _changed.Task;
            }

            if (_clientGone.Task.IsCompleted)
            {
                throw new EndOfStreamException($"The client went away before sending {what ?? "the frame waited for"} (occurrence {occurrence}).");
            }

            await Task.WhenAny(changed, _clientGone.Task).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The <paramref name="occurrence"/>-th method frame with <paramref name="commandId"/>.</summary>
    public Task<InboundFrame> WaitForMethodAsync(uint commandId, CancellationToken cancellationToken, int occurrence = 1) =>
        WaitForAsync(f => f.CommandId == commandId, cancellationToken, occurrence, MethodNames.Get(commandId));

    /// <summary>The received frames that match, in the order they came.</summary>
    public List<InboundFrame> Received(Func<InboundFrame, bool> match)
    {
        lock (_sync)
        {
            return _received.Where(match).ToList();
        }
    }

    /// <summary>How many received frames match.</summary>
    public int Count(Func<InboundFrame, bool> match)
    {
        lock (_sync)
        {
            int n = 0;
            foreach (InboundFrame frame in _received)
            {
                if (match(frame))
                {
                    n++;
                }
            }

            return n;
        }
    }

    private void Record(InboundFrame frame)
    {
        TaskCompletionSource changed;
        lock (_sync)
        {
            _received.Add(frame);
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
    }

    /// <summary>One frame, or null at a clean end of stream between frames.</summary>
    private async Task<InboundFrame?> ReadFrameAsync(CancellationToken cancellationToken)
    {
        byte[] header = new byte[7];
        int first = await _stream.ReadAsync(header.AsMemory(0, 1), cancellationToken).ConfigureAwait(false);
        if (first == 0)
        {
            return null;
        }

        await _stream.ReadExactlyAsync(header.AsMemory(1), cancellationToken).ConfigureAwait(false);
        byte type = header[0];
        ushort channel = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(1));
        uint size = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(3));
        if (type is not (1 or 2 or 3 or 8) || (FrameMax != 0 && size > FrameMax))
        {
            throw new InvalidDataException($"The client sent a frame of type {type} with a {size}-byte payload.");
        }

        byte[] payload = new byte[size + 1];
        await _stream.ReadExactlyAsync(payload, cancellationToken).ConfigureAwait(false);
        if (payload[^1] != 0xCE)
        {
            throw new InvalidDataException($"The client sent a frame ending with 0x{payload[^1]:X2}.");
        }

        return new InboundFrame((FrameType)type, channel, payload.AsSpan(0, (int)size).ToArray());
    }

    private async Task PumpAsync()
    {
        try
        {
            while (true)
            {
                InboundFrame? frame = await ReadFrameAsync(_stop.Token).ConfigureAwait(false);
                if (frame is null)
                {
                    return;
                }

                Record(frame);
                if (!_silent)
                {
                    await RespondAsync(frame).ConfigureAwait(false);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The client (or the test) closed the socket.
            if (ex is EndOfStreamException)
            {
                lock (_sync)
                {
                    _clientErrors.Add("The client closed the connection in the middle of a frame.");
                }
            }
        }
#pragma warning disable CA1031 // Anything else is a broken client frame or a broken script: keep it for the test to see.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            lock (_sync)
            {
                _clientErrors.Add(ex.ToString());
            }
        }
        finally
        {
            _clientGone.TrySetResult();
        }
    }

    private async Task HeartbeatLoopAsync()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(Heartbeat * 500));
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                if (!_silent && !await SendAsync(Frames.Raw((byte)FrameType.Heartbeat, 0, [])).ConfigureAwait(false))
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Disposed.
        }
    }

    private ChannelScript ChannelOf(ushort channel)
    {
        lock (_sync)
        {
            if (!_channels.TryGetValue(channel, out ChannelScript? script))
            {
                script = new ChannelScript();
                _channels[channel] = script;
            }

            return script;
        }
    }

    /// <summary>What a broker would answer.</summary>
    private async Task RespondAsync(InboundFrame frame)
    {
        ushort ch = frame.Channel;
        if (frame.Type != FrameType.Method)
        {
            await OnContentFrameAsync(frame).ConfigureAwait(false);
            return;
        }

        Func<InboundFrame, Task>? handler;
        lock (_sync)
        {
            _handlers.TryGetValue(frame.CommandId, out handler);
        }

        if (handler is not null)
        {
            await handler(frame).ConfigureAwait(false);
            return;
        }

        switch (frame.CommandId)
        {
            case ChannelOpen.CommandIdValue:
                lock (_sync)
                {
                    _channels[ch] = new ChannelScript();
                }

                await SendMethodAsync(ch, new ChannelOpenOk()).ConfigureAwait(false);
                break;
            case ChannelClose.CommandIdValue:
                await SendMethodAsync(ch, new ChannelCloseOk()).ConfigureAwait(false);
                break;
            case ConfirmSelect.CommandIdValue:
                ChannelOf(ch).Confirming = true;
                if (!ConfirmSelect.Read(frame.Arguments).NoWait)
                {
                    await SendMethodAsync(ch, new ConfirmSelectOk()).ConfigureAwait(false);
                }

                break;
            case BasicQos.CommandIdValue:
                await SendMethodAsync(ch, new BasicQosOk()).ConfigureAwait(false);
                break;
            case QueueDeclare.CommandIdValue:
            {
                string name = QueueDeclare.Read(frame.Arguments).Queue;
                if (name.Length == 0)
                {
                    name = "amq.gen-scripted-" + Interlocked.Increment(ref _queues).ToString(System.Globalization.CultureInfo.InvariantCulture);
                }

                await SendMethodAsync(ch, new QueueDeclareOk(name, 0, 0)).ConfigureAwait(false);
                break;
            }

            case QueueBind.CommandIdValue:
                await SendMethodAsync(ch, new QueueBindOk()).ConfigureAwait(false);
                break;
            case QueueDelete.CommandIdValue:
                await SendMethodAsync(ch, new QueueDeleteOk(0)).ConfigureAwait(false);
                break;
            case ExchangeDeclare.CommandIdValue:
                await SendMethodAsync(ch, new ExchangeDeclareOk()).ConfigureAwait(false);
                break;
            case BasicConsume.CommandIdValue:
            {
                string tag = BasicConsume.Read(frame.Arguments).ConsumerTag;
                if (tag.Length == 0)
                {
                    tag = "ctag-" + ch.ToString(System.Globalization.CultureInfo.InvariantCulture);
                }

                ChannelOf(ch).ConsumerTag = tag;
                await SendMethodAsync(ch, new BasicConsumeOk(tag)).ConfigureAwait(false);
                break;
            }

            case BasicCancel.CommandIdValue:
                await SendMethodAsync(ch, new BasicCancelOk(BasicCancel.Read(frame.Arguments).ConsumerTag)).ConfigureAwait(false);
                break;
            case BasicPublish.CommandIdValue:
                ChannelOf(ch).InPublish = true;
                break;
            case ConnectionClose.CommandIdValue:
                await SendMethodAsync(0, new ConnectionCloseOk()).ConfigureAwait(false);
                Drop();
                break;
            case ConnectionCloseOk.CommandIdValue:
                Drop();
                break;
            default:
                // Acks, nacks, rejects, heartbeats, close-oks: nothing to answer.
                break;
        }
    }

    /// <summary>Follows publishes through header and body frames; acks a complete one on a confirm channel.</summary>
    private async Task OnContentFrameAsync(InboundFrame frame)
    {
        if (frame.Type == FrameType.Heartbeat)
        {
            return;
        }

        ChannelScript script = ChannelOf(frame.Channel);
        bool complete;
        lock (_sync)
        {
            if (frame.Type == FrameType.Header)
            {
                script.BodyRemaining = BinaryPrimitives.ReadUInt64BigEndian(frame.Payload.AsSpan(4));
            }
            else
            {
                script.BodyRemaining -= (ulong)frame.Payload.Length;
            }

            complete = script.InPublish && script.BodyRemaining == 0;
            if (complete)
            {
                script.InPublish = false;
                script.Published++;
            }
        }

        if (complete && script.Confirming && AckPublishes)
        {
            await SendMethodAsync(frame.Channel, new BasicAck(script.Published, false)).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        Drop();
        try
        {
            await Task.WhenAll(_pump, _heartbeats).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopped.
        }

        _stop.Dispose();
        _sendLock.Dispose();
    }

    private sealed class ChannelScript
    {
        public bool Confirming { get; set; }

        public bool InPublish { get; set; }

        public ulong BodyRemaining { get; set; }

        public ulong Published { get; set; }

        public string? ConsumerTag { get; set; }
    }
}
