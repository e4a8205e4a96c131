// Opening a store: lock the directory, load the last checkpoint, replay the journal after it, rebuild
// free space by marking what the maps reference, and start a clean journal segment.
// Recovery time grows with the checkpoint's size (the number of map entries, ~18 bytes per
// allocated 64 KiB cluster) plus the journal written since it (bounded by CheckpointAfterJournalBytes).
// Invariant: replay stops at the first torn or corrupt record of the last segment; anything damaged
// earlier than that is reported as corruption, never silently skipped.
using Ironclad.Storage.Checkpoints;
using Ironclad.Storage.Format;
using Ironclad.Storage.Journal;
using Ironclad.Storage.Map;
using Ironclad.Storage.Volumes;

namespace Ironclad.Storage;

public sealed partial class VolumeStore
{
    /// <summary>Opens (creating if needed) the store in <paramref name="directory"/>, recovering from any crash.</summary>
    public static VolumeStore Open(string directory, VolumeStoreOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        directory = Path.GetFullPath(directory);
        Directory.CreateDirectory(directory);
        FileStream directoryLock;
        try
        {
            directoryLock = new FileStream(Path.Combine(directory, Layout.LockFileName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new StorageException(StorageError.InUse, $"The volume store in '{directory}' is already open in another process.", e);
        }

        VolumeStore? store = null;
        try
        {
            _ = StoreHeader.ReadOrCreate(directory);
            store = new VolumeStore(directory, options ?? new VolumeStoreOptions(), directoryLock);
            store.Recover();
            store.StartMaintenance();
            return store;
        }
        catch
        {
            store?._dataFiles.Dispose();
            directoryLock.Dispose();
            throw;
        }
    }

    /// <summary>What the last recovery did (for tests and for the operator's log).</summary>
    public RecoveryReport LastRecovery { get; private set; } = new(0, 0, 0, TimeSpan.Zero);

    private void Recover()
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        Directory.CreateDirectory(_metaDirectory);
        CheckpointFile.DeleteTemporary(_metaDirectory);
        var image = CheckpointFile.Read(_metaDirectory);
        ulong firstGeneration = 1;
        ulong lastSequence = 0;
        if (image is not null)
        {
            LoadImage(image);
            firstGeneration = image.JournalGeneration;
            lastSequence = image.LastSequence;
        }

        var segments = ListJournalSegments(_metaDirectory);
        foreach (var (generation, path) in segments.Where(s => s.Generation < firstGeneration))
        {
            File.Delete(path);
        }

        segments.RemoveAll(s => s.Generation < firstGeneration);
        long replayed = 0;
        var needsCheckpoint = image is null;
        (ulong Generation, string Path, long ValidLength)? appendTarget = null;
        for (var i = 0; i < segments.Count; i++)
        {
            var (generation, path) = segments[i];
            var isLast = i == segments.Count - 1;
            if (generation != firstGeneration + (ulong)i)
            {
                throw new StorageException(StorageError.Corrupt, $"Journal segment {firstGeneration + (ulong)i} is missing.");
            }

            var bytes = File.ReadAllBytes(path);
            if (!JournalSegment.TryReadHeader(bytes, out var headerGeneration) || headerGeneration != generation)
            {
                if (isLast && bytes.Length <= JournalSegment.HeaderBytes)
                {
                    // A crash while creating the segment: it never held a record.
                    File.Delete(path);
                    needsCheckpoint = true;
                    continue;
                }

                throw new StorageException(StorageError.Corrupt, $"Journal segment {generation} has a damaged header.");
            }

            var position = JournalSegment.HeaderBytes;
            while (JournalFrame.TryRead(bytes.AsSpan(position), out var sequence, out var type, out var payload, out var length))
            {
                if (sequence > lastSequence)
                {
                    if (sequence != lastSequence + 1)
                    {
                        throw new StorageException(StorageError.Corrupt, $"Journal sequence jumps from {lastSequence} to {sequence}.");
                    }

                    ApplyRecord(type, payload);
                    lastSequence = sequence;
                    replayed++;
                }

                position += length;
            }

            if (position != bytes.Length)
            {
                if (!isLast)
                {
                    throw new StorageException(StorageError.Corrupt, $"Journal segment {generation} is damaged before its end.");
                }

                needsCheckpoint = true; // a torn tail: unflushed records from the crash
            }

            appendTarget = (generation, path, position);
        }

        if (replayed > 0)
        {
            needsCheckpoint = true;
        }

        RebuildFreeSpace();

        if (needsCheckpoint || appendTarget is null)
        {
            var nextGeneration = appendTarget is { } last ? last.Generation + 1 : firstGeneration;
            if (segments.Count > 0 && nextGeneration <= segments[^1].Generation)
            {
                nextGeneration = segments[^1].Generation + 1;
            }

            var segment = JournalSegment.Create(_metaDirectory, nextGeneration);
            _journal = new JournalWriter(segment, lastSequence);
            CheckpointFile.Write(_metaDirectory, CaptureImage(nextGeneration, lastSequence));
            DeleteJournalSegmentsBefore(nextGeneration);
        }
        else
        {
            var target = appendTarget.Value;
            _journal = new JournalWriter(JournalSegment.OpenForAppend(target.Path, target.Generation, target.ValidLength), lastSequence);
        }

        _durableSequence = lastSequence;
        LastRecovery = new RecoveryReport(_volumesById.Count, replayed, _allocator.InUseCount, System.Diagnostics.Stopwatch.GetElapsedTime(started));
    }

    private void LoadImage(CheckpointImage image)
    {
        _clusterEpoch = image.ClusterEpoch;
        _nextOrdinal = image.NextOrdinal;
        foreach (var volume in image.Volumes)
        {
            var record = new VolumeRecord(volume.Ordinal, volume.Id, volume.Kind, volume.SizeBytes, volume.SharedBefore, volume.SourceId, volume.KeyCheck, volume.Root);
            record.MappedUnits = CountMappedUnits(volume.Root);
            Catalog(record);
            _clusterEpoch = Math.Max(_clusterEpoch, volume.SharedBefore);
        }
    }

    private void ApplyRecord(RecordType type, ReadOnlySpan<byte> payload)
    {
        var r = new PayloadReader(payload);
        switch (type)
        {
            case RecordType.CreateVolume:
                {
                    var ordinal = r.U32();
                    var id = r.Guid();
                    var sizeBytes = (long)r.U64();
                    var epoch = r.U64();
                    var keyCheck = r.Bytes(VolumeRecord.KeyCheckBytes);
                    r.ExpectEnd();
                    _ = ApplyCreateVolume(ordinal, id, sizeBytes, epoch, keyCheck);
                    break;
                }

            case RecordType.CreateSnapshot:
                {
                    var ordinal = r.U32();
                    var id = r.Guid();
                    var source = RecordByOrdinal(r.U32());
                    var epoch = r.U64();
                    r.ExpectEnd();
                    _ = ApplyCreateSnapshot(ordinal, id, source, epoch);
                    break;
                }

            case RecordType.CreateClone:
                {
                    var ordinal = r.U32();
                    var id = r.Guid();
                    var snapshot = RecordByOrdinal(r.U32());
                    var sizeBytes = (long)r.U64();
                    var epoch = r.U64();
                    r.ExpectEnd();
                    _ = ApplyCreateClone(ordinal, id, snapshot, sizeBytes, epoch);
                    break;
                }

            case RecordType.Delete:
                {
                    var record = RecordByOrdinal(r.U32());
                    r.ExpectEnd();
                    ApplyDelete(record);
                    break;
                }

            case RecordType.Resize:
                {
                    var record = RecordByOrdinal(r.U32());
                    record.SizeBytes = (long)r.U64();
                    r.ExpectEnd();
                    break;
                }

            case RecordType.SetEntry:
                {
                    var record = RecordByOrdinal(r.U32());
                    var virtualCluster = r.U32();
                    var entry = new MapEntry(r.U64(), r.U64());
                    r.ExpectEnd();
                    if (!entry.IsValid || (entry.Word != 0 && !entry.IsAllocated))
                    {
                        throw new StorageException(StorageError.Corrupt, "A journal map entry is malformed.");
                    }

                    ApplySetEntry(record, virtualCluster, entry);
                    _clusterEpoch = Math.Max(_clusterEpoch, entry.Birth);
                    break;
                }

            case RecordType.ClearRange:
                {
                    var record = RecordByOrdinal(r.U32());
                    var first = r.U32();
                    var count = r.U32();
                    r.ExpectEnd();
                    var ignore = default(IgnoreVisitor);
                    ApplyClearRange(record, first, count, ref ignore);
                    break;
                }

            default:
                throw new StorageException(StorageError.Corrupt, $"Unknown journal record type {(byte)type}.");
        }
    }

    private VolumeRecord RecordByOrdinal(uint ordinal) =>
        _volumesByOrdinal.TryGetValue(ordinal, out var record)
            ? record
            : throw new StorageException(StorageError.Corrupt, $"A journal record refers to unknown volume #{ordinal}.");

    /// <summary>Marks every referenced cluster in use, frees the rest, and returns their blocks to the file system.</summary>
    private void RebuildFreeSpace()
    {
        var roots = _volumesById.Values.Select(r => r.Root).OfType<MapNode>().ToList();
        var marked = MarkReferencedClusters(roots, 0);
        ulong highWater = 0;
        for (var w = marked.Length - 1; w >= 0; w--)
        {
            if (marked[w] != 0)
            {
                highWater = ((ulong)w * 64) + 64 - (ulong)System.Numerics.BitOperations.LeadingZeroCount(marked[w]);
                break;
            }
        }

        _allocator.Initialize(marked, highWater);

        // Clusters written but never made reachable (lost by the crash) or freed but not yet punched.
        foreach (var (segment, lengthBytes) in _dataFiles.ExistingSegments().ToList())
        {
            var first = (ulong)segment << Layout.SegmentClustersLog2;
            var clustersInFile = (ulong)((lengthBytes + Layout.ClusterSizeBytes - 1) >> Layout.ClusterSizeLog2);
            ulong lastReferencedEnd = 0;
            ulong runStart = 0;
            var inRun = false;
            for (ulong c = 0; c < clustersInFile; c++)
            {
                var cluster = first + c;
                var referenced = cluster / 64 < (ulong)marked.Length && (marked[cluster / 64] & (1UL << (int)(cluster % 64))) != 0;
                if (referenced)
                {
                    lastReferencedEnd = c + 1;
                    if (inRun)
                    {
                        _dataFiles.PunchRun(first + runStart, c - runStart);
                        inRun = false;
                    }
                }
                else if (!inRun)
                {
                    runStart = c;
                    inRun = true;
                }
            }

            var keepBytes = (long)lastReferencedEnd << Layout.ClusterSizeLog2;
            if (keepBytes < lengthBytes)
            {
                _dataFiles.TruncateSegment(segment, keepBytes);
            }
        }
    }

    private static long CountMappedUnits(MapNode? root)
    {
        var counter = default(UnitCounter);
        ClusterMap.ForEach(root, 0, 1UL << (Layout.MapLevels * Layout.MapFanoutLog2), ref counter);
        return counter.Units;
    }

    private struct UnitCounter : IMapVisitor
    {
        public long Units;

        public bool Visit(uint virtualCluster, in MapEntry entry)
        {
            Units += System.Numerics.BitOperations.PopCount(entry.ValidUnits);
            return true;
        }
    }

    private struct IgnoreVisitor : IMapVisitor
    {
        public readonly bool Visit(uint virtualCluster, in MapEntry entry) => true;
    }
}

/// <param name="VolumeCount">Volumes and snapshots found.</param>
/// <param name="RecordsReplayed">Journal records applied on top of the checkpoint.</param>
/// <param name="ClustersInUse">Clusters referenced after recovery.</param>
public sealed record RecoveryReport(int VolumeCount, long RecordsReplayed, long ClustersInUse, TimeSpan Duration);
