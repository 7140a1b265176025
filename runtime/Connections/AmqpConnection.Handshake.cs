using System;
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;
using CoolAmqp.Framing;
using Microsoft.Extensions.Logging;

namespace CoolAmqp.Connections;

/// <summary>The connection handshake (spec section 4.2.3) and connection-class methods from the broker.</summary>
internal sealed partial class AmqpConnection
{
    private static readonly string ClientVersion =
        typeof(AmqpConnection).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(AmqpConnection).Assembly.GetName().Version?.ToString() ?? "0.0.0";

    private SaslMechanism? _mechanism;

    /// <summary>connection.start: pick a SASL mechanism and answer with our client properties.</summary>
    internal void OnConnectionStart(ConnectionStart.Reader start)
    {
        RequireState(ConnectionState.AwaitingStart, ConnectionStart.Name);
        if (start.VersionMajor != 0 || start.VersionMinor != 9)
        {
            throw new AmqpFrameFormatException(
                $"The broker speaks AMQP {start.VersionMajor}-{start.VersionMinor}; CoolAmqp speaks 0-9-1.");
        }

        // Scanned before it is decoded: a hostile table is refused before it becomes objects.
        _settings.Limits.EnforceTableLimits(start.ServerPropertiesBytes, "connection.start server-properties");
        ServerProperties = start.ServerProperties;
        string offered = Wire.DecodeString(start.Mechanisms);
        _mechanism = SaslMechanism.Choose(_settings.AuthMechanisms, offered);
        if (_mechanism is null)
        {
            Break(new AuthenticationFailedException(
                $"The broker offers the SASL mechanisms '{offered}'; none of them is allowed by the node definition " +
                $"({string.Join(", ", _settings.AuthMechanisms)})."));
            return;
        }

        TryTransition(ConnectionState.AwaitingTune);
        byte[] response = _mechanism.InitialResponse(_settings.User, _settings.Password);
        _writer.WriteMethod(0, new ConnectionStartOk(BuildClientProperties(), _mechanism.Name, response, "en_US"));
    }

    /// <summary>connection.secure: the mechanisms we speak have no challenge, so answer with the credentials again.</summary>
    internal void OnConnectionSecure(ConnectionSecure.Reader secure)
    {
        RequireState(ConnectionState.AwaitingTune, ConnectionSecure.Name);
        byte[] response = _mechanism!.ChallengeResponse(secure.Challenge, _settings.User, _settings.Password);
        _writer.WriteMethod(0, new ConnectionSecureOk(response));
    }

    /// <summary>connection.tune: negotiate limits, answer tune-ok and ask to open the virtual host.</summary>
    internal void OnConnectionTune(ConnectionTune.Reader tune)
    {
        RequireState(ConnectionState.AwaitingTune, ConnectionTune.Name);
        ushort channelMax = (ushort)Negotiate(_settings.ChannelMax, tune.ChannelMax);
        uint frameMax = Negotiate(_settings.FrameMax, tune.FrameMax);
        if (frameMax == 0)
        {
            // Both sides said "no limit": the client sets one, or a broker could send a frame of any size and the
            // read loop would buffer all of it. (Lowering the broker's proposal in tune-ok is what spec 4.2.3 allows.)
            frameMax = AmqpLimits.DefaultFrameMax;
        }
        else if (frameMax < AmqpLimits.PreTuneFrameMax)
        {
            frameMax = AmqpLimits.PreTuneFrameMax;
        }

        // No heartbeat set: take the broker's proposal; 0 turns heartbeats off.
        ushort heartbeat = _settings.Heartbeat switch
        {
            null => tune.Heartbeat,
            0 => 0,
            { } wanted => (ushort)Negotiate(wanted, tune.Heartbeat),
        };
        _channels.ChannelMax = channelMax;
        FrameMax = frameMax;
        Heartbeat = heartbeat;
        _inboundFrameMax = frameMax;

        TryTransition(ConnectionState.AwaitingOpenOk);
        _writer.WriteMethod(0, new ConnectionTuneOk(channelMax, frameMax, heartbeat));
        _writer.FrameMax = frameMax;
        _writer.WriteMethod(0, new ConnectionOpen(_settings.VirtualHost));
        if (heartbeat > 0)
        {
            _ = Task.Run(() => HeartbeatLoopAsync(heartbeat));
        }
    }

