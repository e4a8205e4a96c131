// The storage side of disks, snapshots and images: new encrypted volumes, O(1) snapshots and clones
// that share their source's DEKs, re-encrypting copies under new DEKs (the one place data is
// copied), and crypto-shredding deletes. Invariant: an operation that fails leaves nothing behind —
// no volume and no wrapped DEK of the new id — and a plaintext DEK lives only in UnwrappedDataKeys
// for the duration of one call.
using System.Buffers;
using System.Diagnostics;
using Ironclad.Compute.DataKeys;
using Ironclad.Storage;

namespace Ironclad.Compute.Disks;

/// <summary>What a re-encrypting copy did: bytes read and written (allocated ranges only) and how long it took.</summary>
internal sealed record CopyStatistics(long CopiedBytes, long VirtualBytes, TimeSpan Elapsed)
{
    public double MegabytesPerSecond => Elapsed.TotalSeconds > 0 ? CopiedBytes / 1e6 / Elapsed.TotalSeconds : 0;
}

internal sealed class DiskVolumes
{
    private const int CopyChunkBytes = 1 << 20;

    private readonly VolumeStore _store;
    private readonly Lazy<IDataKeyService> _lazyKeys;

    /// <param name="keys">Resolved on first use (the data-key service depends on platform keys and sets, which are built later).</param>
    public DiskVolumes(VolumeStore store, Func<IDataKeyService> keys)
    {
        _store = store ?? throw new ArgumentNullException(nameof(store));
        ArgumentNullException.ThrowIfNull(keys);
        _lazyKeys = new Lazy<IDataKeyService>(keys);
    }

    private IDataKeyService Keys => _lazyKeys.Value;

    /// <summary>The last re-encrypting copy (for the tests' and docs' measurement).</summary>
    public CopyStatistics? LastCopy { get; private set; }

    public VolumeInfo? Find(Guid volumeId) => _store.Find(volumeId);

    /// <summary>A new empty volume under new DEKs wrapped per <paramref name="plan"/>.</summary>
    public async Task CreateEmptyAsync(Guid volumeId, long sizeBytes, EncryptionPlan plan, CancellationToken cancellationToken)
    {
        using var keys = await Keys.CreateAsync(volumeId, plan, cancellationToken);
        try
        {
            _store.CreateVolume(volumeId, sizeBytes, keys.Inner, keys.Outer);
        }
        catch
        {
            Keys.Shred(volumeId);
            throw;
        }
    }

    /// <summary>A read-only point-in-time copy of <paramref name="sourceVolumeId"/> (a volume or a snapshot) sharing its DEKs. O(1).</summary>
    public void SnapshotSharingKeys(Guid sourceVolumeId, Guid snapshotId)
    {
        var source = _store.Find(sourceVolumeId) ?? throw MissingVolume(sourceVolumeId);
        if (source.Kind == VolumeKind.Volume)
        {
            _store.CreateSnapshot(sourceVolumeId, snapshotId);
        }
        else
        {
            // The engine snapshots volumes only: clone the snapshot (O(1)), snapshot the clone, drop the clone.
            var bridge = Guid.NewGuid();
            _store.CreateVolumeFromSnapshot(sourceVolumeId, bridge, source.SizeBytes);
            try
            {
                _store.CreateSnapshot(bridge, snapshotId);
            }
            finally
            {
                _store.Delete(bridge);
            }
        }

        ShareOrUndo(sourceVolumeId, snapshotId);
    }

    /// <summary>A writable copy of <paramref name="sourceVolumeId"/> (a volume or a snapshot) sharing its DEKs. O(1).</summary>
    public void CloneSharingKeys(Guid sourceVolumeId, Guid volumeId, long sizeBytes)
    {
        var source = _store.Find(sourceVolumeId) ?? throw MissingVolume(sourceVolumeId);
        if (source.Kind == VolumeKind.Snapshot)
        {
            _store.CreateVolumeFromSnapshot(sourceVolumeId, volumeId, sizeBytes);
        }
        else
        {
            // A disk is cloned through a transient snapshot: the clone is the disk at one instant.
            var bridge = Guid.NewGuid();
            _store.CreateSnapshot(sourceVolumeId, bridge);
            try
            {
                _store.CreateVolumeFromSnapshot(bridge, volumeId, sizeBytes);
            }
            finally
            {
                _store.Delete(bridge);
            }
        }

        ShareOrUndo(sourceVolumeId, volumeId);
    }

