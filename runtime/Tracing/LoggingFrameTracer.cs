using System;
using Microsoft.Extensions.Logging;

namespace CoolAmqp.Tracing;

/// <summary>
/// Writes every frame to an <see cref="ILogger"/> as one line (CoolAMQP's <c>LoggingFrameTracer</c>), e.g.
/// <c>AMQP frame ToClient: basic.deliver ch=1 consumer-tag=... delivery-tag=5 ...</c>.
/// </summary>
/// <remarks>
/// Uses <see cref="AmqpFrame.Describe"/>, so the SASL response of <c>connection.start-ok</c> (the password) and
/// message bodies never reach the log. Nothing is formatted when the logger has the level disabled.
/// </remarks>
public sealed class LoggingFrameTracer : IFrameTracer
{
    /// <summary>The event id of the log entries: 1 "AmqpFrame".</summary>
    public static readonly EventId FrameEventId = new(6001, "AmqpFrame");

    private readonly ILogger _logger;
    private readonly LogLevel _level;
    private readonly Action<ILogger, FrameDirection, string, Exception?> _log;

    /// <summary>Creates a tracer writing to <paramref name="logger"/>.</summary>
    /// <param name="logger">The logger to write to.</param>
    /// <param name="level">The level to write at; default <see cref="LogLevel.Warning"/>, as CoolAMQP's default
    /// (Python's WARNING, 30).</param>
    public LoggingFrameTracer(ILogger logger, LogLevel level = LogLevel.Warning)
    {
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
        _level = level;
        _log = LoggerMessage.Define<FrameDirection, string>(level, FrameEventId, "AMQP frame {Direction}: {Frame}");
    }

    /// <summary>The level entries are written at.</summary>
    public LogLevel Level => _level;

    /// <inheritdoc/>
    public void OnFrame(DateTimeOffset timestamp, in AmqpFrame frame, FrameDirection direction)
    {
        if (!_logger.IsEnabled(_level))
        {
            return;
        }

        _log(_logger, direction, frame.Describe(), null);
    }
}
