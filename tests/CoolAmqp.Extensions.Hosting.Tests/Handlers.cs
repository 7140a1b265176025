using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;

namespace CoolAmqp.Extensions.Hosting.Tests;

/// <summary>A scoped service: one instance per message, if the hosting creates a scope per message.</summary>
internal sealed class PerMessage
{
    public Guid Id { get; } = Guid.NewGuid();
}

/// <summary>What a handler saw of one delivery.</summary>
internal sealed record Seen(string Body, Guid ScopedId, bool ScopeIsConsistent, bool Redelivered);

/// <summary>A singleton the tests read: what the handlers saw, in order.</summary>
internal sealed class Deliveries
{
    private readonly ConcurrentQueue<Seen> _seen = new();

    public void Add(Seen seen) => _seen.Enqueue(seen);

    public IReadOnlyList<Seen> All => [.. _seen];

    public Task<bool> CountReachesAsync(int count) =>
        Broker.EventuallyAsync(() => Task.FromResult(_seen.Count >= count), TimeSpan.FromSeconds(10));
}

/// <summary>Records each delivery with its scoped service (and whether the scope's provider gives the same one).</summary>
internal sealed class RecordingHandler(Deliveries deliveries, PerMessage scoped, IServiceProvider scope) : IMessageHandler
{
    public Task HandleAsync(ReceivedMessage message, CancellationToken cancellationToken)
    {
        deliveries.Add(new Seen(Encoding.UTF8.GetString(message.Body.Span), scoped.Id,
            ReferenceEquals(scoped, scope.GetRequiredService<PerMessage>()), message.Redelivered));
        return Task.CompletedTask;
    }
}

/// <summary>Fails every message.</summary>
internal sealed class FailingHandler(Deliveries deliveries, PerMessage scoped) : IMessageHandler
{
    public Task HandleAsync(ReceivedMessage message, CancellationToken cancellationToken)
    {
        deliveries.Add(new Seen(Encoding.UTF8.GetString(message.Body.Span), scoped.Id, true, message.Redelivered));
        throw new InvalidOperationException("the handler failed, as the test wants");
    }
}

/// <summary>Fails a message the first time it sees it (not redelivered), handles it when it comes again.</summary>
internal sealed class FailOnceHandler(Deliveries deliveries, PerMessage scoped) : IMessageHandler
{
    public Task HandleAsync(ReceivedMessage message, CancellationToken cancellationToken)
    {
        deliveries.Add(new Seen(Encoding.UTF8.GetString(message.Body.Span), scoped.Id, true, message.Redelivered));
        return message.Redelivered ? Task.CompletedTask : throw new InvalidOperationException("first time: fail");
    }
}

/// <summary>How <see cref="WaitingHandler"/> behaves and what it saw.</summary>
internal sealed class Gate
{
    public TaskCompletionSource Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource Cancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Return normally when the token fires, after half a second of finishing up (work that completes
    /// during the shutdown), instead of throwing.</summary>
    public bool FinishWhenCancelled { get; init; }
}

/// <summary>Waits for its token: a handler still busy when the host stops.</summary>
internal sealed class WaitingHandler(Gate gate) : IMessageHandler
{
    public async Task HandleAsync(ReceivedMessage message, CancellationToken cancellationToken)
    {
        gate.Started.TrySetResult();
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            gate.Cancelled.TrySetResult();
            if (!gate.FinishWhenCancelled)
            {
                throw;
            }

            // Long enough that a consumer cancelled without waiting for its handlers would have closed its channel.
            await Task.Delay(500, CancellationToken.None);
        }
    }
}

internal static class Bodies
{
    public static string[] Of(IEnumerable<Seen> seen) => [.. seen.Select(s => s.Body)];
}