    /// <summary>
    /// A copy of <paramref name="sourceVolumeId"/> under new DEKs wrapped per <paramref name="plan"/>: the source is
    /// opened with its unwrapped DEKs, and only its allocated ranges are decrypted and re-encrypted into the new
    /// volume. With <paramref name="asSnapshot"/> the result is a read-only snapshot with id <paramref name="targetVolumeId"/>.
    /// </summary>
    public async Task<CopyStatistics> CopyReencryptingAsync(
        Guid sourceVolumeId, Guid targetVolumeId, long targetSizeBytes, EncryptionPlan plan, bool asSnapshot, CancellationToken cancellationToken)
    {
        var source = _store.Find(sourceVolumeId) ?? throw MissingVolume(sourceVolumeId);
        using var sourceKeys = await Keys.UnwrapAsync(sourceVolumeId, cancellationToken);
        using var targetKeys = await Keys.CreateAsync(targetVolumeId, plan, cancellationToken);
        var writableId = asSnapshot ? Guid.NewGuid() : targetVolumeId;
        try
        {
            _store.CreateVolume(writableId, Math.Max(targetSizeBytes, source.SizeBytes), targetKeys.Inner, targetKeys.Outer);
            CopyStatistics statistics;
            using (var from = _store.OpenVolume(sourceVolumeId, sourceKeys.Inner, sourceKeys.Outer))
            using (var to = _store.OpenVolume(writableId, targetKeys.Inner, targetKeys.Outer))
            {
                statistics = CopyAllocated(from, to, cancellationToken);
            }

            if (asSnapshot)
            {
                _store.CreateSnapshot(writableId, targetVolumeId);
                _store.Delete(writableId);
            }

            LastCopy = statistics;
            return statistics;
        }
        catch
        {
            DeleteIfPresent(writableId);
            DeleteIfPresent(targetVolumeId);
            Keys.Shred(targetVolumeId);
            throw;
        }
    }

    /// <summary>Copies every allocated range of <paramref name="from"/> into <paramref name="to"/> (which reads as zeros elsewhere) and flushes it.</summary>
    public static CopyStatistics CopyAllocated(Volume from, Volume to, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(from);
        ArgumentNullException.ThrowIfNull(to);
        var stopwatch = Stopwatch.StartNew();
        var buffer = ArrayPool<byte>.Shared.Rent(CopyChunkBytes);
        long copied = 0;
        try
        {
            foreach (var range in from.GetAllocatedRanges(0, from.SizeBytes))
            {
                for (var offset = range.OffsetBytes; offset < range.OffsetBytes + range.LengthBytes;)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var length = (int)Math.Min(CopyChunkBytes, range.OffsetBytes + range.LengthBytes - offset);
                    var chunk = buffer.AsSpan(0, length);
                    from.Read(offset, chunk);
                    to.Write(offset, chunk);
                    offset += length;
                    copied += length;
                }
            }

            to.Flush();
        }
        finally
        {
            // The buffer held plaintext: zero it before it goes back to the pool.
            Array.Clear(buffer);
            ArrayPool<byte>.Shared.Return(buffer);
        }

        return new CopyStatistics(copied, from.SizeBytes, stopwatch.Elapsed);
    }

    public void Resize(Guid volumeId, long newSizeBytes) => _store.Resize(volumeId, newSizeBytes);

    /// <summary>
    /// Deletes the volume (refused by the engine while open), then crypto-shreds its wrapped DEKs. Tolerates
    /// either being gone already, so a delete interrupted by a crash can be repeated.
    /// </summary>
    public void DeleteAndShred(Guid volumeId)
    {
        DeleteIfPresent(volumeId);
        Keys.Shred(volumeId);
    }

    private void ShareOrUndo(Guid sourceVolumeId, Guid targetVolumeId)
    {
        try
        {
            Keys.ShareLayers(sourceVolumeId, targetVolumeId);
        }
        catch
        {
            DeleteIfPresent(targetVolumeId);
            throw;
        }
    }

    private void DeleteIfPresent(Guid volumeId)
    {
        if (_store.Find(volumeId) is not null)
        {
            _store.Delete(volumeId);
        }
    }

    private static StorageException MissingVolume(Guid volumeId) =>
        new(StorageError.NotFound, $"The storage volume {volumeId} does not exist.");
}
