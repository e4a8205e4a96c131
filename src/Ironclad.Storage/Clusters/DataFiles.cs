// The cluster files: physical cluster p lives in segment file p / 2^24 at byte (p mod 2^24) * 64 KiB.
// Files are sparse; clusters that were never written, or were freed, hold no blocks.
// Invariant: every write marks its segment dirty before it completes, so SyncDirty() after a write
// returned always covers it.
using Ironclad.Storage.Format;
using Ironclad.Storage.Posix;
using Microsoft.Win32.SafeHandles;

namespace Ironclad.Storage.Clusters;

internal sealed class DataFiles : IDisposable
{
    private readonly string _directory;
    private readonly Lock _openLock = new();
    private const int MaxSegments = 1 << (Layout.PhysicalClusterBits - Layout.SegmentClustersLog2);

    // Fixed-size so a concurrent writer can never mark a stale copy dirty.
    private readonly SafeFileHandle?[] _segments = new SafeFileHandle?[MaxSegments];
    private readonly int[] _dirty = new int[MaxSegments];
    private int _segmentCount;

    public DataFiles(string directory)
    {
        _directory = directory;
        Directory.CreateDirectory(directory);
        foreach (var path in Directory.EnumerateFiles(directory, "clusters-*.dat"))
        {
            var name = Path.GetFileNameWithoutExtension(path);
            if (long.TryParse(name.AsSpan("clusters-".Length), out var segment))
            {
                _ = Handle(segment);
            }
        }
    }

    /// <summary>Segment numbers of files that exist, with their lengths.</summary>
    public IEnumerable<(long Segment, long LengthBytes)> ExistingSegments()
    {
        var count = Volatile.Read(ref _segmentCount);
        for (var i = 0; i < count; i++)
        {
            if (Volatile.Read(ref _segments[i]) is { } handle)
            {
                yield return (i, RandomAccess.GetLength(handle));
            }
        }
    }

    public void ReadUnits(ulong cluster, int firstUnit, Span<byte> destination)
    {
        var (handle, offset) = Locate(cluster, firstUnit);
        var done = 0;
        while (done < destination.Length)
        {
            var n = RandomAccess.Read(handle, destination[done..], offset + done);
            if (n <= 0)
            {
                throw new StorageException(StorageError.Corrupt, $"Cluster {cluster} is shorter than its map says (read {done} of {destination.Length} bytes).");
            }

            done += n;
        }
    }

    public void WriteUnits(ulong cluster, int firstUnit, ReadOnlySpan<byte> source)
    {
        var segment = (long)(cluster >> Layout.SegmentClustersLog2);
        var (handle, offset) = Locate(cluster, firstUnit);
        Volatile.Write(ref _dirty[segment], 1);
        RandomAccess.Write(handle, source, offset);
    }

    /// <summary>fdatasync every segment written since the last sync.</summary>
    public void SyncDirty()
    {
        var count = Volatile.Read(ref _segmentCount);
        for (var i = 0; i < count; i++)
        {
            if (Interlocked.Exchange(ref _dirty[i], 0) != 0 && Volatile.Read(ref _segments[i]) is { } handle)
            {
                FileSync.DataSync(handle);
            }
        }
    }

    /// <summary>Returns the blocks of freed clusters to the file system. Sorted runs are punched as one call each.</summary>
    public void Punch(IReadOnlyList<ulong> sortedClusters)
    {
        var i = 0;
        while (i < sortedClusters.Count)
        {
            var start = sortedClusters[i];
            var end = start + 1;
            i++;
            while (i < sortedClusters.Count && sortedClusters[i] == end && (end & (Layout.SegmentClusters - 1)) != 0)
            {
                end++;
                i++;
            }

            PunchRun(start, end - start);
        }
    }

    public void PunchRun(ulong firstCluster, ulong clusterCount)
    {
        var (handle, offset) = Locate(firstCluster, 0);
        _ = FileSync.TryPunchHole(handle, offset, (long)clusterCount << Layout.ClusterSizeLog2);
    }

    /// <summary>Drops the cluster files' clean pages from the page cache (benchmarks measure cold reads with it).</summary>
    public void EvictFromPageCache()
    {
        var count = Volatile.Read(ref _segmentCount);
        for (var i = 0; i < count; i++)
        {
            if (Volatile.Read(ref _segments[i]) is { } handle)
            {
                FileSync.DropCachedPages(handle);
            }
        }
    }

    public void TruncateSegment(long segment, long lengthBytes)
    {
        RandomAccess.SetLength(Handle(segment), lengthBytes);
    }

    private (SafeFileHandle Handle, long OffsetBytes) Locate(ulong cluster, int firstUnit)
    {
        var segment = (long)(cluster >> Layout.SegmentClustersLog2);
        var offset = ((long)(cluster & (Layout.SegmentClusters - 1)) << Layout.ClusterSizeLog2) + ((long)firstUnit << Layout.UnitSizeLog2);
        return (Handle(segment), offset);
    }

    private SafeFileHandle Handle(long segment)
    {
        if (Volatile.Read(ref _segments[segment]) is { } existing)
        {
            return existing;
        }

        lock (_openLock)
        {
            if (_segments[segment] is { } opened)
            {
                return opened;
            }

            var path = Path.Combine(_directory, Layout.SegmentFileName(segment));
            var created = !File.Exists(path);
            var handle = File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, FileOptions.None);
            if (created)
            {
                FileSync.DataSync(handle);
                NativeMethods.FsyncDirectory(_directory);
            }

            Volatile.Write(ref _segments[segment], handle);
            if (segment >= _segmentCount)
            {
                Volatile.Write(ref _segmentCount, (int)segment + 1);
            }

            return handle;
        }
    }

    public void Dispose()
    {
        foreach (var handle in _segments)
        {
            handle?.Dispose();
        }
    }
}
