using System;
using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using CoolAmqp.Framing;
using NUnit.Framework;

namespace CoolAmqp.Tests.Integration;

/// <summary>
/// A scripted AMQP server on a loopback socket, for faults a real broker does not produce on demand: it speaks
/// exactly the frames a test tells it to, and hands the test every frame the client sends.
/// </summary>
internal sealed class ScriptedBroker : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);

    public ScriptedBroker() => _listener.Start();

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public NodeDefinition Node(int? heartbeat = null) => new("127.0.0.1", "guest", "guest", "/", heartbeat, Port);

    public async Task<Peer> AcceptAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        Socket socket = await _listener.AcceptSocketAsync(timeout.Token);
        return new Peer(socket);
    }

    public ValueTask DisposeAsync()
    {
        _listener.Stop();
        _listener.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>A frame the client sent.</summary>
    internal sealed record Frame(FrameType Type, ushort Channel, byte[] Payload)
    {
        public uint CommandId => Type == FrameType.Method ? BinaryPrimitives.ReadUInt32BigEndian(Payload) : 0;

        public string? MethodName => MethodNames.Get(CommandId);

        public ReadOnlySpan<byte> Arguments => Payload.AsSpan(4);
    }

    /// <summary>One accepted client connection.</summary>
    internal sealed class Peer : IAsyncDisposable
    {
        private readonly Socket _socket;
        private readonly NetworkStream _stream;
        private readonly PipeReader _reader;

        public Peer(Socket socket)
        {
            _socket = socket;
            _stream = new NetworkStream(socket, ownsSocket: true);
            _reader = PipeReader.Create(_stream);
        }

        /// <summary>Heartbeat frames received so far (they are not returned by <see cref="ReceiveAsync"/>).</summary>
        public int HeartbeatsReceived { get; private set; }

        /// <summary>Reads the protocol header and runs the handshake up to connection.open-ok.</summary>
        public async Task HandshakeAsync(ushort heartbeat = 0, uint frameMax = 131072, bool sendOpenOk = true)
        {
            await ExpectProtocolHeaderAsync();
            Send(0, new ConnectionStart(0, 9, new FieldTable { { "product", "ScriptedBroker" } }, "PLAIN"u8.ToArray(), "en_US"u8.ToArray()));
            await ExpectAsync(ConnectionStartOk.CommandIdValue);
            Send(0, new ConnectionTune(2047, frameMax, heartbeat));
            await ExpectAsync(ConnectionTuneOk.CommandIdValue);
            await ExpectAsync(ConnectionOpen.CommandIdValue);
            if (sendOpenOk)
            {
                Send(0, new ConnectionOpenOk());
            }
        }

        public async Task ExpectProtocolHeaderAsync()
        {
            ReadResult result;
            while (true)
            {
                result = await _reader.ReadAsync();
                if (result.Buffer.Length >= 8 || result.IsCompleted)
                {
                    break;
                }

                _reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
            }

            Assert.That(result.Buffer.Slice(0, 8).ToArray(), Is.EqualTo("AMQP\0\0\x09\x01"u8.ToArray()));
            _reader.AdvanceTo(result.Buffer.GetPosition(8));
        }

        public void Send<T>(ushort channel, T method)
            where T : struct, IAmqpMethod
        {
            byte[] frame = new byte[FrameEncoder.MethodFrameSize(in method)];
            FrameEncoder.WriteMethodFrame(frame, channel, in method);
            SendRaw(frame);
        }

        public void SendRaw(ReadOnlySpan<byte> bytes) => _stream.Write(bytes);

        /// <summary>The next non-heartbeat frame, or null when the client closed the socket.</summary>
        public async Task<Frame?> ReceiveAsync(TimeSpan? timeout = null)
        {
            using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
            while (true)
            {
                ReadResult result = await _reader.ReadAsync(cancel.Token);
                ReadOnlySequence<byte> buffer = result.Buffer;
                if (FrameDecoder.TryReadFrame(in buffer, 0, out FrameHeader header, out ReadOnlySequence<byte> payload, out SequencePosition next))
                {
                    var frame = new Frame(header.Type, header.Channel, payload.ToArray());
                    _reader.AdvanceTo(next);
                    if (frame.Type == FrameType.Heartbeat)
                    {
                        HeartbeatsReceived++;
                        continue;
                    }

                    return frame;
                }

                _reader.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted)
                {
                    return null;
                }
            }
        }

        /// <summary>The next frame, which must be the method <paramref name="commandId"/>.</summary>
        public async Task<Frame> ExpectAsync(uint commandId, TimeSpan? timeout = null)
        {
            Frame? frame = await ReceiveAsync(timeout);
            Assert.That(frame, Is.Not.Null, $"expected {MethodNames.Get(commandId)}, the client closed the socket");
            Assert.That(frame!.MethodName, Is.EqualTo(MethodNames.Get(commandId)));
            return frame;
        }

        /// <summary>Whether the client sends nothing (but heartbeats) for <paramref name="quiet"/>.</summary>
        public async Task<bool> StaysQuietAsync(TimeSpan quiet)
        {
            try
            {
                Frame? frame = await ReceiveAsync(quiet);
                return frame is null;
            }
            catch (OperationCanceledException)
            {
                return true;
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _reader.CompleteAsync();
            await _stream.DisposeAsync();
        }

        /// <summary>Drops the TCP connection without any AMQP goodbye.</summary>
        public void Drop() => _socket.Close();
    }
}
