// Durability and space reclamation: group commit, checkpoints, garbage collection and the
// background thread that runs them.
// Invariants: (1) journal bytes are written only after fdatasync of every data file written before
// the records were taken, so a durable map never points at data that is not; (2) a failed sync
// stops the store (fail-stop: retrying fsync after an error can silently lose data); (3) frees
// are released only once the sequence that made them unreachable is durable.
using Ironclad.Storage.Checkpoints;
using Ironclad.Storage.Journal;
using Ironclad.Storage.Map;
using Ironclad.Storage.Posix;
using Ironclad.Storage.Volumes;

namespace Ironclad.Storage;

public sealed partial class VolumeStore
{
    private readonly Lock _commitLock = new();
    private readonly Lock _maintenanceLock = new();
    private readonly AutoResetEvent _maintenanceWake = new(false);
    private Thread? _maintenanceThread;
    private volatile bool _closing;
    private volatile Exception? _failure;
    private long _dataGeneration;
    private long _durableDataGeneration;
    private ulong _durableSequence;
    private long _lastCommitTicks = Environment.TickCount64;
    private long _garbageHints;
    private int _collectionRequested;

    /// <summary>Makes every write and metadata change completed before the call durable.</summary>
    public void Flush()
    {
        ThrowIfUnusable();
        Commit(Volatile.Read(ref _dataGeneration), _journal.LastSequence);
    }

    private void FlushMetadata() => Commit(0, _journal.LastSequence);

    private void Commit(long dataGenerationNeeded, ulong sequenceNeeded)
    {
        if (IsDurable(dataGenerationNeeded, sequenceNeeded))
        {
            return;
        }

        lock (_commitLock)
        {
            ThrowIfUnusable();
            if (IsDurable(dataGenerationNeeded, sequenceNeeded))
            {
                return;
            }

            var dataGeneration = Volatile.Read(ref _dataGeneration);
            var pending = _journal.TakePending();
            MakeDurable(_journal.Segment, pending, dataGeneration);
        }
    }

    /// <summary>
    /// The commit step, commit lock held: fdatasync the data files, then append and fdatasync the
    /// records, then publish what is durable. Any failure stops the store (fail-stop).
    /// </summary>
    private void MakeDurable(JournalSegment segment, PendingRecords pending, long dataGeneration)
    {
        try
        {
            _dataFiles.SyncDirty();
            segment.AppendDurably(pending.Bytes);
        }
        catch (Exception e)
        {
            Fail(e);
            throw new StorageException(StorageError.Closed, "The store could not make data durable and has stopped.", e);
        }
        finally
        {
            _journal.ReturnBuffer(pending);
        }

        MarkDurable(dataGeneration, pending.LastSequence);
    }

    private bool IsDurable(long dataGeneration, ulong sequence) =>
        Volatile.Read(ref _durableDataGeneration) >= dataGeneration && Volatile.Read(ref _durableSequence) >= sequence;

    private void MarkDurable(long dataGeneration, ulong sequence)
    {
        Volatile.Write(ref _durableDataGeneration, Math.Max(dataGeneration, Volatile.Read(ref _durableDataGeneration)));
        Volatile.Write(ref _durableSequence, Math.Max(sequence, Volatile.Read(ref _durableSequence)));
        Volatile.Write(ref _lastCommitTicks, Environment.TickCount64);
        ReleaseDurableFrees();
    }

    /// <summary>Punches and frees every pending cluster whose unmapping is durable. Commit lock held.</summary>
    private void ReleaseDurableFrees()
    {
        var releasable = _allocator.TakeReleasable(Volatile.Read(ref _durableSequence));
        if (releasable.Count > 0)
        {
            _dataFiles.Punch(releasable);
            _allocator.MarkFree(releasable);
        }
    }

    /// <summary>
    /// Writes a checkpoint of every volume's map and starts a new journal segment, bounding recovery
    /// time. Writers continue meanwhile: the image is captured in O(volumes) by freezing map nodes.
    /// </summary>
    public void Checkpoint()
    {
        ThrowIfUnusable();
        lock (_maintenanceLock)
        {
            var next = JournalSegment.Create(_metaDirectory, _journal.Segment.Generation + 1);
            CheckpointImage image;
            JournalSegment previous;
            lock (_commitLock)
            {
                var dataGeneration = Volatile.Read(ref _dataGeneration);
                PendingRecords pending;
                using (FreezeAllMaps())
                {
                    pending = _journal.TakePending();
                    previous = _journal.SwitchSegment(next);
                    image = CaptureImage(next.Generation, pending.LastSequence);
                }

                MakeDurable(previous, pending, dataGeneration);
            }

            CheckpointFile.Write(_metaDirectory, image);
            previous.Dispose();
            DeleteJournalSegmentsBefore(next.Generation);
        }
    }

