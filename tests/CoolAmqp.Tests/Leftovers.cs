using System;
using System.Collections.Concurrent;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using NUnit.Framework;
using NUnit.Framework.Interfaces;

[assembly: CoolAmqp.Tests.NoUnobservedTaskExceptions]

namespace CoolAmqp.Tests;

/// <summary>
/// After every test of the assembly: a forced collection, then any task that faulted with nobody looking at its
/// exception fails the test that was running (a lost error is a bug, wherever it happens).
/// </summary>
[AttributeUsage(AttributeTargets.Assembly)]
public sealed class NoUnobservedTaskExceptionsAttribute : Attribute, ITestAction
{
    private static readonly ConcurrentQueue<string> Unobserved = new();

    static NoUnobservedTaskExceptionsAttribute() => TaskScheduler.UnobservedTaskException += (_, e) =>
    {
        Unobserved.Enqueue(e.Exception.ToString());
        e.SetObserved();
    };

    /// <inheritdoc />
    public ActionTargets Targets => ActionTargets.Test;

    /// <inheritdoc />
    public void BeforeTest(ITest test)
    {
    }

    /// <inheritdoc />
    public void AfterTest(ITest test)
    {
        for (int i = 0; i < 2; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        if (!Unobserved.IsEmpty)
        {
            string[] all = [.. Unobserved];
            Unobserved.Clear();
            Assert.Fail($"{all.Length} task(s) faulted and nobody observed the exception:{Environment.NewLine}" +
                string.Join(Environment.NewLine, all));
        }
    }
}

/// <summary>After the whole run, with every cluster of every test disposed: no thread of the library (a connection's
/// reader or writer, a consumer's dispatch thread) is left running.</summary>
[SetUpFixture]
public sealed class NoThreadsLeftBehind
{
    [OneTimeTearDown]
    public async Task EveryLibraryThreadHasEnded()
    {
        // Threads end a moment after their cluster's disposal returns.
        string[] left = LibraryThreads();
        for (int i = 0; i < 50 && left.Length > 0; i++)
        {
            await Task.Delay(100);
            left = LibraryThreads();
        }

        Assert.That(left, Is.Empty, "library threads still running after every test ended");
    }

    /// <summary>Threads whose kernel name (15 characters kept) is one the library gives its threads.</summary>
    internal static string[] LibraryThreads()
    {
        if (!Directory.Exists("/proc/self/task"))
        {
            return [];
        }

        return [.. Directory.GetDirectories("/proc/self/task").Select(Name).Where(n => n.StartsWith("CoolAmqp ", StringComparison.Ordinal))];

        static string Name(string task)
        {
            try
            {
                return File.ReadAllText(Path.Combine(task, "comm")).Trim();
            }
            catch (IOException)
            {
                return string.Empty; // It ended while we looked.
            }
        }
    }
}
