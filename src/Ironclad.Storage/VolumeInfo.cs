// Public description of a volume or snapshot: what callers may know without the data key.
namespace Ironclad.Storage;

public enum VolumeKind : byte
{
    /// <summary>A writable disk.</summary>
    Volume = 0,

    /// <summary>A read-only point-in-time copy of a volume.</summary>
    Snapshot = 1,
}

/// <param name="SourceId">For a snapshot, the volume it was taken of; for a volume created from a snapshot, that snapshot.</param>
/// <param name="MappedBytes">Bytes of 4 KiB data units that hold data (the rest read as zeros); shared units count for every volume that maps them.</param>
public sealed record VolumeInfo(Guid Id, VolumeKind Kind, long SizeBytes, Guid? SourceId, long MappedBytes);

public readonly record struct AllocatedRange(long OffsetBytes, long LengthBytes);

public sealed record StoreStatistics(int VolumeCount, long AllocatedClusters, long PendingFreeClusters, long ClusterSizeBytes, long JournalBytes)
{
    public long AllocatedBytes => AllocatedClusters * ClusterSizeBytes;
}
