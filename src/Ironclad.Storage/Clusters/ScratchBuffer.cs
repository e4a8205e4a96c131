// Cluster-sized, 4096-byte-aligned native buffers for ciphertext staging. Aligned because kernel
// copies into poorly aligned destinations run up to 4x slower on this hardware (shared/bench/README).
// Invariant: a rented buffer is used by one thread at a time, and whoever stages plaintext in it
// clears that plaintext before returning it, so no plaintext outlives the operation.
using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Ironclad.Storage.Format;

namespace Ironclad.Storage.Clusters;

internal sealed unsafe class ScratchBuffer : IDisposable
{
    private const int PoolLimit = 64;
    private static readonly ConcurrentBag<ScratchBuffer> Pool = [];

    private byte* _memory;

    private ScratchBuffer()
    {
        _memory = (byte*)NativeMemory.AlignedAlloc(Layout.ClusterSizeBytes, Layout.UnitSizeBytes);
    }

    public Span<byte> Span => new(_memory, Layout.ClusterSizeBytes);

    public Span<byte> Units(int firstUnit, int unitCount) =>
        Span.Slice(firstUnit * Layout.UnitSizeBytes, unitCount * Layout.UnitSizeBytes);

    public static ScratchBuffer Rent() => Pool.TryTake(out var buffer) ? buffer : new ScratchBuffer();

    public void Return()
    {
        if (Pool.Count < PoolLimit)
        {
            Pool.Add(this);
        }
        else
        {
            Dispose();
        }
    }

    public void Dispose()
    {
        if (_memory != null)
        {
            NativeMemory.AlignedFree(_memory);
            _memory = null;
        }
    }
}
