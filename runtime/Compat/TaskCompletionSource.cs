using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace CoolAmqp.Compat;

/// <summary>netstandard2.0 has only the generic <c>TaskCompletionSource&lt;T&gt;</c>: this is .NET 5's non-generic one
/// over it, with the members the runtime calls, so call sites read the same on every target.</summary>
internal sealed class TaskCompletionSource
{
    private readonly TaskCompletionSource<bool> _inner;

    public TaskCompletionSource() => _inner = new TaskCompletionSource<bool>();

    public TaskCompletionSource(TaskCreationOptions creationOptions) =>
        _inner = new TaskCompletionSource<bool>(creationOptions);

    public Task Task => _inner.Task;

    public void SetResult() => _inner.SetResult(true);

    public bool TrySetResult() => _inner.TrySetResult(true);

    public void SetException(Exception exception) => _inner.SetException(exception);

    public bool TrySetException(Exception exception) => _inner.TrySetException(exception);

    public bool TrySetException(IEnumerable<Exception> exceptions) => _inner.TrySetException(exceptions);

    public void SetCanceled() => _inner.SetCanceled();

    public bool TrySetCanceled() => _inner.TrySetCanceled();

    public bool TrySetCanceled(CancellationToken cancellationToken) => _inner.TrySetCanceled(cancellationToken);
}
