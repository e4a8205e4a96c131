// A volume store: one directory holding encrypted sparse volumes, their copy-on-write snapshots and
// clones, a metadata journal and checkpoints (docs/on-disk-format.md). This file holds the catalog
// and the metadata operations; VolumeStore.Durability.cs holds commit, checkpoint and garbage
// collection; VolumeStore.Recovery.cs holds open and replay; Volume.cs holds the data path.
// Invariants: every metadata operation is durable when it returns; the store never serves a volume
// with a key other than the one it was created with; nothing plaintext is written to the directory.
using Ironclad.Crypto.Keys;
using Ironclad.Crypto.Xts;
using Ironclad.Storage.Clusters;
using Ironclad.Storage.Format;
using Ironclad.Storage.Journal;
using Ironclad.Storage.Map;
using Ironclad.Storage.Volumes;

namespace Ironclad.Storage;

public sealed partial class VolumeStore : IDisposable
{
    private const int StripeCount = 4096;

    private readonly string _directory;
    private readonly string _metaDirectory;
    private readonly VolumeStoreOptions _options;
    private readonly FileStream _directoryLock;
    private readonly DataFiles _dataFiles;
    private readonly ClusterAllocator _allocator = new();
    private readonly Lock _catalogLock = new();
    private readonly Dictionary<Guid, VolumeRecord> _volumesById = [];
    private readonly Dictionary<uint, VolumeRecord> _volumesByOrdinal = [];
    private readonly Lock[] _stripes;
    private JournalWriter _journal = null!;
    private uint _nextOrdinal = 1;
    private ulong _clusterEpoch;
    private long _nodeGeneration;
    private long _globalNodesFrozenThrough;

    private VolumeStore(string directory, VolumeStoreOptions options, FileStream directoryLock)
    {
        _directory = directory;
        _metaDirectory = Path.Combine(directory, Layout.MetaDirectoryName);
        _options = options;
        _directoryLock = directoryLock;
        _dataFiles = new DataFiles(Path.Combine(directory, Layout.DataDirectoryName));
        _stripes = new Lock[StripeCount];
        for (var i = 0; i < StripeCount; i++)
        {
            _stripes[i] = new Lock();
        }
    }

    public string DirectoryPath => _directory;

    public StoreStatistics Statistics
    {
        get
        {
            int count;
            lock (_catalogLock)
            {
                count = _volumesById.Count;
            }

            return new StoreStatistics(count, _allocator.InUseCount, _allocator.PendingFreeCount, Layout.ClusterSizeBytes, _journal.Segment.LengthBytes + _journal.PendingBytes);
        }
    }

    /// <summary>
    /// Creates an empty sparse volume encrypted under <paramref name="key"/>, or under two layers
    /// (<paramref name="key"/> inner, <paramref name="outerKey"/> outer) for double encryption.
    /// </summary>
    public VolumeInfo CreateVolume(Guid id, long sizeBytes, DataKey key, DataKey? outerKey = null)
    {
        ArgumentNullException.ThrowIfNull(key);
        ValidateSize(sizeBytes);
        var keyCheck = KeyCheck.Compute(key, outerKey);
        VolumeRecord record;
        lock (_catalogLock)
        {
            ThrowIfUnusable();
            EnsureIdFree(id);
            var ordinal = _nextOrdinal;
            var epoch = ++_clusterEpoch;
            record = ApplyCreateVolume(ordinal, id, sizeBytes, epoch, keyCheck);
            var w = new PayloadWriter(stackalloc byte[JournalFrame.MaxPayloadBytes]);
            w.U32(ordinal);
            w.Guid(id);
            w.U64((ulong)sizeBytes);
            w.U64(epoch);
            w.Bytes(keyCheck);
            AppendRecord(RecordType.CreateVolume, w.Written);
        }

        FlushMetadata();
        return record.ToInfo();
    }

    /// <summary>Takes a read-only point-in-time snapshot of a volume. O(1) in the volume's size; waits for in-flight I/O on it.</summary>
    public VolumeInfo CreateSnapshot(Guid sourceVolumeId, Guid snapshotId)
    {
        var source = FindRecordOrThrow(sourceVolumeId);
        if (source.Kind != VolumeKind.Volume)
        {
            throw new StorageException(StorageError.InvalidArgument, $"{sourceVolumeId} is a snapshot; snapshots are taken of volumes.");
        }

        VolumeRecord snapshot;
        source.IoLock.EnterWriteLock();
        try
        {
            lock (_catalogLock)
            {
                ThrowIfUnusable();
                EnsureStillCataloged(source);
                EnsureIdFree(snapshotId);
                lock (source.MapLock)
                {
                    var ordinal = _nextOrdinal;
                    var epoch = ++_clusterEpoch;
                    snapshot = ApplyCreateSnapshot(ordinal, snapshotId, source, epoch);
                    var w = new PayloadWriter(stackalloc byte[JournalFrame.MaxPayloadBytes]);
                    w.U32(ordinal);
                    w.Guid(snapshotId);
                    w.U32(source.Ordinal);
                    w.U64(epoch);
                    AppendRecord(RecordType.CreateSnapshot, w.Written);
                }
            }
        }
        finally
        {
            source.IoLock.ExitWriteLock();
        }

        FlushMetadata();
        return snapshot.ToInfo();
    }

