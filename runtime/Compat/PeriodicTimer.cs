using System;
using System.Threading;
using System.Threading.Tasks;

namespace CoolAmqp.Compat;

/// <summary>A stand-in for .NET 6's <c>PeriodicTimer</c> with the members the runtime uses: ticks are a delay of one
/// period after the previous wait returned (close enough for heartbeats, whose checks allow a whole interval).</summary>
internal sealed class PeriodicTimer : IDisposable
{
    private readonly TimeSpan _period;
    private readonly CancellationTokenSource _disposed = new();

    public PeriodicTimer(TimeSpan period) => _period = period;

    public async ValueTask<bool> WaitForNextTickAsync(CancellationToken cancellationToken = default)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposed.Token);
        try
        {
            await Task.Delay(_period, linked.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    public void Dispose()
    {
        _disposed.Cancel();
        _disposed.Dispose();
    }
}
