using System;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using CoolAmqp.Channels;
using CoolAmqp.Connections;
using CoolAmqp.Framing;
using Microsoft.Extensions.Logging.Abstractions;

namespace CoolAmqp.Benchmarks;

/// <summary>
/// A real <see cref="AmqpConnection"/> whose frame writer runs its loop over <see cref="Stream.Null"/> (no
/// broker), with one open channel: the runtime's own outbound path, minus the kernel.
/// </summary>
internal sealed class ConnectionHarness
{
    public ConnectionHarness()
    {
        Connection = new AmqpConnection(new ConnectionSettings
        {
            Host = "127.0.0.1",
            Port = 5672,
            VirtualHost = "/",
            User = "guest",
            Password = "guest",
            AuthMechanisms = ["PLAIN"],
        }, NullLogger.Instance);
        Connection.Writer.FrameMax = 131072;
        Connection.Writer.Start(Stream.Null, "bench writer");
        Channel = new AmqpChannel(Connection, 1, SilentChannelHandler.Instance);
        Task open = Channel.OpenAsync(CancellationToken.None);
        // channel.open is now pending (or about to be): answer it as the broker would.
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                Channel.CompleteRpc(new RpcResponse { CommandId = ChannelOpenOk.CommandIdValue });
                break;
            }
            catch (ProtocolViolationException) when (attempt < 1000)
            {
                Thread.Sleep(1);
            }
        }

        open.GetAwaiter().GetResult();
    }

    public AmqpConnection Connection { get; }

    public AmqpChannel Channel { get; }

    /// <summary>Waits (spinning) until the writer loop has handed everything appended to the stream.</summary>
    public void WaitDrained()
    {
        var spin = default(SpinWait);
        while (Connection.Writer.BufferedBytes != 0)
        {
            spin.SpinOnce(sleep1Threshold: -1);
        }
    }
}
