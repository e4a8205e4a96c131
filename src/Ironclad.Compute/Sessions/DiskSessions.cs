// The run-time holder of unwrapped DEKs: every open use of a volume (SAS grant, later a VM) is a
// session here; sessions of one volume share one open Volume and one set of DEKs. Invariants: a
// session is only ever opened after a fresh unwrap through the vault; Revoke (and Dispose at
// shutdown) waits for I/O in flight, closes the volume and zeroes the DEKs before it returns, and a
// revocation that races an open makes that open unwrap again (so it cannot slip past it).
using Ironclad.Compute.DataKeys;
using Ironclad.Storage;

namespace Ironclad.Compute.Sessions;

public sealed class DiskSessions : IDiskSessions, IDisposable
{
    private readonly IDataKeyService _dataKeys;
    private readonly VolumeStore _volumes;
    private readonly Lock _lock = new();
    private readonly Dictionary<Guid, OpenVolume> _open = [];

    // Revocations per volume so far: an open whose unwrap straddles one unwraps again.
    private readonly Dictionary<Guid, long> _revocations = [];
    private bool _disposed;

    public DiskSessions(IDataKeyService dataKeys, VolumeStore volumes)
    {
        _dataKeys = dataKeys ?? throw new ArgumentNullException(nameof(dataKeys));
        _volumes = volumes ?? throw new ArgumentNullException(nameof(volumes));
    }