    /// <summary>Creates a writable volume that starts as a copy of a snapshot, sharing its clusters (O(1)). It uses the snapshot's data key.</summary>
    public VolumeInfo CreateVolumeFromSnapshot(Guid snapshotId, Guid volumeId, long sizeBytes)
    {
        ValidateSize(sizeBytes);
        VolumeRecord clone;
        lock (_catalogLock)
        {
            ThrowIfUnusable();
            var snapshot = FindRecordOrThrowLocked(snapshotId);
            if (snapshot.Kind != VolumeKind.Snapshot)
            {
                throw new StorageException(StorageError.InvalidArgument, $"{snapshotId} is not a snapshot.");
            }

            if (sizeBytes < snapshot.SizeBytes)
            {
                throw new StorageException(StorageError.InvalidArgument, $"A volume made from snapshot {snapshotId} needs at least {snapshot.SizeBytes} bytes.");
            }

            EnsureIdFree(volumeId);
            lock (snapshot.MapLock)
            {
                var ordinal = _nextOrdinal;
                var epoch = ++_clusterEpoch;
                clone = ApplyCreateClone(ordinal, volumeId, snapshot, sizeBytes, epoch);
                var w = new PayloadWriter(stackalloc byte[JournalFrame.MaxPayloadBytes]);
                w.U32(ordinal);
                w.Guid(volumeId);
                w.U32(snapshot.Ordinal);
                w.U64((ulong)sizeBytes);
                w.U64(epoch);
                AppendRecord(RecordType.CreateClone, w.Written);
            }
        }

        FlushMetadata();
        return clone.ToInfo();
    }

    /// <summary>Grows a volume. Shrinking is refused: it would silently destroy data.</summary>
    public VolumeInfo Resize(Guid volumeId, long newSizeBytes)
    {
        ValidateSize(newSizeBytes);
        var record = FindRecordOrThrow(volumeId);
        if (record.IsReadOnly)
        {
            throw new StorageException(StorageError.ReadOnly, $"{volumeId} is a snapshot; snapshots cannot be resized.");
        }

        record.IoLock.EnterWriteLock();
        try
        {
            lock (_catalogLock)
            {
                ThrowIfUnusable();
                EnsureStillCataloged(record);
                if (newSizeBytes < record.SizeBytes)
                {
                    throw new StorageException(StorageError.InvalidArgument, $"Volume {volumeId} is {record.SizeBytes} bytes; volumes can grow but not shrink.");
                }

                lock (record.MapLock)
                {
                    record.SizeBytes = newSizeBytes;
                    var w = new PayloadWriter(stackalloc byte[JournalFrame.MaxPayloadBytes]);
                    w.U32(record.Ordinal);
                    w.U64((ulong)newSizeBytes);
                    AppendRecord(RecordType.Resize, w.Written);
                }
            }
        }
        finally
        {
            record.IoLock.ExitWriteLock();
        }

        FlushMetadata();
        return record.ToInfo();
    }

    /// <summary>Deletes a closed volume or snapshot. Clusters only it referenced are freed by the next collection (started at once).</summary>
    public void Delete(Guid id)
    {
        lock (_catalogLock)
        {
            ThrowIfUnusable();
            var record = FindRecordOrThrowLocked(id);
            if (record.OpenHandles > 0)
            {
                throw new StorageException(StorageError.InUse, $"{id} is open ({record.OpenHandles} handle(s)); close it before deleting.");
            }

            lock (record.MapLock)
            {
                ApplyDelete(record);
                var w = new PayloadWriter(stackalloc byte[JournalFrame.MaxPayloadBytes]);
                w.U32(record.Ordinal);
                AppendRecord(RecordType.Delete, w.Written);
            }
        }

        FlushMetadata();
        RequestCollection();
    }

    public VolumeInfo? Find(Guid id)
    {
        lock (_catalogLock)
        {
            return _volumesById.TryGetValue(id, out var record) ? record.ToInfo() : null;
        }
    }

    public IReadOnlyList<VolumeInfo> List()
    {
        lock (_catalogLock)
        {
            return [.. _volumesById.Values.OrderBy(r => r.Ordinal).Select(r => r.ToInfo())];
        }
    }

