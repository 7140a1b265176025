using System;

namespace CoolAmqp.Cli;

/// <summary>Bad input the tool found itself (a malformed --header, a missing file): reported as one line, exit 2.</summary>
internal sealed class CliException : Exception
{
    public CliException(string message) : base(message) { }

    public CliException() { }

    public CliException(string message, Exception innerException) : base(message, innerException) { }
}
