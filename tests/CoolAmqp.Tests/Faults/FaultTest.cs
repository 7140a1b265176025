using System;
using System.Collections.Concurrent;
using System.Threading;
using System.Threading.Tasks;
using CoolAmqp.Connections;
using CoolAmqp.Framing;
using Microsoft.Extensions.Logging;
using NUnit.Framework;
using CoolAmqp.Tests.Integration;
using NUnit.Framework.Interfaces;

namespace CoolAmqp.Tests.Faults;

/// <summary>
/// What every fault test shares: a deadline so nothing can hang the suite, a watch on
/// <see cref="TaskScheduler.UnobservedTaskException"/> (a faulted task nobody looked at is a bug: the error is lost),
/// checked after a forced collection at the end of each test, the runtime's log (printed when a test fails),
/// and assertions on the typed outcome of a failure.
/// </summary>
public abstract class FaultTest
{
    private readonly ConcurrentQueue<string> _unobserved = new();
    private CancellationTokenSource? _deadline;
    private LogSink? _log;

    /// <summary>The runtime's log lines so far in this test.</summary>
    protected string[] LogLines => [.. _log!.Lines];

    /// <summary>Cancelled when the test runs too long (NUnit's CancelAfter, or 30 s).</summary>
    protected CancellationToken Deadline => _deadline!.Token;

    [OneTimeSetUp]
    public void WatchUnobservedTasks() => TaskScheduler.UnobservedTaskException += OnUnobservedTaskException;

    [OneTimeTearDown]
    public void StopWatchingUnobservedTasks() => TaskScheduler.UnobservedTaskException -= OnUnobservedTaskException;