    /// <summary>
    /// Opens a volume (read-write) or snapshot (read-only) for I/O with the data key(s) it was
    /// created with (both layers, inner first, for a double-encrypted volume).
    /// </summary>
    public Volume OpenVolume(Guid id, DataKey key, DataKey? outerKey = null)
    {
        ArgumentNullException.ThrowIfNull(key);
        var record = FindRecordOrThrow(id);
        if (!KeyCheck.Matches(key, outerKey, record.KeyCheck))
        {
            throw new StorageException(StorageError.WrongKey, $"The data key given for {id} is not the one it was created with.");
        }

        IDataUnitCipher cipher = outerKey is null ? new XtsAes256(key) : new LayeredCipher(new XtsAes256(key), new XtsAes256(outerKey));
        return OpenVolume(record, cipher, ownsCipher: true);
    }

    /// <summary>Opens a volume through any cipher, skipping the key check. For benchmarks that compare against a null cipher only.</summary>
    internal Volume OpenVolumeWithCipher(Guid id, IDataUnitCipher cipher) => OpenVolume(FindRecordOrThrow(id), cipher, ownsCipher: false);

    private Volume OpenVolume(VolumeRecord record, IDataUnitCipher cipher, bool ownsCipher)
    {
        lock (_catalogLock)
        {
            try
            {
                ThrowIfUnusable();
                EnsureStillCataloged(record);
            }
            catch
            {
                if (ownsCipher)
                {
                    (cipher as IDisposable)?.Dispose();
                }

                throw;
            }

            record.OpenHandles++;
        }

        return new Volume(this, record, cipher, ownsCipher);
    }

    internal void CloseVolume(VolumeRecord record)
    {
        lock (_catalogLock)
        {
            record.OpenHandles--;
        }
    }

    // ---- state changes shared by live operations and journal replay (no locking, no journaling) ----

    private VolumeRecord ApplyCreateVolume(uint ordinal, Guid id, long sizeBytes, ulong epoch, byte[] keyCheck)
    {
        var record = new VolumeRecord(ordinal, id, VolumeKind.Volume, sizeBytes, epoch, null, keyCheck, root: null);
        Catalog(record);
        _clusterEpoch = Math.Max(_clusterEpoch, epoch);
        return record;
    }

    private VolumeRecord ApplyCreateSnapshot(uint ordinal, Guid snapshotId, VolumeRecord source, ulong epoch)
    {
        var snapshot = new VolumeRecord(ordinal, snapshotId, VolumeKind.Snapshot, source.SizeBytes, epoch, source.Id, source.KeyCheck, source.Root)
        {
            MappedUnits = source.MappedUnits,
        };
        source.SharedBefore = epoch;
        source.NodesFrozenThrough = ++_nodeGeneration;
        Catalog(snapshot);
        _clusterEpoch = Math.Max(_clusterEpoch, epoch);
        return snapshot;
    }

    private VolumeRecord ApplyCreateClone(uint ordinal, Guid cloneId, VolumeRecord snapshot, long sizeBytes, ulong epoch)
    {
        var clone = new VolumeRecord(ordinal, cloneId, VolumeKind.Volume, sizeBytes, epoch, snapshot.Id, snapshot.KeyCheck, snapshot.Root)
        {
            MappedUnits = snapshot.MappedUnits,
            NodesFrozenThrough = ++_nodeGeneration,
        };
        Catalog(clone);
        _clusterEpoch = Math.Max(_clusterEpoch, epoch);
        return clone;
    }

    private void ApplyDelete(VolumeRecord record)
    {
        _volumesById.Remove(record.Id);
        _volumesByOrdinal.Remove(record.Ordinal);
        record.Root = null;
    }

    /// <summary>Sets one map entry of <paramref name="record"/>, copying shared nodes. Caller holds MapLock (or is replaying).</summary>
    internal void ApplySetEntry(VolumeRecord record, uint virtualCluster, MapEntry entry)
    {
        var previous = ClusterMap.Get(record.Root, virtualCluster);
        record.Root = ClusterMap.Set(record.Root, virtualCluster, entry, FrozenThrough(record), _nodeGeneration + 1);
        record.MappedUnits += System.Numerics.BitOperations.PopCount(entry.ValidUnits) - System.Numerics.BitOperations.PopCount(previous.ValidUnits);
    }

    internal void ApplyClearRange<TVisitor>(VolumeRecord record, uint first, uint count, ref TVisitor visitor)
        where TVisitor : struct, IMapVisitor
    {
        var counting = new CountingVisitor<TVisitor>(visitor);
        record.Root = ClusterMap.ClearRange(record.Root, first, count, FrozenThrough(record), _nodeGeneration + 1, ref counting);
        record.MappedUnits -= counting.ClearedUnits;
        visitor = counting.Inner;
    }

    private long FrozenThrough(VolumeRecord record) => Math.Max(record.NodesFrozenThrough, Volatile.Read(ref _globalNodesFrozenThrough));

