using System;
using System.Threading;
using System.Threading.Tasks;
using CoolAmqp.Connections;
using Microsoft.Extensions.Logging;

namespace CoolAmqp.Recovery;

/// <summary>Which user name and secret a connection logs in with, and keeping an expiring secret fresh on the live
/// connection: the <see cref="ICredentialsProvider"/> when there is one, else the node's user with its password or
/// the secret last given to <c>Cluster.UpdateSecretAsync</c>.</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001:Types that own disposable fields should be disposable",
    Justification = "A SemaphoreSlim whose wait handle is never asked for holds nothing to dispose.")]
internal sealed partial class CredentialsKeeper
{
    /// <summary>The share of a secret's lifetime after which it is refreshed.</summary>
    private const double RefreshAt = 0.8;

    private static readonly TimeSpan MinimumDelay = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaximumRetryDelay = TimeSpan.FromSeconds(30);

    private readonly ICredentialsProvider? _provider;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _asking = new(1, 1);
    private string? _secret;

    public CredentialsKeeper(ICredentialsProvider? provider, ILogger logger)
    {
        _provider = provider;
        _logger = logger;
    }

    /// <summary>Replaces the node's password from now on (the provider, if any, still has the last word).</summary>
    public void SetSecret(string secret) => Volatile.Write(ref _secret, secret);

    /// <summary>The credentials for a connection attempt to <paramref name="node"/>.</summary>
    /// <exception cref="AuthenticationFailedException">The provider threw or returned nothing.</exception>
    public ValueTask<AmqpCredentials> ForConnectAsync(NodeDefinition node, CancellationToken cancellationToken) =>
        _provider is null
            ? new ValueTask<AmqpCredentials>(new AmqpCredentials(node.User, Volatile.Read(ref _secret) ?? node.Password))
            : AskAsync(node, cancellationToken);

    /// <summary>Keeps the secret of a just-opened connection fresh until the connection ends, if it expires.</summary>
    public void Watch(NodeDefinition node, AmqpConnection connection, AmqpCredentials used)
    {
        if (_provider is not null && used.ExpiresAt is not null)
        {
            _ = RefreshLoopAsync(node, connection, used);
        }
    }

    private async ValueTask<AmqpCredentials> AskAsync(NodeDefinition node, CancellationToken cancellationToken)
    {
        await _asking.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            AmqpCredentials? credentials;
            try
            {
                credentials = await _provider!.GetCredentialsAsync(node, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                throw new AuthenticationFailedException(
                    $"The credentials provider failed for {node.Host}:{node.Port}: {ex.GetType().Name}: {ex.Message}", ex);
            }

            return credentials ?? throw new AuthenticationFailedException(
                $"The credentials provider returned no credentials for {node.Host}:{node.Port}.");
        }
        finally
        {
            _asking.Release();
        }
    }

    private async Task RefreshLoopAsync(NodeDefinition node, AmqpConnection connection, AmqpCredentials current)
    {
        CancellationToken lifetime = connection.Lifetime;
        DateTimeOffset due = Due(DateTimeOffset.UtcNow, current.ExpiresAt!.Value);
        try
        {
            while (true)
            {
                TimeSpan delay = due - DateTimeOffset.UtcNow;
                await Task.Delay(delay > MinimumDelay ? delay : MinimumDelay, lifetime).ConfigureAwait(false);
                DateTimeOffset expiry = current.ExpiresAt!.Value;
                try
                {
                    AmqpCredentials next = await AskAsync(node, lifetime).ConfigureAwait(false);
                    if (!string.Equals(next.User, current.User, StringComparison.Ordinal))
                    {
                        // update-secret keeps the user: the new one logs in at the next connection.
                        LogUserChanged(_logger, node.Host, node.Port, current.User, next.User);
                        return;
                    }

                    await connection.UpdateSecretAsync(next.Secret, "CoolAmqp: credentials refreshed", lifetime)
                        .ConfigureAwait(false);
                    LogRefreshed(_logger, node.Host, node.Port, next.ExpiresAt);
                    if (next.ExpiresAt is not { } nextExpiry)
                    {
                        return;
                    }

                    current = next;
                    due = Due(DateTimeOffset.UtcNow, nextExpiry);
                }
                catch (Exception ex) when (!lifetime.IsCancellationRequested)
                {
                    TimeSpan left = expiry - DateTimeOffset.UtcNow;
                    LogRefreshFailed(_logger, node.Host, node.Port, left.TotalSeconds, ex);
                    if (left <= TimeSpan.Zero)
                    {
                        // The broker ends the connection at expiry; recovery then asks the provider afresh.
                        return;
                    }

                    TimeSpan retry = left / 4;
                    due = DateTimeOffset.UtcNow + (retry < MaximumRetryDelay ? retry : MaximumRetryDelay);
                }
            }
        }
        catch (OperationCanceledException) when (lifetime.IsCancellationRequested)
        {
            // The connection ended; the next one is watched afresh.
        }
    }

    private static DateTimeOffset Due(DateTimeOffset now, DateTimeOffset expiry) =>
        expiry <= now ? now : now + (expiry - now) * RefreshAt;

    [LoggerMessage(EventId = 7201, Level = LogLevel.Information,
        Message = "Credentials for {Host}:{Port} refreshed on the open connection (update-secret); they expire {Expiry} (empty: never)")]
    private static partial void LogRefreshed(ILogger logger, string host, int port, DateTimeOffset? expiry);

    [LoggerMessage(EventId = 7202, Level = LogLevel.Error,
        Message = "Refreshing the credentials for {Host}:{Port} failed ({SecondsLeft:0} s before the current ones expire); trying again")]
    private static partial void LogRefreshFailed(ILogger logger, string host, int port, double secondsLeft, Exception exception);

    [LoggerMessage(EventId = 7203, Level = LogLevel.Warning,
        Message = "The credentials provider for {Host}:{Port} changed the user from '{OldUser}' to '{NewUser}': update-secret cannot change the user, so the new one logs in at the next connection")]
    private static partial void LogUserChanged(ILogger logger, string host, int port, string oldUser, string newUser);
}