    [SetUp]
    public void BeforeEach()
    {
        // Whatever an earlier test (of any fixture) left behind is not this test's doing.
        CollectGarbage();
        while (_unobserved.TryDequeue(out string? earlier))
        {
            TestContext.Progress.WriteLine("Unobserved task exception from before this test: " + earlier);
        }

        _deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.CurrentContext.CancellationToken);
        _deadline.CancelAfter(TimeSpan.FromSeconds(30));
        _log = new LogSink();
    }

    [TearDown]
    public void AfterEach()
    {
        _deadline?.Dispose();
        _log?.Dispose();
        CollectGarbage();
        if (TestContext.CurrentContext.Result.Outcome.Status == TestStatus.Failed)
        {
            TestContext.Out.WriteLine("Runtime log:");
            foreach (string line in _log!.Lines)
            {
                TestContext.Out.WriteLine(line);
            }
        }

        if (!_unobserved.IsEmpty)
        {
            string all = string.Join(Environment.NewLine + "----" + Environment.NewLine, _unobserved);
            _unobserved.Clear();
            Assert.Fail("A task faulted and nobody observed its exception:" + Environment.NewLine + all);
        }
    }

    private void OnUnobservedTaskException(object? sender, UnobservedTaskExceptionEventArgs e)
    {
        _unobserved.Enqueue(e.Exception.ToString());
        e.SetObserved();
    }

    protected static void CollectGarbage()
    {
        for (int i = 0; i < 2; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
    }

    /// <summary>Cluster options for a test: its name, a logger into the test's log, and no reconnection: these tests
    /// are about how one connection fails (recovery has tests of its own).</summary>
    protected ClusterOptions Options() => new()
    {
        Name = TestContext.CurrentContext.Test.Name,
        LoggerFactory = _log!.Factory,
        ShutdownTimeout = TimeSpan.FromSeconds(2),
        Recovery = new RecoveryOptions { Enabled = false },
    };

    // ---- bounded waiting ----

    protected static async Task Within(Task task, double seconds, string what)
    {
        try
        {
            await task.WaitAsync(TimeSpan.FromSeconds(seconds));
        }
        catch (TimeoutException) when (!task.IsCompleted)
        {
            throw new AssertionException($"{what} did not complete within {seconds} s.");
        }
    }

    protected static async Task<T> Within<T>(Task<T> task, double seconds, string what)
    {
        try
        {
            return await task.WaitAsync(TimeSpan.FromSeconds(seconds));
        }
        catch (TimeoutException) when (!task.IsCompleted)
        {
            throw new AssertionException($"{what} did not complete within {seconds} s.");
        }
    }

    /// <summary>The exception <paramref name="task"/> fails with; the test fails if it succeeds or hangs.</summary>
    protected static async Task<Exception> FailureOf(Task task, double seconds, string what)
    {
        try
        {
            await task.WaitAsync(TimeSpan.FromSeconds(seconds));
        }
        catch (TimeoutException) when (!task.IsCompleted)
        {
            throw new AssertionException($"{what} neither failed nor completed within {seconds} s: it hangs.");
        }
        catch (Exception ex)
        {
            return ex;
        }

        throw new AssertionException($"{what} succeeded; it should have failed.");
    }

    // ---- setting up against the scripted server ----

    /// <summary>Starts <paramref name="cluster"/> against <paramref name="server"/> and accepts the connection;
    /// nothing is read or sent yet, so the test scripts the server's side of the handshake.</summary>
    /// <returns>StartAsync's task and the server's side of the connection.</returns>
    private async Task<(Task Start, ServerConnection Server)> BeginStartAsync(Cluster cluster, ScriptedServer server,
        TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        Task<ServerConnection> accepted = server.AcceptAsync(Deadline);
        Task start = cluster.StartAsync(timeout: timeout, cancellationToken: cancellationToken);
        return (start, await Within(accepted, 5, "accepting the client"));
    }

    /// <summary>Starts <paramref name="cluster"/> against <paramref name="server"/>, whose side of the handshake
    /// stops where <paramref name="stall"/> says (<see cref="HandshakeStall.BeforeStart"/>: after the protocol
    /// header, for a test that sends the rest itself); from there the server records what the client sends and
    /// answers nothing.</summary>
    /// <returns>StartAsync's task and the server's side of the connection.</returns>
    private protected async Task<(Task Start, ServerConnection Server)> StartStalledAsync(Cluster cluster, ScriptedServer server,
        HandshakeStall stall, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var (start, connection) = await BeginStartAsync(cluster, server, timeout, cancellationToken);
        await Within(connection.HandshakeAsync(Deadline, stall: stall), 5, "the partial handshake");
        connection.StartRecording();
        return (start, connection);
    }

    /// <summary>A cluster connected to <paramref name="server"/> through a full handshake, and the server's side
    /// of that connection, answering like a broker.</summary>
    private protected async Task<(Cluster Cluster, ServerConnection Server)> OpenAsync(ScriptedServer server, ushort heartbeat = 0,
        uint frameMax = 131072, int? clientHeartbeat = null, ushort channelMax = 2047, ClusterOptions? options = null)
    {
        var cluster = new Cluster(server.Node(clientHeartbeat), options ?? Options());
        var (start, connection) = await BeginStartAsync(cluster, server, TimeSpan.FromSeconds(5));
        await Within(connection.HandshakeAsync(Deadline, heartbeat, frameMax, channelMax), 5, "the handshake");
        connection.StartResponder();
        await Within(start, 5, "StartAsync");
        return (cluster, connection);
    }

    /// <summary>A consumer of <paramref name="queue"/> that went online, and the channel its basic.consume came on.</summary>
    private protected async Task<(Consumer Consumer, ushort Channel)> ConsumeAsync(Cluster cluster, ServerConnection server,
        string queue, Action<ReceivedMessage>? onMessage = null, BodyReceiveMode bodyReceiveMode = BodyReceiveMode.Copied)
    {
        var (consumer, ready) = cluster.Consume(new Queue(queue), onMessage, bodyReceiveMode: bodyReceiveMode);
        await Within(ready, 5, "the consumer going online");
        InboundFrame consume = await Within(server.WaitForMethodAsync(BasicConsume.CommandIdValue, Deadline), 5, "basic.consume");
        return (consumer, consume.Channel);
    }

    /// <summary>A consumer with <paramref name="options"/> that went online, its channel and its consumer tag.</summary>
    private protected async Task<(Consumer Consumer, ushort Channel, string Tag)> ConsumeWithAsync(Cluster cluster,
        ServerConnection server, string queue, ConsumerOptions options)
    {
        var (consumer, ready) = cluster.Consume(new Queue(queue), options);
        await Within(ready, 5, "the consumer going online");
        InboundFrame consume = await Within(server.WaitForMethodAsync(BasicConsume.CommandIdValue, Deadline), 5, "basic.consume");
        return (consumer, consume.Channel, server.ConsumerTagOf(consume.Channel));
    }

    // ---- asserting the outcome ----

    /// <summary>The connection broke because the peer sent bytes that are not AMQP: a
    /// <see cref="ConnectionDeadException"/> caused by an <see cref="AmqpFrameFormatException"/>.</summary>
    protected static void AssertFrameError(Exception error)
    {
        AssertNoProgrammingErrors(error);
        Assert.That(error, Is.TypeOf<ConnectionDeadException>(), error.ToString());
        Assert.That(error.InnerException, Is.TypeOf<AmqpFrameFormatException>(), error.ToString());
        Assert.That(error.Message, Does.Contain("malformed"), "the reason says what was wrong");
        TestContext.Out.WriteLine("Frame error: " + error.InnerException!.Message);
    }

    /// <summary>The connection broke because the peer sent well-formed frames the protocol does not allow there: a
    /// <see cref="ConnectionDeadException"/> caused by a <see cref="ProtocolViolationException"/>.</summary>
    protected static void AssertProtocolViolation(Exception error)
    {
        AssertNoProgrammingErrors(error);
        Assert.That(error, Is.TypeOf<ConnectionDeadException>(), error.ToString());
        Assert.That(error.InnerException, Is.TypeOf<ProtocolViolationException>(), error.ToString());
        TestContext.Out.WriteLine("Protocol violation: " + error.InnerException!.Message);
    }

    /// <summary>Before breaking, the client told the server why with connection.close and this reply code.</summary>
    private protected async Task AssertClientSentCloseAsync(ServerConnection server, ReplyCode code)
    {
        InboundFrame close = await Within(server.WaitForMethodAsync(ConnectionClose.CommandIdValue, Deadline), 5,
            "the client's connection.close");
        Assert.That(close.Channel, Is.EqualTo(0));
        Assert.That(ConnectionClose.Read(close.Arguments).ReplyCode, Is.EqualTo((ushort)code));
    }

    /// <summary>The connection died (socket closed, reset, heartbeat, timeout): a <see cref="ConnectionDeadException"/>.</summary>
    protected static void AssertConnectionDead(Exception error)
    {
        AssertNoProgrammingErrors(error);
        Assert.That(error, Is.TypeOf<ConnectionDeadException>(), error.ToString());
    }

    /// <summary>A confirmed publish that was sent and lost its connection before the confirm.</summary>
    protected static void AssertOutcomeUnknown(Exception error)
    {
        AssertNoProgrammingErrors(error);
        Assert.That(error, Is.TypeOf<PublishOutcomeUnknownException>(), error.ToString());
        Assert.That(error.InnerException, Is.TypeOf<ConnectionDeadException>(), "why the connection was lost");
        Assert.That(error.Message, Does.Contain("may or may not"));
    }

    /// <summary>Nowhere in the chain an exception that means a bug rather than bad input.</summary>
    protected static void AssertNoProgrammingErrors(Exception error)
    {
        for (Exception? e = error; e is not null; e = e.InnerException)
        {
            Assert.That(e, Is.Not.InstanceOf<IndexOutOfRangeException>()
                .And.Not.InstanceOf<ArgumentOutOfRangeException>()
                .And.Not.InstanceOf<NullReferenceException>()
                .And.Not.InstanceOf<InvalidCastException>()
                .And.Not.InstanceOf<AggregateException>(), error.ToString());
        }
    }

    /// <summary>The next event is a message with exactly this body.</summary>
    protected static async Task AssertReceivesAsync(Cluster cluster, byte[] body)
    {
        ClusterEvent e = await Within(cluster.DrainAsync(TimeSpan.FromSeconds(5)).AsTask(), 10, "DrainAsync");
        Assert.That(e, Is.TypeOf<MessageReceived>());
        using ReceivedMessage message = ((MessageReceived)e).Message;
        Assert.That(message.Body.ToArray(), Is.EqualTo(body));
    }

    /// <summary>A start that failed is its caller's to hear of: the cluster posts no <see cref="ConnectionLost"/> for a
    /// connection that never opened (CoolAMQP's on_fail semantics).</summary>
    protected static async Task AssertNoEventAfterFailedStartAsync(Cluster cluster)
    {
        ClusterEvent e = await Within(cluster.DrainAsync(TimeSpan.FromMilliseconds(200)).AsTask(), 5, "DrainAsync");
        Assert.That(e, Is.SameAs(NothingMuch.Instance), "a connection that never opened is not reported as lost");
    }

    /// <summary>The cluster reported the loss as an event; <paramref name="reason"/> checks why.</summary>
    protected static async Task<ConnectionLost> AssertConnectionLostAsync(Cluster cluster, Action<Exception> reason)
    {
        ClusterEvent e = await Within(cluster.DrainAsync(TimeSpan.FromSeconds(5)).AsTask(), 10, "DrainAsync");
        Assert.That(e, Is.TypeOf<ConnectionLost>(), "DrainAsync should report the lost connection");
        var lost = (ConnectionLost)e;
        Assert.That(lost.Reason, Is.Not.Null);
        reason(lost.Reason!);
        return lost;
    }
}
