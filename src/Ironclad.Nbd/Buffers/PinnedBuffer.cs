// Pinned, 4096-byte-aligned buffers for request payloads and read replies, pooled by size class.
// Aligned because kernel copies into poorly aligned memory run up to 4x slower on this hardware
// (shared/bench/README.md); pinned and array-backed so sockets can gather-send them without copies.
// Invariant: a buffer is owned by one request at a time, from Rent until Return.
using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace Ironclad.Nbd.Buffers;

internal sealed class PinnedBuffer
{
    private const int Alignment = 4096;

    private PinnedBuffer(int capacity, int sizeClass)
    {
        Array = GC.AllocateUninitializedArray<byte>(capacity + Alignment, pinned: true);
        var address = (nint)Marshal.UnsafeAddrOfPinnedArrayElement(Array, 0);
        Offset = (int)((Alignment - (address % Alignment)) % Alignment);
        Capacity = capacity;
        SizeClass = sizeClass;
    }

    public byte[] Array { get; }

    public int Offset { get; }

    public int Capacity { get; }

    private int SizeClass { get; }

    public Memory<byte> Memory(int length) => Array.AsMemory(Offset, length);

    public Span<byte> Span(int length) => Array.AsSpan(Offset, length);

    public ArraySegment<byte> Segment(int length) => new(Array, Offset, length);

    /// <summary>Pool of buffers in power-of-two size classes from 4 KiB up to the largest payload.</summary>
    internal sealed class Pool
    {
        private const int SmallestLog2 = 12;
        private const int KeepPerClass = 64;
        private readonly ConcurrentBag<PinnedBuffer>[] _classes;
        private readonly int _largestBytes;

        public Pool(int largestBytes)
        {
            _largestBytes = largestBytes;
            _classes = new ConcurrentBag<PinnedBuffer>[ClassOf(largestBytes) + 1];
            for (var i = 0; i < _classes.Length; i++)
            {
                _classes[i] = [];
            }
        }

        public PinnedBuffer Rent(int length)
        {
            if (length > _largestBytes)
            {
                throw new ArgumentOutOfRangeException(nameof(length), "Larger than the largest payload the server accepts.");
            }

            var sizeClass = ClassOf(length);
            return _classes[sizeClass].TryTake(out var buffer) ? buffer : new PinnedBuffer(1 << (sizeClass + SmallestLog2), sizeClass);
        }

        public void Return(PinnedBuffer buffer)
        {
            var bag = _classes[buffer.SizeClass];
            if (bag.Count < KeepPerClass)
            {
                bag.Add(buffer);
            }
        }

        private static int ClassOf(int length)
        {
            var log2 = length <= 1 << SmallestLog2 ? SmallestLog2 : 32 - System.Numerics.BitOperations.LeadingZeroCount((uint)length - 1);
            return log2 - SmallestLog2;
        }
    }
}
