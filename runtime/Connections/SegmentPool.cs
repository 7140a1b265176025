using System;
using System.Buffers;
using System.Threading;

namespace CoolAmqp.Connections;

/// <summary>
/// The memory pool of a connection's outbound pipe: keeps its fixed-size segments (array and owner object) for
/// reuse, so a publisher running megabytes ahead of the socket recycles the same buffers instead of draining
/// <see cref="ArrayPool{T}.Shared"/> and allocating. Larger requests (one big publish) are rented from the shared
/// array pool and not kept.
/// </summary>
internal sealed class SegmentPool : MemoryPool<byte>
{
    private readonly object _sync = new();
    private readonly Segment?[] _free;
    private readonly int _segmentSize;
    private int _count;

    /// <param name="segmentSize">Size of the pooled segments.</param>
    /// <param name="maxKept">How many free segments to keep at most.</param>
    public SegmentPool(int segmentSize, int maxKept)
    {
        _segmentSize = segmentSize;
        _free = new Segment?[maxKept];
    }

    /// <inheritdoc/>
    public override int MaxBufferSize => Array.MaxLength;

    /// <inheritdoc/>
    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        if (minBufferSize > _segmentSize)
        {
            return new Oversized(minBufferSize);
        }

        lock (_sync)
        {
            if (_count > 0)
            {
                Segment segment = _free[--_count]!;
                _free[_count] = null;
                return segment;
            }
        }

        return new Segment(this, new byte[_segmentSize]);
    }

    private void Return(Segment segment)
    {
        lock (_sync)
        {
            if (_count < _free.Length)
            {
                _free[_count++] = segment;
            }
        }
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        lock (_sync)
        {
            Array.Clear(_free);
            _count = 0;
        }
    }

    private sealed class Segment : IMemoryOwner<byte>
    {
        private readonly SegmentPool _pool;
        private readonly byte[] _array;

        public Segment(SegmentPool pool, byte[] array)
        {
            _pool = pool;
            _array = array;
        }

        public Memory<byte> Memory => _array;

        public void Dispose() => _pool.Return(this);
    }

    private sealed class Oversized : IMemoryOwner<byte>
    {
        private byte[]? _array;

        public Oversized(int size) => _array = ArrayPool<byte>.Shared.Rent(size);

        public Memory<byte> Memory => _array ?? throw new ObjectDisposedException(nameof(SegmentPool));

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _array, null) is { } array)
            {
                ArrayPool<byte>.Shared.Return(array);
            }
        }
    }
}