    public async Task<IDiskSession> OpenAsync(Guid volumeId, string purpose, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(purpose);
        for (var attempt = 0; ; attempt++)
        {
            long revocationsBefore;
            lock (_lock)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                revocationsBefore = _revocations.GetValueOrDefault(volumeId);
            }

            // The fresh vault check: throws KeyAccessException when the key or the access is gone.
            var keys = await _dataKeys.UnwrapAsync(volumeId, cancellationToken).ConfigureAwait(false);
            var keysOwned = true;
            try
            {
                lock (_lock)
                {
                    ObjectDisposedException.ThrowIf(_disposed, this);
                    if (_revocations.GetValueOrDefault(volumeId) != revocationsBefore)
                    {
                        // Revoked while we were unwrapping: that answer may predate the revocation.
                        if (attempt >= 2)
                        {
                            throw new InvalidOperationException($"Volume {volumeId} was revoked repeatedly while it was being opened; try again.");
                        }

                        continue;
                    }

                    if (!_open.TryGetValue(volumeId, out var open))
                    {
                        // Opening the volume under the lock keeps two first opens from racing; it is
                        // a catalog lookup and a key schedule, no I/O.
                        open = new OpenVolume(volumeId, _volumes.OpenVolume(volumeId, keys.Inner, keys.Outer), keys);
                        keysOwned = false;
                        _open.Add(volumeId, open);
                    }

                    var session = new DiskSession(this, open, purpose);
                    open.Sessions.Add(session);
                    return session;
                }
            }
            finally
            {
                if (keysOwned)
                {
                    // A shared volume already holds its DEKs; this unwrap was the access check.
                    keys.Dispose();
                }
            }
        }
    }

    public bool IsOpen(Guid volumeId)
    {
        lock (_lock)
        {
            return _open.ContainsKey(volumeId);
        }
    }

    public IReadOnlyList<Guid> OpenVolumes()
    {
        lock (_lock)
        {
            return [.. _open.Keys];
        }
    }

    public int Revoke(Guid volumeId, string reason)
    {
        ArgumentException.ThrowIfNullOrEmpty(reason);
        OpenVolume? open;
        var closed = 0;
        lock (_lock)
        {
            _revocations[volumeId] = _revocations.GetValueOrDefault(volumeId) + 1;
            if (_open.Remove(volumeId, out open))
            {
                foreach (var session in open.Sessions)
                {
                    session.MarkRevoked(reason);
                }

                closed = open.Sessions.Count;
            }
        }

        open?.Close();
        return closed;
    }

    /// <summary>Closes every open volume and zeroes every DEK (host shutdown).</summary>
    public void Dispose()
    {
        List<OpenVolume> open;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            open = [.. _open.Values];
            _open.Clear();
            foreach (var session in open.SelectMany(o => o.Sessions))
            {
                session.MarkRevoked("The server is shutting down.");
            }
        }

        foreach (var volume in open)
        {
            volume.Close();
        }
    }

    private void Release(DiskSession session)
    {
        OpenVolume? toClose = null;
        lock (_lock)
        {
            var open = session.Open;
            if (open.Sessions.Remove(session) && open.Sessions.Count == 0
                && _open.TryGetValue(open.VolumeId, out var current) && ReferenceEquals(current, open))
            {
                _open.Remove(open.VolumeId);
                toClose = open;
            }
        }

        toClose?.Close();
    }

    /// <summary>One open volume and the DEKs it was opened with, shared by its sessions.</summary>
    private sealed class OpenVolume(Guid volumeId, Volume volume, UnwrappedDataKeys keys)
    {
        // I/O calls in flight; Close waits for them to drain and then refuses new ones.
        private readonly object _io = new(); // object, not Lock: Close waits on it with Monitor.Wait
        private int _inFlight;
        private bool _closed;

        public Guid VolumeId { get; } = volumeId;

        public Volume Volume { get; } = volume;

        /// <summary>Guarded by the owner's lock.</summary>
        public List<DiskSession> Sessions { get; } = [];

        public T Use<T>(DiskSession session, Func<Volume, T> io)
        {
            Enter(session);
            try
            {
                return io(Volume);
            }
            finally
            {
                Exit();
            }
        }

        public void Enter(DiskSession session)
        {
            lock (_io)
            {
                if (_closed || session.IsClosed)
                {
                    throw session.ClosedException();
                }

                _inFlight++;
            }
        }

        public void Exit()
        {
            lock (_io)
            {
                if (--_inFlight == 0 && _closed)
                {
                    Monitor.PulseAll(_io);
                }
            }
        }

        public void Close()
        {
            lock (_io)
            {
                if (_closed)
                {
                    return;
                }

                _closed = true;
                while (_inFlight > 0)
                {
                    Monitor.Wait(_io);
                }
            }

            try
            {
                Volume.Dispose();
            }
            finally
            {
                keys.Dispose();
            }
        }
    }

    private sealed class DiskSession(DiskSessions owner, OpenVolume open, string purpose) : IDiskSession
    {
        private volatile string? _revokedReason;
        private volatile bool _closed;

        public OpenVolume Open { get; } = open;

        public Guid VolumeId => Open.VolumeId;

        public string Purpose { get; } = purpose;

        public Volume Volume => IsClosed ? throw new ObjectDisposedException(nameof(Volume), ClosedException().Message) : Open.Volume;

        public long SizeBytes => Open.Volume.SizeBytes;

        public bool IsReadOnly => Open.Volume.IsReadOnly;

        public string? RevokedReason => _revokedReason;

        public bool IsClosed => _closed || _revokedReason is not null;

        public void MarkRevoked(string reason)
        {
            _revokedReason ??= reason;
        }

        public DiskSessionRevokedException ClosedException() =>
            new(_revokedReason is { } reason ? $"Access to the disk was revoked: {reason}" : "The disk session is closed.");

        public void Read(long offsetBytes, Span<byte> destination)
        {
            Open.Enter(this);
            try
            {
                Open.Volume.Read(offsetBytes, destination);
            }
            finally
            {
                Open.Exit();
            }
        }

        public void Write(long offsetBytes, ReadOnlySpan<byte> source, WriteOptions options = WriteOptions.None)
        {
            Open.Enter(this);
            try
            {
                Open.Volume.Write(offsetBytes, source, options);
            }
            finally
            {
                Open.Exit();
            }
        }

        public void WriteZeroes(long offsetBytes, long lengthBytes) =>
            Open.Use(this, volume =>
            {
                volume.WriteZeroes(offsetBytes, lengthBytes);
                return true;
            });

        public void Flush() =>
            Open.Use(this, volume =>
            {
                volume.Flush();
                return true;
            });

        public IReadOnlyList<AllocatedRange> GetAllocatedRanges(long offsetBytes, long lengthBytes) =>
            Open.Use(this, volume => volume.GetAllocatedRanges(offsetBytes, lengthBytes));

        public void Dispose()
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
            owner.Release(this);
        }
    }
}
