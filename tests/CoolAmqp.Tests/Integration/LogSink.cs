using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using Microsoft.Extensions.Logging;

namespace CoolAmqp.Tests.Integration;

/// <summary>Every log entry of every level, as text: the formatted message, each structured field and the logged
/// exception with its inner ones and stack (everything a logging back end could write out).</summary>
internal sealed class LogSink : ILoggerProvider
{
    // (Also the fault tests' log: FaultTest prints it when a test fails.)
    private readonly ConcurrentQueue<string> _lines = new();
    private bool _disposed;

    public LogSink() => Factory = LoggerFactory.Create(builder => builder.SetMinimumLevel(LogLevel.Trace).AddProvider(this));

    public ILoggerFactory Factory { get; }

    public IReadOnlyList<string> Lines => _lines.ToArray();

    public ILogger CreateLogger(string categoryName) => new Logger(_lines, categoryName);

    /// <summary>Disposes the factory (which disposes this provider again: the flag stops the loop).</summary>
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            Factory.Dispose();
        }
    }

    private sealed class Logger : ILogger
    {
        private readonly ConcurrentQueue<string> _lines;
        private readonly string _category;

        public Logger(ConcurrentQueue<string> lines, string category)
        {
            _lines = lines;
            _category = category;
        }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull
        {
            _lines.Enqueue($"scope {_category}: {state}");
            return null;
        }

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception,
            Func<TState, Exception?, string> formatter)
        {
            var line = new StringBuilder()
                .Append(DateTime.UtcNow.ToString("HH:mm:ss.fff", System.Globalization.CultureInfo.InvariantCulture)).Append(' ')
                .Append(logLevel).Append(' ').Append(eventId.Id).Append(' ').Append(_category).Append(": ")
                .Append(formatter(state, exception));
            if (state is IEnumerable<KeyValuePair<string, object?>> fields)
            {
                foreach (var field in fields)
                {
                    line.Append(" | ").Append(field.Key).Append('=').Append(field.Value);
                }
            }

            if (exception is not null)
            {
                line.Append(" | ").Append(exception);
            }

            _lines.Enqueue(line.ToString());
        }
    }
}
