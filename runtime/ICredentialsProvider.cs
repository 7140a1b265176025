using System.Threading;
using System.Threading.Tasks;

namespace CoolAmqp;

/// <summary>Hands out the credentials a connection logs in with, for secrets that change (OAuth 2 tokens for
/// RabbitMQ's <c>rabbitmq_auth_backend_oauth2</c>, rotated passwords). Set on
/// <see cref="ClusterOptions.CredentialsProvider"/>; it then replaces <see cref="NodeDefinition.User"/> and
/// <see cref="NodeDefinition.Password"/>.</summary>
/// <remarks>
/// The cluster asks before every connection attempt (the first and each reconnection), within the node's
/// connection timeout. When the credentials have an <see cref="AmqpCredentials.ExpiresAt"/>, it asks again when
/// 80 % of their lifetime has passed and sends the new secret on the open connection (connection.update-secret),
/// without closing it; a refresh that fails is retried until the old secret expires (the broker then closes the
/// connection, and recovery connects again with whatever the provider hands out). The user name cannot change on a
/// live connection: a refresh that names another user is used from the next connection on.
/// Calls never overlap for one cluster; they run on thread-pool threads.
/// </remarks>
public interface ICredentialsProvider
{
    /// <summary>The credentials for a connection to <paramref name="node"/>.</summary>
    /// <param name="node">The node about to be connected to, or whose connection is being refreshed.</param>
    /// <param name="cancellationToken">Fires when the connect attempt times out or the cluster shuts down.</param>
    /// <returns>The credentials; an exception fails this connection attempt (recovery tries again).</returns>
    ValueTask<AmqpCredentials> GetCredentialsAsync(NodeDefinition node, CancellationToken cancellationToken);
}
