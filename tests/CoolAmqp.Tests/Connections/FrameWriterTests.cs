using System;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using CoolAmqp.Connections;
using NUnit.Framework;

namespace CoolAmqp.Tests.Connections;

[TestFixture]
public class FrameWriterTests
{
    /// <summary>
    /// A publish waiting for room retries on the next connection only if it sees the connection no longer open when it
    /// wakes: so the owner must hear of a write failure (and leave its open state) before the writer fails its
    /// waiters. The other order was a race that let a waiting publish fail during recovery.
    /// </summary>
    [Test]
    public async Task A_write_failure_reaches_the_owner_before_the_writer_fails_the_publishes_waiting_for_room()
    {
        using var stream = new GatedFailingStream();
        FrameWriter? writer = null;
        bool? faultedWhenHeard = null;
        bool? roomDoneWhenHeard = null;
        Task room = Task.CompletedTask;
        var heard = new TaskCompletionSource<Exception>(TaskCreationOptions.RunContinuationsAsynchronously);
        writer = new FrameWriter(highWaterBytes: 0, ex =>
        {
            faultedWhenHeard = writer!.IsFaulted;
            roomDoneWhenHeard = room.IsCompleted;
            heard.TrySetResult(ex);
        }, observer: null);
        writer.Start(stream, "FrameWriterTests writer");

        writer.WriteHeartbeat();
        Assert.That(stream.WriteStarted.Wait(TimeSpan.FromSeconds(5)), Is.True, "the writer thread began the write");
        room = writer.WaitForCapacityAsync(CancellationToken.None).AsTask();
        Assert.That(room.IsCompleted, Is.False, "the heartbeat is not sent yet: above the high-water mark");

        stream.Fail();
        Exception reason = await heard.Task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.That(reason, Is.TypeOf<IOException>());
        Assert.That(faultedWhenHeard, Is.False, "the writer failed its waiters before its owner heard");
        Assert.That(roomDoneWhenHeard, Is.False, "the waiting publish woke before the owner heard");

        ConnectionDeadException? failure = Assert.ThrowsAsync<ConnectionDeadException>(
            async () => await room.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.That(failure!.Message, Does.Contain("Writing to the broker failed").And.Contain("link down"));
        Assert.That(writer.IsFaulted, Is.True);
    }

    /// <summary>Its first write blocks until <see cref="Fail"/>, then throws.</summary>
    private sealed class GatedFailingStream : Stream
    {
        private readonly ManualResetEventSlim _failed = new();

        public ManualResetEventSlim WriteStarted { get; } = new();

        public void Fail() => _failed.Set();

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            WriteStarted.Set();
            _failed.Wait();
            throw new IOException("link down");
        }

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _failed.Set();
                _failed.Dispose();
                WriteStarted.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
