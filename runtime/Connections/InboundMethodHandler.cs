using CoolAmqp.Channels;
using CoolAmqp.Framing;

namespace CoolAmqp.Connections;

/// <summary>
/// Routes each method frame from the broker (through the generated <see cref="MethodDispatcher"/>) to the
/// connection or to its channel. A struct passed by reference, so dispatching allocates nothing. Readers are
/// only valid during the call: whatever outlives it is copied out here or by the callee.
/// </summary>
internal readonly struct InboundMethodHandler : IClientMethodHandler
{
    private readonly AmqpConnection _connection;

    public InboundMethodHandler(AmqpConnection connection) => _connection = connection;

    // ---- connection class: channel 0 only ----

    public void OnConnectionStart(ushort channel, ConnectionStart.Reader method)
    {
        Zero(channel, ConnectionStart.Name);
        _connection.OnConnectionStart(method);
    }

    public void OnConnectionSecure(ushort channel, ConnectionSecure.Reader method)
    {
        Zero(channel, ConnectionSecure.Name);
        _connection.OnConnectionSecure(method);
    }

    public void OnConnectionTune(ushort channel, ConnectionTune.Reader method)
    {
        Zero(channel, ConnectionTune.Name);
        _connection.OnConnectionTune(method);
    }

    public void OnConnectionOpenOk(ushort channel, ConnectionOpenOk.Reader method)
    {
        Zero(channel, ConnectionOpenOk.Name);
        _connection.OnConnectionOpenOk();
    }

    public void OnConnectionClose(ushort channel, ConnectionClose.Reader method)
    {
        Zero(channel, ConnectionClose.Name);
        _connection.OnConnectionClose(method);
    }

    public void OnConnectionCloseOk(ushort channel, ConnectionCloseOk.Reader method)
    {
        Zero(channel, ConnectionCloseOk.Name);
        _connection.OnConnectionCloseOk();
    }

    public void OnConnectionBlocked(ushort channel, ConnectionBlocked.Reader method)
    {
        Zero(channel, ConnectionBlocked.Name);
        _connection.OnConnectionBlocked(method.Reason);
    }

    public void OnConnectionUnblocked(ushort channel, ConnectionUnblocked.Reader method)
    {
        Zero(channel, ConnectionUnblocked.Name);
        _connection.OnConnectionUnblocked();
    }

    public void OnConnectionUpdateSecret(ushort channel, ConnectionUpdateSecret.Reader method)
    {
        Zero(channel, ConnectionUpdateSecret.Name);
        _connection.OnConnectionUpdateSecret();
    }

    // ---- channel class ----

    public void OnChannelOpenOk(ushort channel, ChannelOpenOk.Reader method) =>
        Channel(channel, ChannelOpenOk.Name)?.CompleteRpc(new RpcResponse { CommandId = ChannelOpenOk.CommandIdValue });

    public void OnChannelFlow(ushort channel, ChannelFlow.Reader method) =>
        Channel(channel, ChannelFlow.Name)?.OnFlow(method.Active);

    public void OnChannelFlowOk(ushort channel, ChannelFlowOk.Reader method)
    {
        // We never send channel.flow, so there is nothing to match; tolerate it.
    }

    public void OnChannelClose(ushort channel, ChannelClose.Reader method) =>
        Channel(channel, ChannelClose.Name)?.OnBrokerClose(method.ReplyCode, method.ReplyText, method.ClassId, method.MethodId);

    public void OnChannelCloseOk(ushort channel, ChannelCloseOk.Reader method) =>
        Channel(channel, ChannelCloseOk.Name)?.OnCloseOk();

    // ---- exchange and queue classes: responses to synchronous methods ----

    public void OnExchangeDeclareOk(ushort channel, ExchangeDeclareOk.Reader method) =>
        Respond(channel, ExchangeDeclareOk.CommandIdValue, ExchangeDeclareOk.Name);

    public void OnExchangeDeleteOk(ushort channel, ExchangeDeleteOk.Reader method) =>
        Respond(channel, ExchangeDeleteOk.CommandIdValue, ExchangeDeleteOk.Name);

    public void OnExchangeBindOk(ushort channel, ExchangeBindOk.Reader method) =>
        Respond(channel, ExchangeBindOk.CommandIdValue, ExchangeBindOk.Name);

    public void OnExchangeUnbindOk(ushort channel, ExchangeUnbindOk.Reader method) =>
        Respond(channel, ExchangeUnbindOk.CommandIdValue, ExchangeUnbindOk.Name);

    public void OnQueueDeclareOk(ushort channel, QueueDeclareOk.Reader method) =>
        Channel(channel, QueueDeclareOk.Name)?.CompleteRpc(new RpcResponse
        {
            CommandId = QueueDeclareOk.CommandIdValue,
            Name = method.Queue,
            MessageCount = method.MessageCount,
            ConsumerCount = method.ConsumerCount,
        });

    public void OnQueueBindOk(ushort channel, QueueBindOk.Reader method) =>
        Respond(channel, QueueBindOk.CommandIdValue, QueueBindOk.Name);

    public void OnQueueUnbindOk(ushort channel, QueueUnbindOk.Reader method) =>
        Respond(channel, QueueUnbindOk.CommandIdValue, QueueUnbindOk.Name);

    public void OnQueuePurgeOk(ushort channel, QueuePurgeOk.Reader method) =>
        Channel(channel, QueuePurgeOk.Name)?.CompleteRpc(new RpcResponse
        {
            CommandId = QueuePurgeOk.CommandIdValue,
            MessageCount = method.MessageCount,
        });

    public void OnQueueDeleteOk(ushort channel, QueueDeleteOk.Reader method) =>
        Channel(channel, QueueDeleteOk.Name)?.CompleteRpc(new RpcResponse
        {
            CommandId = QueueDeleteOk.CommandIdValue,
            MessageCount = method.MessageCount,
        });

    // ---- basic class ----

    public void OnBasicQosOk(ushort channel, BasicQosOk.Reader method) =>
        Respond(channel, BasicQosOk.CommandIdValue, BasicQosOk.Name);

    public void OnBasicConsumeOk(ushort channel, BasicConsumeOk.Reader method) =>
        Channel(channel, BasicConsumeOk.Name)?.CompleteRpc(new RpcResponse
        {
            CommandId = BasicConsumeOk.CommandIdValue,
            Name = method.ConsumerTag,
        });

    public void OnBasicCancel(ushort channel, BasicCancel.Reader method) =>
        Channel(channel, BasicCancel.Name)?.OnBrokerCancel(method.ConsumerTag, method.NoWait);

    public void OnBasicCancelOk(ushort channel, BasicCancelOk.Reader method) =>
        Channel(channel, BasicCancelOk.Name)?.CompleteRpc(new RpcResponse
        {
            CommandId = BasicCancelOk.CommandIdValue,
            Name = method.ConsumerTag,
        });

    public void OnBasicReturn(ushort channel, BasicReturn.Reader method) =>
        Channel(channel, BasicReturn.Name)?.OnBasicReturn(method);

    public void OnBasicDeliver(ushort channel, BasicDeliver.Reader method) =>
        Channel(channel, BasicDeliver.Name)?.OnBasicDeliver(method);

    public void OnBasicGetOk(ushort channel, BasicGetOk.Reader method) =>
        Channel(channel, BasicGetOk.Name)?.OnBasicGetOk(method);

    public void OnBasicGetEmpty(ushort channel, BasicGetEmpty.Reader method) =>
        Respond(channel, BasicGetEmpty.CommandIdValue, BasicGetEmpty.Name);

    public void OnBasicAck(ushort channel, BasicAck.Reader method) =>
        Channel(channel, BasicAck.Name)?.OnAck(method.DeliveryTag, method.Multiple);

    public void OnBasicRecoverOk(ushort channel, BasicRecoverOk.Reader method) =>
        Respond(channel, BasicRecoverOk.CommandIdValue, BasicRecoverOk.Name);

    public void OnBasicNack(ushort channel, BasicNack.Reader method) =>
        Channel(channel, BasicNack.Name)?.OnNack(method.DeliveryTag, method.Multiple);

    // ---- tx and confirm classes ----

    public void OnTxSelectOk(ushort channel, TxSelectOk.Reader method) =>
        Respond(channel, TxSelectOk.CommandIdValue, TxSelectOk.Name);

    public void OnTxCommitOk(ushort channel, TxCommitOk.Reader method) =>
        Respond(channel, TxCommitOk.CommandIdValue, TxCommitOk.Name);

    public void OnTxRollbackOk(ushort channel, TxRollbackOk.Reader method) =>
        Respond(channel, TxRollbackOk.CommandIdValue, TxRollbackOk.Name);

    public void OnConfirmSelectOk(ushort channel, ConfirmSelectOk.Reader method) =>
        Respond(channel, ConfirmSelectOk.CommandIdValue, ConfirmSelectOk.Name);

    // ---- helpers ----

    private void Respond(ushort channel, uint commandId, string name) =>
        Channel(channel, name)?.CompleteRpc(new RpcResponse { CommandId = commandId });

    private AmqpChannel? Channel(ushort channel, string name) => _connection.RequireChannel(channel, name);

    private static void Zero(ushort channel, string name)
    {
        if (channel != 0)
        {
            throw new ProtocolViolationException($"The broker sent {name} on channel {channel}; it belongs on channel 0.");
        }
    }
}
