using System.Threading;

namespace CoolAmqp;

/// <summary>The publishes of one kind (plain, or confirming) that wait for their turn: <see cref="Cluster"/> appends them
/// in the order they came, and <see cref="Recovery.Republisher"/> takes a turn for the publishes it sends again.</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA2213:Disposable fields should be disposed",
    Justification = "The SemaphoreSlim never creates its wait handle (only WaitAsync is used).")]
internal sealed class PublishQueue
{
    private int _waiting;

    /// <summary>One publish at a time appends; SemaphoreSlim hands its turn to async waiters in the order they came.</summary>
    public SemaphoreSlim Turn { get; } = new(1, 1);

    /// <summary>Whether no publish of this kind is waiting (a new one may then append at once).</summary>
    public bool IsEmpty => Volatile.Read(ref _waiting) == 0;

    public void Enter() => Interlocked.Increment(ref _waiting);

    public void Leave() => Interlocked.Decrement(ref _waiting);
}
