// The in-memory state of one volume or snapshot: its map root, its sharing epochs and its locks.
// Invariants: Root changes only under MapLock; SharedBefore and NodesFrozenThrough only grow; a
// snapshot's Root never changes after creation; every change is journaled under MapLock, so the
// journal's order matches the order in which changes became visible.
using Ironclad.Storage.Map;

namespace Ironclad.Storage.Volumes;

internal sealed class VolumeRecord
{
    public const int KeyCheckBytes = 32;

    public VolumeRecord(uint ordinal, Guid id, VolumeKind kind, long sizeBytes, ulong sharedBefore, Guid? sourceId, byte[] keyCheck, MapNode? root)
    {
        if (keyCheck.Length != KeyCheckBytes)
        {
            throw new ArgumentException("Key check value must be 32 bytes.", nameof(keyCheck));
        }

        Ordinal = ordinal;
        Id = id;
        Kind = kind;
        SizeBytes = sizeBytes;
        SharedBefore = sharedBefore;
        SourceId = sourceId;
        KeyCheck = keyCheck;
        Root = root;
    }

    /// <summary>Store-local number used in journal records instead of the 16-byte id.</summary>
    public uint Ordinal { get; }

    public Guid Id { get; }

    public VolumeKind Kind { get; }

    public long SizeBytes { get; set; }

    /// <summary>Cluster epoch of the last snapshot or clone creation: clusters born at or before it may be shared.</summary>
    public ulong SharedBefore { get; set; }

    /// <summary>Map-node generation at or below which this volume's nodes may be shared (copied on write).</summary>
    public long NodesFrozenThrough { get; set; }

    public Guid? SourceId { get; }

    /// <summary>HMAC-SHA256 of the data key: tells a wrong key from the right one without storing the key.</summary>
    public byte[] KeyCheck { get; }

    public MapNode? Root { get; set; }

    /// <summary>Count of valid 4 KiB units in the map (maintained with every entry change).</summary>
    public long MappedUnits { get; set; }

    public object MapLock { get; } = new();

    /// <summary>Data operations hold it shared; snapshot, trim, zero and resize hold it exclusively.</summary>
    public ReaderWriterLockSlim IoLock { get; } = new(LockRecursionPolicy.NoRecursion);

    public int OpenHandles { get; set; }

    public bool IsReadOnly => Kind == VolumeKind.Snapshot;

    public long ClusterCount => (SizeBytes + Format.Layout.ClusterSizeBytes - 1) >> Format.Layout.ClusterSizeLog2;

    public VolumeInfo ToInfo() => new(Id, Kind, SizeBytes, SourceId, MappedUnits * Format.Layout.UnitSizeBytes);
}
