using System;
using System.Threading;
using System.Threading.Tasks;
using CoolAmqp.Connections;
using NUnit.Framework;

namespace CoolAmqp.Tests.Connections;

[TestFixture]
public class ContinuationThreadTests
{
    private const string Name = "CoolAmqp continuations test";

    private static ContinuationThread StartIdle()
    {
        var thread = new ContinuationThread(Name);
        thread.Start();
        Assert.That(SpinWait.SpinUntil(() => thread.IsIdle, TimeSpan.FromSeconds(5)), Is.True, "never became idle");
        return thread;
    }

    private static Task<string?> PostAndReportThread(ContinuationThread thread, ExecutionContext? context = null,
        ManualResetEventSlim? hold = null)
    {
        var ran = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        thread.Post(_ =>
        {
            ran.SetResult(Thread.CurrentThread.Name);
            hold?.Wait(TimeSpan.FromSeconds(10));
        }, null, context);
        return ran.Task;
    }

    [Test]
    public async Task A_post_to_an_idle_thread_runs_on_it()
    {
        ContinuationThread thread = StartIdle();
        Assert.That(await PostAndReportThread(thread).WaitAsync(TimeSpan.FromSeconds(5)), Is.EqualTo(Name));
        thread.Stop();
    }

    [Test]
    public async Task A_post_while_it_runs_another_goes_to_the_pool_so_a_blocking_continuation_stalls_nothing()
    {
        ContinuationThread thread = StartIdle();
        using var hold = new ManualResetEventSlim();
        Assert.That(await PostAndReportThread(thread, hold: hold).WaitAsync(TimeSpan.FromSeconds(5)), Is.EqualTo(Name));

        // The first continuation still blocks: the second must run anyway, elsewhere.
        string? second = await PostAndReportThread(thread).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.That(second, Is.Not.EqualTo(Name));

        hold.Set();
        Assert.That(SpinWait.SpinUntil(() => thread.IsIdle, TimeSpan.FromSeconds(5)), Is.True, "idle again after it");
        Assert.That(await PostAndReportThread(thread).WaitAsync(TimeSpan.FromSeconds(5)), Is.EqualTo(Name));
        thread.Stop();
    }

    [Test]
    public async Task After_stop_the_thread_ends_and_posts_go_to_the_pool()
    {
        var thread = new ContinuationThread(Name + " stop");
        thread.Start();
        Assert.That(SpinWait.SpinUntil(() => thread.IsIdle, TimeSpan.FromSeconds(5)), Is.True);
        thread.Stop();
        Assert.That(thread.IsIdle, Is.False, "a stopped thread takes nothing");
        Assert.That(await PostAndReportThread(thread).WaitAsync(TimeSpan.FromSeconds(5)), Is.Not.EqualTo(Name + " stop"));
    }

    [Test]
    public async Task A_captured_execution_context_flows_into_the_continuation([Values] bool idle)
    {
        ContinuationThread thread = StartIdle();
        using var hold = new ManualResetEventSlim();
        if (!idle)
        {
            await PostAndReportThread(thread, hold: hold).WaitAsync(TimeSpan.FromSeconds(5));
        }

        var local = new AsyncLocal<string?> { Value = "flowed" };
        ExecutionContext context = ExecutionContext.Capture()!;
        local.Value = null;
        var seen = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        thread.Post(_ => seen.SetResult(local.Value), null, context);
        Assert.That(await seen.Task.WaitAsync(TimeSpan.FromSeconds(5)), Is.EqualTo("flowed"));
        hold.Set();

        // The held continuation may not have reached its wait yet: disposing the event under it would throw on the
        // thread and end the test process.
        Assert.That(SpinWait.SpinUntil(() => thread.IsIdle, TimeSpan.FromSeconds(5)), Is.True, "idle again after it");
        thread.Stop();
    }
}
