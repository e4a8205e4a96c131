// IDiskDirectory over the disks store, plus the guard that keeps a disk's own operations (delete,
// grow, encryption change) from racing a state change (a SAS grant now, a VM attach later).
// Invariant: while a disk is claimed for an operation, TrySetDiskState refuses to move it, and a
// claim is granted only when the disk is in a state that operation allows — both under one lock.
using System.Collections.Concurrent;

namespace Ironclad.Compute.Disks;

internal sealed class DiskDirectory : IDiskDirectory
{
    private readonly DiskStore _store;
    private readonly Lock _stateLock = new();
    private readonly ConcurrentDictionary<string, string> _claims = new(StringComparer.OrdinalIgnoreCase);

    public DiskDirectory(DiskStore store)
    {
        _store = store ?? throw new ArgumentNullException(nameof(store));
    }

    internal DiskStore Store => _store;

    public DiskInfo? Find(string resourceId)
    {
        ArgumentNullException.ThrowIfNull(resourceId);
        return _store.Find(resourceId)?.ToInfo();
    }

    public DiskInfo? FindByVolume(Guid volumeId)
    {
        if (_store.FindByVolume(volumeId) is { } disk)
        {
            return disk.ToInfo();
        }

        var image = _store.FindImageByVolume(volumeId);
        var imageDisk = image?.Disks.FirstOrDefault(d => d.VolumeId == volumeId);
        return image is not null && imageDisk is not null ? image.ToInfo(imageDisk) : null;
    }

    public IReadOnlyList<DiskInfo> UsingEncryptionSet(string encryptionSetId)
    {
        ArgumentNullException.ThrowIfNull(encryptionSetId);
        var result = _store.DisksUsingSet(encryptionSetId).Select(d => d.ToInfo()).ToList();
        foreach (var image in _store.ImagesUsingSet(encryptionSetId))
        {
            result.AddRange(image.Disks
                .Where(d => string.Equals(d.EncryptionSetId, encryptionSetId, StringComparison.OrdinalIgnoreCase))
                .Select(image.ToInfo));
        }

        return result;
    }

    public IReadOnlyList<DiskInfo> All() =>
        [.. _store.AllDisks().Select(d => d.ToInfo()), .. _store.AllImages().SelectMany(i => i.Disks.Select(i.ToInfo))];

    public bool TrySetDiskState(string resourceId, string expected, string newState, string? managedBy = null)
    {
        ArgumentNullException.ThrowIfNull(resourceId);
        lock (_stateLock)
        {
            return !_claims.ContainsKey(resourceId) && _store.TrySetState(resourceId, expected, newState, managedBy);
        }
    }

    /// <summary>
    /// Claims the disk for <paramref name="operation"/> if it is in one of <paramref name="allowedStates"/>; the
    /// returned claim releases it. Null with the state found when it is in another state or already claimed.
    /// </summary>
    public DiskClaim? TryClaim(string resourceId, string operation, IReadOnlyCollection<string> allowedStates, out string? currentState, out string? busyWith)
    {
        lock (_stateLock)
        {
            busyWith = _claims.TryGetValue(resourceId, out var other) ? other : null;
            currentState = _store.Find(resourceId)?.DiskState;
            if (busyWith is not null || currentState is null || !allowedStates.Contains(currentState))
            {
                return null;
            }

            _claims[resourceId] = operation;
            return new DiskClaim(this, resourceId);
        }
    }

    private void Release(string resourceId)
    {
        lock (_stateLock)
        {
            _claims.TryRemove(resourceId, out _);
        }
    }

    /// <summary>An exclusive hold on one disk's state; dispose to release.</summary>
    internal sealed class DiskClaim(DiskDirectory directory, string resourceId) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                directory.Release(resourceId);
            }
        }
    }
}
