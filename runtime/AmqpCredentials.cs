using System;

namespace CoolAmqp;

/// <summary>A user name and the secret (password or token) that authenticate it, as handed out by an
/// <see cref="ICredentialsProvider"/>. <see cref="ToString"/> shows the user and expiry, never the secret.</summary>
public sealed class AmqpCredentials
{
    /// <summary>Credentials without an expiry.</summary>
    /// <param name="user">The user name (for OAuth 2 tokens RabbitMQ ignores it: the token names the user).</param>
    /// <param name="secret">The password or token.</param>
    /// <exception cref="ArgumentNullException"><paramref name="user"/> or <paramref name="secret"/> is null.</exception>
    public AmqpCredentials(string user, string secret)
    {
        User = user ?? throw new ArgumentNullException(nameof(user));
        Secret = secret ?? throw new ArgumentNullException(nameof(secret));
    }

    /// <summary>Credentials that stop working at <paramref name="expiresAt"/>: the cluster asks its provider again
    /// before then and sends the new secret on the live connection (connection.update-secret).</summary>
    /// <param name="user">The user name.</param>
    /// <param name="secret">The password or token.</param>
    /// <param name="expiresAt">When the secret stops working.</param>
    public AmqpCredentials(string user, string secret, DateTimeOffset expiresAt)
        : this(user, secret) => ExpiresAt = expiresAt;

    /// <summary>The user name.</summary>
    public string User { get; }

    /// <summary>The password or token. Never logged, traced or printed by CoolAmqp.</summary>
    public string Secret { get; }

    /// <summary>When the secret stops working, or null if it does not expire.</summary>
    public DateTimeOffset? ExpiresAt { get; }

    /// <summary>The user and the expiry; the secret is left out.</summary>
    public override string ToString() =>
        ExpiresAt is { } expiry ? $"{User} (secret hidden, expires {expiry:O})" : $"{User} (secret hidden)";
}