    /// <summary>Spec 4.2.3: a zero on one side means "no limit from me", so the other side's value holds; with
    /// two limits the lower one does.</summary>
    private static uint Negotiate(uint client, uint server) =>
        client == 0 || server == 0 ? Math.Max(client, server) : Math.Min(client, server);

    internal void OnConnectionOpenOk()
    {
        RequireState(ConnectionState.AwaitingOpenOk, ConnectionOpenOk.Name);
        if (TryTransition(ConnectionState.Open))
        {
            Telemetry.CoolAmqpTelemetry.ConnectionOpened(this);
            if (State is ConnectionState.Closed or ConnectionState.Broken)
            {
                // Ended between the transition and the registration: take it out again.
                Telemetry.CoolAmqpTelemetry.ConnectionEnded(this);
            }
        }

        LogOpened(_logger, _settings.Host, _settings.Port, _settings.VirtualHost, FrameMax, ChannelMax, Heartbeat);
        _opened.TrySetResult();
    }

    /// <summary>connection.close from the broker: acknowledge, then break with the reason it gave.</summary>
    internal void OnConnectionClose(ConnectionClose.Reader close)
    {
        ConnectionState state = State;
        ushort code = close.ReplyCode;
        string text = close.ReplyText;
        Exception reason = state switch
        {
            ConnectionState.AwaitingStart or ConnectionState.AwaitingTune when code == (ushort)ReplyCode.AccessRefused =>
                AuthenticationRejected(text),
            ConnectionState.AwaitingOpenOk => new AmqpException(code,
                $"The broker refused to open virtual host '{_settings.VirtualHost}': {text}", close.ClassId, close.MethodId),
            _ => new AmqpException(code, text, close.ClassId, close.MethodId),
        };

        // The broker closes the socket right after (often with a reset): neither the read loop's failure nor that
        // of writing close-ok (sent inline, it can meet the reset first) may replace the reason it gave.
        Volatile.Write(ref _peerClose, reason);
        try
        {
            _writer.WriteMethod(0, new ConnectionCloseOk());
        }
        catch (ConnectionDeadException)
        {
            // Already failing.
        }

        // Let close-ok reach the broker before the socket goes (best effort; the broker closes it anyway).
        _ = FlushThenBreakAsync(reason);
    }

    private async Task FlushThenBreakAsync(Exception reason)
    {
        await _writer.FlushAndStopAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
        Break(reason);
    }

    internal void OnConnectionCloseOk()
    {
        if (State != ConnectionState.Closing)
        {
            throw new ProtocolViolationException("The broker sent connection.close-ok without a connection.close.");
        }

        _closeOk.TrySetResult();
    }

