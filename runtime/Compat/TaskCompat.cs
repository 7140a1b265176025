using System;
using System.Threading;
using System.Threading.Tasks;

namespace CoolAmqp.Compat;

/// <summary>.NET 6's <c>Task.WaitAsync</c> and .NET Core 2's <c>IsCompletedSuccessfully</c> for netstandard2.0:
/// the wait races the task against a delay and the token, and the task goes on when the wait gives up, as on .NET 6.</summary>
internal static class TaskCompat
{
    extension(Task task)
    {
        public bool IsCompletedSuccessfully => task.Status == TaskStatus.RanToCompletion;

        public Task WaitAsync(CancellationToken cancellationToken) => task.WaitAsync(Timeout.InfiniteTimeSpan, cancellationToken);

        public Task WaitAsync(TimeSpan timeout) => task.WaitAsync(timeout, CancellationToken.None);

        public async Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
        {
            await WaitCoreAsync(task, timeout, cancellationToken).ConfigureAwait(false);
            await task.ConfigureAwait(false);
        }
    }

    extension<T>(Task<T> task)
    {
        public Task<T> WaitAsync(CancellationToken cancellationToken) => task.WaitAsync(Timeout.InfiniteTimeSpan, cancellationToken);

        public Task<T> WaitAsync(TimeSpan timeout) => task.WaitAsync(timeout, CancellationToken.None);

        public async Task<T> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
        {
            await WaitCoreAsync(task, timeout, cancellationToken).ConfigureAwait(false);
            return await task.ConfigureAwait(false);
        }
    }

    private static async Task WaitCoreAsync(Task task, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (task.IsCompleted || (timeout == Timeout.InfiniteTimeSpan && !cancellationToken.CanBeCanceled))
        {
            return;
        }

        cancellationToken.ThrowIfCancellationRequested();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task delay = Task.Delay(timeout, stop.Token);
        Task first = await Task.WhenAny(task, delay).ConfigureAwait(false);
        if (first != task)
        {
            cancellationToken.ThrowIfCancellationRequested();
            throw new TimeoutException();
        }

        stop.Cancel();
    }
}