    /// <summary>
    /// Finds clusters no volume or snapshot references any more and frees them (after the next
    /// commit, which this call performs). Returns how many were found.
    /// </summary>
    public long CollectGarbage()
    {
        ThrowIfUnusable();
        long found;
        lock (_maintenanceLock)
        {
            List<MapNode> roots = [];
            ulong sequenceAtFreeze;
            ulong highWater;
            using (FreezeAllMaps())
            {
                foreach (var record in _volumesById.Values)
                {
                    if (record.Root is { } root)
                    {
                        roots.Add(root);
                    }
                }

                sequenceAtFreeze = _journal.LastSequence;
                highWater = _allocator.BeginCollection();
            }

            try
            {
                var marked = MarkReferencedClusters(roots, highWater);
                found = _allocator.EndCollection(marked, highWater, sequenceAtFreeze);
            }
            catch
            {
                _allocator.AbortCollection();
                throw;
            }
        }

        Commit(0, _journal.LastSequence);
        lock (_commitLock)
        {
            ReleaseDurableFrees();
        }

        return found;
    }

    /// <summary>Number of distinct map nodes reachable from all volumes (tests check that snapshots share, not copy).</summary>
    internal long CountMapNodes()
    {
        var visited = new HashSet<MapNode>(ReferenceEqualityComparer.Instance);
        lock (_catalogLock)
        {
            foreach (var record in _volumesById.Values)
            {
                lock (record.MapLock)
                {
                    ClusterMap.ForEachNodePostOrder(record.Root, visited, static _ => { });
                }
            }
        }

        return visited.Count;
    }

    internal void NoteGarbageHint()
    {
        if (Interlocked.Increment(ref _garbageHints) >= _options.CollectAfterGarbageHints)
        {
            WakeMaintenance();
        }
    }

    private void RequestCollection()
    {
        Volatile.Write(ref _collectionRequested, 1);
        WakeMaintenance();
    }

    private void WakeMaintenance()
    {
        if (_maintenanceThread is not null)
        {
            _ = _maintenanceWake.Set();
        }
    }

    private static ulong[] MarkReferencedClusters(IEnumerable<MapNode> roots, ulong highWater)
    {
        var marked = new ulong[(highWater / 64) + 1];
        var visited = new HashSet<MapNode>(ReferenceEqualityComparer.Instance);
        foreach (var root in roots)
        {
            ClusterMap.ForEachNodePostOrder(root, visited, node =>
            {
                if (!node.IsLeaf)
                {
                    return;
                }

                foreach (var entry in node.Entries!)
                {
                    if (entry.IsAllocated)
                    {
                        var cluster = entry.PhysicalCluster;
                        if (cluster / 64 >= (ulong)marked.Length)
                        {
                            Array.Resize(ref marked, (int)(cluster / 64) + 1);
                        }

                        marked[cluster / 64] |= 1UL << (int)(cluster % 64);
                    }
                }
            });
        }

        return marked;
    }

    /// <summary>
    /// Holds the catalog and every map lock, and freezes all map nodes so that later writes copy
    /// them: whatever roots are read now stay immutable for as long as anyone holds them.
    /// </summary>
    private FrozenMaps FreezeAllMaps()
    {
        _catalogLock.Enter();
        var records = _volumesById.Values.OrderBy(r => r.Ordinal).ToList();
        foreach (var record in records)
        {
            Monitor.Enter(record.MapLock);
        }

        Volatile.Write(ref _globalNodesFrozenThrough, ++_nodeGeneration);
        return new FrozenMaps(this, records);
    }

    private readonly struct FrozenMaps(VolumeStore store, List<VolumeRecord> records) : IDisposable
    {
        public void Dispose()
        {
            for (var i = records.Count - 1; i >= 0; i--)
            {
                Monitor.Exit(records[i].MapLock);
            }

            store._catalogLock.Exit();
        }
    }