    internal void OnConnectionBlocked(string reason)
    {
        Interlocked.CompareExchange(ref _unblocked, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), null);
        Interlocked.CompareExchange(ref _blockedSince, Stopwatch.GetTimestamp(), 0);
        LogBlocked(_logger, _settings.Host, reason);
        RaiseBlockedChanged(reason);
    }

    internal void OnConnectionUnblocked()
    {
        Interlocked.Exchange(ref _unblocked, null)?.TrySetResult();
        EndBlockedTime();
        LogUnblocked(_logger, _settings.Host);
        RaiseBlockedChanged(null);
    }

    /// <summary>Adds the time since connection.blocked, if blocked, to the blocked-time metric.</summary>
    private void EndBlockedTime()
    {
        long since = Interlocked.Exchange(ref _blockedSince, 0);
        if (since != 0)
        {
            Telemetry.CoolAmqpTelemetry.RecordBlocked(Stopwatch.GetElapsedTime(since), _settings.Host);
        }
    }

    /// <summary>Completes at once unless the broker blocks publishing; then when it unblocks.</summary>
    /// <exception cref="PublishBlockedException">Still blocked after <paramref name="timeout"/>.</exception>
    /// <exception cref="ConnectionDeadException">The connection ended while blocked.</exception>
    internal ValueTask WaitUntilUnblockedAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        TaskCompletionSource? unblocked = Volatile.Read(ref _unblocked);
        return unblocked is null ? default : new ValueTask(WaitUntilUnblockedSlowAsync(unblocked.Task, timeout, cancellationToken));
    }

    private async Task WaitUntilUnblockedSlowAsync(Task unblocked, TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            await unblocked.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException ex)
        {
            throw new PublishBlockedException(
                $"The broker {_settings.Host}:{_settings.Port} has blocked publishing (connection.blocked) for longer than " +
                $"{timeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s: the message was not sent.", ex);
        }
    }

    private void RaiseBlockedChanged(string? reason)
    {
        try
        {
            BlockedChanged?.Invoke(this, reason);
        }
#pragma warning disable CA1031 // An owner's handler must not stop the read loop.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            LogHandlerFailed(_logger, ex);
        }
    }

    internal void OnConnectionUpdateSecret()
    {
        // The spec's chassis say a server may send this (see AmqpConnection.UpdateSecret.cs); RabbitMQ never does. The
        // acknowledgement is all the method asks for.
        _writer.WriteMethod(0, new ConnectionUpdateSecretOk());
    }

    private void RequireState(ConnectionState expected, string method)
    {
        if (State != expected)
        {
            throw new ProtocolViolationException($"The broker sent {method} while the connection was {State}.");
        }
    }

    private AuthenticationFailedException AuthenticationRejected(string? text) => new(
        $"The broker {_settings.Host}:{_settings.Port} refused user '{_settings.User}' (mechanism {_mechanism?.Name ?? "?"})" +
        (text is null ? "." : ": " + text));

    private FieldTable BuildClientProperties()
    {
        var capabilities = new FieldTable
        {
            { "publisher_confirms", true },
            { "exchange_exchange_bindings", true },
            { "basic.nack", true },
            { "consumer_cancel_notify", true },
            { "connection.blocked", true },
            { "authentication_failure_close", true },
            { "per_consumer_qos", true },
        };
        var properties = new FieldTable
        {
            { "product", "CoolAmqp" },
            { "version", ClientVersion },
            { "platform", RuntimeInformation.FrameworkDescription },
            { "information", "CoolAmqp, an AMQP 0-9-1 client for RabbitMQ (a port of CoolAMQP)" },
            { "capabilities", capabilities },
        };
        if (_settings.ConnectionName is { Length: > 0 } name)
        {
            properties["connection_name"] = name;
        }

        if (_settings.ExtraProperties is { } extra)
        {
            foreach (var pair in extra)
            {
                properties[pair.Key] = pair.Value;
            }
        }

        return properties;
    }

    // ---- heartbeats ----

    /// <summary>Sends a heartbeat when nothing was written for half the interval; breaks the connection when
    /// nothing was read for two intervals (spec section 4.2.7).</summary>
    private async Task HeartbeatLoopAsync(ushort seconds)
    {
        long intervalMs = seconds * 1000L;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(intervalMs / 2.0));
        try
        {
            while (await timer.WaitForNextTickAsync(_lifetime.Token).ConfigureAwait(false))
            {
                long now = Environment.TickCount64;
                if (now - Volatile.Read(ref _lastReadTicks) > 2 * intervalMs)
                {
                    Break(new ConnectionDeadException(
                        $"Nothing received from {_settings.Host}:{_settings.Port} for {2 * seconds} s (heartbeat {seconds} s)."));
                    return;
                }

                // Idle for most of a tick: a heartbeat now. (Asking for a whole half interval would skip every
                // other tick, the last write being a heartbeat sent a tick ago, a little less than half an interval.)
                if (now - _writer.LastWriteTicks >= intervalMs / 4)
                {
                    _writer.WriteHeartbeat();
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The connection ended.
        }
    }

    [LoggerMessage(EventId = 1101, Level = LogLevel.Information,
        Message = "Connected to {Host}:{Port} vhost '{VirtualHost}' (frame-max {FrameMax}, channel-max {ChannelMax}, heartbeat {Heartbeat} s)")]
    private static partial void LogOpened(ILogger logger, string host, int port, string virtualHost, uint frameMax,
        ushort channelMax, ushort heartbeat);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Warning, Message = "Broker {Host} blocked publishing: {Reason}")]
    private static partial void LogBlocked(ILogger logger, string host, string reason);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Information, Message = "Broker {Host} unblocked publishing")]
    private static partial void LogUnblocked(ILogger logger, string host);

    [LoggerMessage(EventId = 1104, Level = LogLevel.Error, Message = "The {Callback} callback threw")]
    internal static partial void LogCallbackFailed(ILogger logger, string callback, Exception exception);
}
