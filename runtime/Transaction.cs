using System;
using System.Threading;
using System.Threading.Tasks;
using CoolAmqp.Channels;
using CoolAmqp.Connections;
using CoolAmqp.Framing;

namespace CoolAmqp;

/// <summary>
/// A channel in transaction mode (tx.select): publishes through it take effect together on
/// <see cref="CommitAsync"/>, or not at all on <see cref="RollbackAsync"/>. Use from one thread at a time.
/// </summary>
public sealed class Transaction : IAsyncDisposable
{
    private AmqpChannel? _channel;

    private Transaction()
    {
    }

    internal static async Task<Transaction> BeginAsync(AmqpConnection connection, CancellationToken cancellationToken)
    {
        var transaction = new Transaction();
        AmqpChannel channel = await connection.OpenChannelAsync(SilentChannelHandler.Instance, cancellationToken).ConfigureAwait(false);
        try
        {
            await channel.CallAsync(new TxSelect(), TxSelectOk.CommandIdValue, 0, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            _ = channel.CloseAsync(CancellationToken.None);
            throw;
        }

        transaction._channel = channel;
        return transaction;
    }

    /// <summary>Publishes within the transaction (takes effect on commit).</summary>
    /// <exception cref="AmqpException">The broker closed the transaction's channel; the transaction is over.</exception>
    /// <exception cref="ConnectionDeadException">The connection or the transaction's channel is closed.</exception>
    public void Publish(Message message, string exchange = "", string routingKey = "", bool mandatory = false)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(exchange);
        ArgumentNullException.ThrowIfNull(routingKey);
        AmqpChannel channel = Channel;
        var method = new BasicPublish(exchange, routingKey, mandatory, false);
        BasicProperties properties = message.Properties.ToWire();
        var none = default(NoHook);
        if (!channel.Connection.Writer.TryWritePublish(channel, in method, in properties, message.Body.Span, ref none))
        {
            throw channel.ClosedException();
        }
    }

    /// <summary>Commits every publish since the last commit or rollback (tx.commit).</summary>
    public Task CommitAsync(CancellationToken cancellationToken = default) =>
        Channel.CallAsync(new TxCommit(), TxCommitOk.CommandIdValue, 0, cancellationToken);

    /// <summary>Discards every publish since the last commit or rollback (tx.rollback).</summary>
    public Task RollbackAsync(CancellationToken cancellationToken = default) =>
        Channel.CallAsync(new TxRollback(), TxRollbackOk.CommandIdValue, 0, cancellationToken);

    /// <summary>Closes the transaction's channel; uncommitted publishes are discarded by the broker.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _channel, null) is { } channel)
        {
            try
            {
                await channel.CloseAsync().ConfigureAwait(false);
            }
            catch (ConnectionDeadException)
            {
                // Nothing left to close.
            }
        }
    }

    private AmqpChannel Channel => Volatile.Read(ref _channel) ?? throw new ObjectDisposedException(nameof(Transaction));

    private struct NoHook : IPublishHook
    {
        public readonly void BeforeAppend()
        {
        }

        public readonly void AfterAppend(long committedTotal, long sentTotal)
        {
        }
    }
}
