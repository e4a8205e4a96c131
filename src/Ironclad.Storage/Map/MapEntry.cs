// One slot of a volume's cluster map: where a 64 KiB virtual cluster lives and which of its sixteen
// 4 KiB units hold data. Layout (frozen, 16 bytes on disk): Word = physical cluster (bits 0-39) |
// valid-unit bitmap (bits 40-55) | reserved, zero (bits 56-63); Birth = cluster epoch at allocation.
// Invariant: an entry is allocated iff its bitmap is non-zero; unset units read as zeros.
using Ironclad.Storage.Format;

namespace Ironclad.Storage.Map;

internal readonly record struct MapEntry(ulong Word, ulong Birth)
{
    private const ulong PhysicalMask = (1UL << Layout.PhysicalClusterBits) - 1;

    public static MapEntry Empty => default;

    public bool IsAllocated => ValidUnits != 0;

    public ulong PhysicalCluster => Word & PhysicalMask;

    public ushort ValidUnits => (ushort)(Word >> Layout.PhysicalClusterBits);

    public static MapEntry Create(ulong physicalCluster, ushort validUnits, ulong birth)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(physicalCluster, PhysicalMask);
        return validUnits == 0 ? Empty : new MapEntry(physicalCluster | ((ulong)validUnits << Layout.PhysicalClusterBits), birth);
    }

    public MapEntry WithValidUnits(ushort validUnits) => Create(PhysicalCluster, validUnits, Birth);

    public bool IsValid => (Word >> (Layout.PhysicalClusterBits + 16)) == 0;
}
