using System;
using System.Threading;

namespace CoolAmqp.Compat;

/// <summary>netstandard2.0 lacks .NET Core 3's <c>IThreadPoolWorkItem</c>: the same shape, queued through a cached
/// delegate (one boxing-free callback per item; the item is the state).</summary>
internal interface IThreadPoolWorkItem
{
    void Execute();
}

/// <summary>The .NET Core 3 <see cref="ThreadPool"/> overloads the runtime calls, as static extension members so the
/// call sites stay as they are on .NET 8+. <c>preferLocal</c> has no equivalent here: items go to the global queue,
/// which is what every call site asks for anyway (<c>preferLocal: false</c>).</summary>
internal static class ThreadPoolCompat
{
    private static readonly WaitCallback RunWorkItem = static state => ((IThreadPoolWorkItem)state!).Execute();

    extension(ThreadPool)
    {
        public static bool UnsafeQueueUserWorkItem(IThreadPoolWorkItem callBack, bool preferLocal)
        {
            _ = preferLocal;
            return ThreadPool.UnsafeQueueUserWorkItem(RunWorkItem, callBack);
        }

        public static bool UnsafeQueueUserWorkItem<TState>(Action<TState> callBack, TState state, bool preferLocal)
        {
            _ = preferLocal;
            return ThreadPool.UnsafeQueueUserWorkItem(static s => ((Bound<TState>)s!).Run(), new Bound<TState>(callBack, state));
        }
    }

    private sealed class Bound<TState>(Action<TState> callBack, TState state)
    {
        public void Run() => callBack(state);
    }
}
