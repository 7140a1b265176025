using System;
using System.Buffers.Binary;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using CoolAmqp.Framing;

namespace CoolAmqp.Connections;

/// <summary>connection.update-secret: a new secret (an OAuth 2 token, a rotated password) on the open connection.</summary>
/// <remarks>RabbitMQ's spec file lists update-secret under the client's chassis and update-secret-ok under the
/// server's, the reverse of what the broker does (rabbit_reader answers the client's update-secret). So the generated
/// handler, which takes the client-chassis methods, has no entry for update-secret-ok: the read loop picks it out of
/// channel 0's methods itself.</remarks>
internal sealed partial class AmqpConnection
{
    private readonly SemaphoreSlim _updateSecretTurn = new(1, 1);
    private TaskCompletionSource? _updateSecretOk;

    // Answers still owed to update-secrets that timed out: the broker answers in order, so the next that many
    // update-secret-oks are theirs, not the current waiter's (read loop and timed-out callers).
    private int _lateUpdateSecretOks;

    /// <summary>Sends the new secret and waits for the broker's update-secret-ok (at most <see cref="RpcTimeout"/>).
    /// A broker that refuses the secret closes the connection (RabbitMQ: 530 NOT_ALLOWED), which fails this call with
    /// the broker's reason.</summary>
    /// <exception cref="ArgumentException"><paramref name="reason"/> is longer than 255 UTF-8 bytes.</exception>
    /// <exception cref="ConnectionDeadException">The connection is not open, or ended before the answer.</exception>
    /// <exception cref="AmqpTimeoutException">No answer within <see cref="RpcTimeout"/>.</exception>
    public async Task UpdateSecretAsync(string secret, string reason, CancellationToken cancellationToken)
    {
        if (Encoding.UTF8.GetByteCount(reason) > 255)
        {
            throw new ArgumentException("The reason of an update-secret is a short string: at most 255 UTF-8 bytes.", nameof(reason));
        }

        await _updateSecretTurn.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var ok = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref _updateSecretOk, ok);
            if (!IsOpen)
            {
                throw AsChannelFailure(Volatile.Read(ref _failure)
                    ?? new ConnectionDeadException($"The connection to {_settings.Host}:{_settings.Port} is not open."));
            }

            _writer.WriteMethod(0, new ConnectionUpdateSecret(Encoding.UTF8.GetBytes(secret), reason));
            try
            {
                await ok.Task.WaitAsync(RpcTimeout, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                Interlocked.Increment(ref _lateUpdateSecretOks);
                throw new AmqpTimeoutException(
                    $"The broker {_settings.Host}:{_settings.Port} did not answer connection.update-secret within " +
                    $"{RpcTimeout.TotalSeconds:0.###} s.");
            }
        }
        finally
        {
            Volatile.Write(ref _updateSecretOk, null);
            _updateSecretTurn.Release();
        }
    }

    /// <summary>Whether a channel-0 method frame is update-secret-ok, which it then completes (read loop).</summary>
    private bool TryTakeUpdateSecretOk(ReadOnlySpan<byte> method)
    {
        if (method.Length < 4 || BinaryPrimitives.ReadUInt32BigEndian(method) != ConnectionUpdateSecretOk.CommandIdValue)
        {
            return false;
        }

        if (Volatile.Read(ref _lateUpdateSecretOks) > 0)
        {
            Interlocked.Decrement(ref _lateUpdateSecretOks);
            return true;
        }

        if (Volatile.Read(ref _updateSecretOk) is not { } ok || !ok.TrySetResult())
        {
            throw new ProtocolViolationException(
                $"The broker sent {ConnectionUpdateSecretOk.Name} though no connection.update-secret was waiting.");
        }

        return true;
    }

    /// <summary>The connection ended: a waiting update-secret gets the reason (Terminate).</summary>
    private void FailUpdateSecret(Exception reason)
    {
        if (Volatile.Read(ref _updateSecretOk) is { } ok && ok.TrySetException(reason))
        {
            _ = ok.Task.Exception;
        }
    }
}
