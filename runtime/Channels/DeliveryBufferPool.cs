using System.Buffers;

namespace CoolAmqp.Channels;

/// <summary>
/// Where pooled-mode deliveries rent their buffers. <see cref="ArrayPool{T}.Shared"/> keeps only a few arrays
/// per size and per core, and a delivery's buffer is rented on the read loop but returned on the consumer's
/// thread, often hundreds of deliveries later (prefetch): the shared pool then runs dry and every rent
/// allocates. These pools keep as many arrays as a prefetch window typically holds, bounded in bytes.
/// </summary>
internal static class DeliveryBufferPool
{
    /// <summary>Up to this size buffers come from a pool of 1,024 per size; above it, records own theirs (see
    /// <see cref="DeliveryRecord.PrepareBuffer"/>).</summary>
    public const int SmallMax = 8 * 1024;
    private const int LargeMax = 256 * 1024;

    // At most 1,024 arrays of each size up to 8 KiB (8 MiB for the largest size) ...
    private static readonly ArrayPool<byte> Small = ArrayPool<byte>.Create(SmallMax, 1024);

    // ... and 128 of each size up to 256 KiB (32 MiB for the largest); bigger ones use the shared pool.
    private static readonly ArrayPool<byte> Large = ArrayPool<byte>.Create(LargeMax, 128);

    /// <summary>The pool to rent a buffer of <paramref name="size"/> bytes from (and return it to).</summary>
    public static ArrayPool<byte> For(int size) => size <= SmallMax ? Small : size <= LargeMax ? Large : ArrayPool<byte>.Shared;
}
