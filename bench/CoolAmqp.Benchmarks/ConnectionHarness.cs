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
        Channel = new AmqpChannel(Connection, 1, new NoHandler());
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

    /// <summary>Ignores everything (the harness only writes).</summary>
    private sealed class NoHandler : IChannelHandler
    {
        public void OnDelivery(AmqpChannel channel, in InboundDelivery delivery)
        {
        }

        public void OnDelivery(AmqpChannel channel, DeliveryRecord record, long token) => record.End(token);

        public void OnDeliveriesFlushed(AmqpChannel channel)
        {
        }

        public void OnDeliveryRefused(AmqpChannel channel, RefusedDelivery refused)
        {
        }

        public void OnReturn(AmqpChannel channel, ReturnedMessage returned)
        {
        }

        public void OnAck(AmqpChannel channel, ulong deliveryTag, bool multiple)
        {
        }

        public void OnNack(AmqpChannel channel, ulong deliveryTag, bool multiple)
        {
        }

        public void OnBrokerCancel(AmqpChannel channel, string consumerTag)
        {
        }

        public void OnClosed(AmqpChannel channel, Exception? reason)
        {
        }
    }
}