    private CheckpointImage CaptureImage(ulong journalGeneration, ulong lastSequence) =>
        new(journalGeneration, lastSequence, _clusterEpoch, _nextOrdinal,
            [.. _volumesById.Values.OrderBy(r => r.Ordinal).Select(r => new VolumeImage(r.Ordinal, r.Id, r.Kind, r.SizeBytes, r.SharedBefore, r.SourceId, r.KeyCheck, r.Root))]);

    private void DeleteJournalSegmentsBefore(ulong generation)
    {
        var deleted = false;
        foreach (var (segmentGeneration, path) in ListJournalSegments(_metaDirectory))
        {
            if (segmentGeneration < generation)
            {
                File.Delete(path);
                deleted = true;
            }
        }

        if (deleted)
        {
            NativeMethods.FsyncDirectory(_metaDirectory);
        }
    }

    private static List<(ulong Generation, string Path)> ListJournalSegments(string metaDirectory)
    {
        var segments = new List<(ulong, string)>();
        foreach (var path in Directory.EnumerateFiles(metaDirectory, "journal-*.log"))
        {
            var name = Path.GetFileNameWithoutExtension(path);
            if (ulong.TryParse(name.AsSpan("journal-".Length), out var generation))
            {
                segments.Add((generation, path));
            }
        }

        segments.Sort((a, b) => a.Item1.CompareTo(b.Item1));
        return segments;
    }

    private void StartMaintenance()
    {
        if (!_options.BackgroundMaintenance)
        {
            return;
        }

        _maintenanceThread = new Thread(MaintenanceLoop) { IsBackground = true, Name = "ironclad-storage-maintenance" };
        _maintenanceThread.Start();
    }

    private void MaintenanceLoop()
    {
        var interval = (int)Math.Clamp(_options.CommitInterval.TotalMilliseconds / 4, 10, 1000);
        while (!_closing)
        {
            _ = _maintenanceWake.WaitOne(interval);
            if (_closing)
            {
                return;
            }

            try
            {
                RunMaintenanceOnce();
            }
            catch (Exception e)
            {
                Fail(e);
                return;
            }
        }
    }

    /// <summary>One round of background work: commit if due, checkpoint if the journal is long, collect if asked.</summary>
    internal void RunMaintenanceOnce()
    {
        var sinceCommitMs = Environment.TickCount64 - Volatile.Read(ref _lastCommitTicks);
        var unsynced = _journal.PendingBytes > 0 || Volatile.Read(ref _dataGeneration) > Volatile.Read(ref _durableDataGeneration);
        if (_journal.PendingBytes >= _options.CommitAfterPendingBytes || (unsynced && sinceCommitMs >= _options.CommitInterval.TotalMilliseconds))
        {
            Flush();
        }

        if (_journal.Segment.LengthBytes >= _options.CheckpointAfterJournalBytes)
        {
            Checkpoint();
        }

        if (Interlocked.Exchange(ref _collectionRequested, 0) != 0 || Interlocked.Read(ref _garbageHints) >= _options.CollectAfterGarbageHints)
        {
            Interlocked.Exchange(ref _garbageHints, 0);
            _ = CollectGarbage();
        }
    }

    private void Fail(Exception e)
    {
        _failure ??= e;
    }

    /// <summary>False once the store is closed or has stopped after an I/O failure.</summary>
    public bool IsUsable => _failure is null && !_closing;

    internal void ThrowIfUnusable()
    {
        if (_failure is { } failure)
        {
            throw new StorageException(StorageError.Closed, "The store stopped after an I/O failure; restart to recover.", failure);
        }

        if (_closing)
        {
            throw new StorageException(StorageError.Closed, "The store is closed.");
        }
    }

    /// <summary>Drains in-flight I/O, makes everything durable, writes a checkpoint (fast next open) and releases the directory.</summary>
    public void Dispose()
    {
        if (_closing)
        {
            return;
        }

        List<VolumeRecord> records;
        lock (_catalogLock)
        {
            records = [.. _volumesById.Values];
        }

        foreach (var record in records)
        {
            record.IoLock.EnterWriteLock();
        }

        try
        {
            if (_failure is null)
            {
                Flush();
                Checkpoint();
            }
        }
        finally
        {
            _closing = true;
            foreach (var record in records)
            {
                record.IoLock.ExitWriteLock();
            }

            _ = _maintenanceWake.Set();
            _maintenanceThread?.Join();
            _maintenanceWake.Dispose();
            _journal.Dispose();
            _dataFiles.Dispose();
            _directoryLock.Dispose();
        }
    }
}
