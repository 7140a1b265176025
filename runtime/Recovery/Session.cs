using CoolAmqp.Channels;
using CoolAmqp.Connections;
using Microsoft.Extensions.Logging;

namespace CoolAmqp.Recovery;

/// <summary>What one connection carries: the connection and the channels the cluster keeps on it. A new connection
/// gets a new session, so nothing of a lost connection (a channel, a confirm tracker) is ever used on the next.</summary>
internal sealed class Session
{
    public Session(NodeDefinition node, AmqpConnection connection, ILogger publisherLogger, Republisher? republisher)
    {
        Node = node;
        Connection = connection;
        Plain = new Publisher(connection, confirms: false, publisherLogger);
        Confirming = new Publisher(connection, confirms: true, publisherLogger, republisher);
        Rpc = new RpcChannel(connection);
    }

    /// <summary>The node the connection goes to.</summary>
    public NodeDefinition Node { get; }

    public AmqpConnection Connection { get; }

    public Publisher Plain { get; }

    public Publisher Confirming { get; }

    public RpcChannel Rpc { get; }
}