    private void Catalog(VolumeRecord record)
    {
        _volumesById.Add(record.Id, record);
        _volumesByOrdinal.Add(record.Ordinal, record);
        _nextOrdinal = Math.Max(_nextOrdinal, record.Ordinal + 1);
    }

    // ---- helpers for the data path (Volume.cs) ----

    internal Lock StripeFor(VolumeRecord record, uint virtualCluster) =>
        _stripes[(int)(unchecked((record.Ordinal * 0x9E3779B1u) ^ virtualCluster) % StripeCount)];

    /// <summary>Birth epoch for a cluster allocated now: after every snapshot taken so far.</summary>
    internal ulong CurrentBirth => Volatile.Read(ref _clusterEpoch) + 1;

    internal ulong AllocateCluster() => _allocator.Allocate();

    internal void PublishCluster(ulong cluster) => _allocator.Publish(cluster);

    internal void FreeClusterAfter(ulong cluster, ulong sequence) => _allocator.FreeAfter(cluster, sequence);

    internal DataFiles DataFiles => _dataFiles;

    /// <summary>For benchmarks of cold reads: drops the cluster files from the page cache (after a flush, so pages are clean).</summary>
    internal void EvictFromPageCache()
    {
        Flush();
        _dataFiles.EvictFromPageCache();
    }

    internal void NoteDataWritten() => Interlocked.Increment(ref _dataGeneration);

    /// <summary>Journals a SetEntry after applying it. Caller holds record.MapLock.</summary>
    internal ulong SetEntry(VolumeRecord record, uint virtualCluster, MapEntry entry)
    {
        ApplySetEntry(record, virtualCluster, entry);
        var w = new PayloadWriter(stackalloc byte[JournalFrame.MaxPayloadBytes]);
        w.U32(record.Ordinal);
        w.U32(virtualCluster);
        w.U64(entry.Word);
        w.U64(entry.Birth);
        return AppendRecord(RecordType.SetEntry, w.Written);
    }

    internal ulong ClearRange<TVisitor>(VolumeRecord record, uint first, uint count, ref TVisitor visitor)
        where TVisitor : struct, IMapVisitor
    {
        ApplyClearRange(record, first, count, ref visitor);
        var w = new PayloadWriter(stackalloc byte[JournalFrame.MaxPayloadBytes]);
        w.U32(record.Ordinal);
        w.U32(first);
        w.U32(count);
        return AppendRecord(RecordType.ClearRange, w.Written);
    }

    private ulong AppendRecord(RecordType type, ReadOnlySpan<byte> payload)
    {
        var sequence = _journal.Append(type, payload);
        if (_journal.PendingBytes >= _options.CommitAfterPendingBytes)
        {
            WakeMaintenance();
        }

        return sequence;
    }

    private static void ValidateSize(long sizeBytes)
    {
        if (sizeBytes <= 0 || sizeBytes > Layout.MaxVolumeSizeBytes)
        {
            throw new StorageException(StorageError.OutOfRange, $"Volume size {sizeBytes} bytes is outside 1 byte to 32 TiB.");
        }

        if (sizeBytes % Layout.SectorSizeBytes != 0)
        {
            throw new StorageException(StorageError.InvalidArgument, $"Volume size {sizeBytes} bytes is not a multiple of {Layout.SectorSizeBytes}.");
        }
    }

    private void EnsureIdFree(Guid id)
    {
        if (_volumesById.ContainsKey(id))
        {
            throw new StorageException(StorageError.AlreadyExists, $"A volume or snapshot {id} already exists.");
        }
    }

    private void EnsureStillCataloged(VolumeRecord record)
    {
        if (!_volumesById.TryGetValue(record.Id, out var current) || !ReferenceEquals(current, record))
        {
            throw new StorageException(StorageError.NotFound, $"Volume {record.Id} was deleted.");
        }
    }

    private VolumeRecord FindRecordOrThrow(Guid id)
    {
        lock (_catalogLock)
        {
            ThrowIfUnusable();
            return FindRecordOrThrowLocked(id);
        }
    }

    private VolumeRecord FindRecordOrThrowLocked(Guid id) =>
        _volumesById.TryGetValue(id, out var record)
            ? record
            : throw new StorageException(StorageError.NotFound, $"No volume or snapshot {id}.");

    private struct CountingVisitor<TInner>(TInner inner) : IMapVisitor
        where TInner : struct, IMapVisitor
    {
        public TInner Inner = inner;
        public long ClearedUnits;

        public bool Visit(uint virtualCluster, in MapEntry entry)
        {
            ClearedUnits += System.Numerics.BitOperations.PopCount(entry.ValidUnits);
            return Inner.Visit(virtualCluster, entry);
        }
    }
}
