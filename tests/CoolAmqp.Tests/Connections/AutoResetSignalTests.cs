using System;
using System.Threading;
using System.Threading.Tasks;
using CoolAmqp.Connections;
using NUnit.Framework;

namespace CoolAmqp.Tests.Connections;

[TestFixture]
public class AutoResetSignalTests
{
    [Test]
    public void A_set_before_the_wait_lets_one_wait_through_at_once()
    {
        var signal = new AutoResetSignal();
        signal.Set();
        signal.Set(); // setting a set signal is one set, not two
        Assert.That(Task.Run(signal.Wait).Wait(TimeSpan.FromSeconds(5)), Is.True, "first wait");
        Assert.That(Task.Run(signal.Wait).Wait(TimeSpan.FromMilliseconds(200)), Is.False, "second wait must block");
        signal.Set(); // release the blocked waiter so the pool thread ends
    }

    [Test]
    public void A_set_wakes_a_sleeping_waiter()
    {
        var signal = new AutoResetSignal();
        var woke = new ManualResetEventSlim();
        var waiter = new Thread(() =>
        {
            signal.Wait();
            woke.Set();
        }) { IsBackground = true };
        waiter.Start();
        Thread.Sleep(100);
        Assert.That(woke.IsSet, Is.False, "woke without a set");
        signal.Set();
        Assert.That(woke.Wait(TimeSpan.FromSeconds(5)), Is.True, "not woken by the set");
    }

    [Test]
    public void No_wake_up_is_lost_between_many_setters_and_one_waiter()
    {
        const int PerSetter = 50_000;
        const int Setters = 4;
        var signal = new AutoResetSignal();
        long produced = 0;
        long seen = 0;
        var consumer = new Thread(() =>
        {
            // Every produce is followed by a set, so the waiter must see every increment eventually.
            while (Volatile.Read(ref seen) < PerSetter * Setters)
            {
                signal.Wait();
                Volatile.Write(ref seen, Volatile.Read(ref produced));
            }
        }) { IsBackground = true };
        consumer.Start();
        Task[] setters = StartSetters(signal, () => Interlocked.Increment(ref produced), Setters, PerSetter);

        Assert.That(Task.WaitAll(setters, TimeSpan.FromSeconds(30)), Is.True, "setters finished");
        Assert.That(consumer.Join(TimeSpan.FromSeconds(10)), Is.True,
            $"the waiter is stuck at {Volatile.Read(ref seen)} of {PerSetter * Setters}: a wake-up was lost");
    }

    [Test]
    public async Task An_async_waiter_sees_every_set_from_many_threads()
    {
        const int PerSetter = 50_000;
        const int Setters = 4;
        var signal = new AutoResetSignal();
        long produced = 0;
        Task[] setters = StartSetters(signal, () => Interlocked.Increment(ref produced), Setters, PerSetter);

        Task waiter = Task.Run(async () =>
        {
            while (Volatile.Read(ref produced) < PerSetter * Setters)
            {
                await signal.WaitAsync();
            }
        });
        await Task.WhenAll(setters).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.That(await Task.WhenAny(waiter, Task.Delay(TimeSpan.FromSeconds(10))), Is.SameAs(waiter),
            "the async waiter is stuck: a wake-up was lost");
    }

    /// <summary>Threads that each count once and set the signal, <paramref name="each"/> times.</summary>
    private static Task[] StartSetters(AutoResetSignal signal, Action produce, int setters, int each)
    {
        var tasks = new Task[setters];
        for (int s = 0; s < setters; s++)
        {
            tasks[s] = Task.Run(() =>
            {
                for (int i = 0; i < each; i++)
                {
                    produce();
                    signal.Set();
                }
            });
        }

        return tasks;
    }
}
