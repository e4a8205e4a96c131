// The host's export catalog: named exports added and removed at run time (the development scratch
// volume today; a running VM's disks later), read by the NBD server on every handshake.
// Invariants: thread-safe; a name is registered at most once; removing an export also closes every
// connection's handle to it (in-flight calls finish first, later ones fail with ESHUTDOWN), so
// after Remove returns nothing can reach the backing volume or its key through this registry.
using Ironclad.Host.Logging;
using Ironclad.Nbd.Exports;
using Ironclad.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ironclad.Host.Exports;

internal sealed class ExportRegistry : INbdExportCatalog, IDisposable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly ILogger _logger;
    private bool _disposed;

    public ExportRegistry(ILogger? logger = null)
    {
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>Names registered now, in ordinal order.</summary>
    public IReadOnlyList<string> Names
    {
        get
        {
            lock (_lock)
            {
                return [.. _entries.Keys.Order(StringComparer.Ordinal)];
            }
        }
    }

    /// <summary>Connections that hold an export of this registry open now.</summary>
    public int OpenHandles
    {
        get
        {
            lock (_lock)
            {
                return _entries.Values.Sum(entry => entry.Handles.Count);
            }
        }
    }

    /// <summary>Registers an export; throws InvalidOperationException if the name is taken.</summary>
    public void Add(ExportRegistration registration)
    {
        if (!TryAdd(registration))
        {
            throw new InvalidOperationException($"An export named '{registration.Name}' is already registered.");
        }
    }

    /// <summary>Registers an export; false if the name is taken (nothing changes then).</summary>
    public bool TryAdd(ExportRegistration registration)
    {
        ArgumentNullException.ThrowIfNull(registration);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_entries.TryAdd(registration.Name, new Entry(registration)))
            {
                return false;
            }
        }

        HostLog.ExportAdded(_logger, registration.Name);
        return true;
    }

    /// <summary>
    /// Unregisters <paramref name="name"/> and closes every open handle to it, waiting for calls in
    /// flight on them. False if no such export was registered.
    /// </summary>
    public bool Remove(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        Entry? entry;
        lock (_lock)
        {
            if (!_entries.Remove(name, out entry))
            {
                return false;
            }
        }

        CloseHandles(entry);
        HostLog.ExportRemoved(_logger, name);
        return true;
    }

    public IReadOnlyList<NbdExportDescription> List(NbdClient client)
    {
        ArgumentNullException.ThrowIfNull(client);
        List<Entry> entries;
        lock (_lock)
        {
            entries = [.. _entries.Values];
        }

        // Callbacks (visibility, describe) run outside the lock: they may be slow or take locks of their own.
        var descriptions = new List<NbdExportDescription>(entries.Count);
        foreach (var entry in entries.OrderBy(entry => entry.Registration.Name, StringComparer.Ordinal))
        {
            if (entry.Registration.IsVisibleTo(client) && TryDescribe(entry.Registration) is { } description)
            {
                descriptions.Add(description);
            }
        }

        return descriptions;
    }

    public NbdExportDescription? Describe(string name, NbdClient client)
    {
        ArgumentNullException.ThrowIfNull(client);
        var entry = Find(name, client);
        return entry is null ? null : TryDescribe(entry.Registration);
    }

    public INbdExport? Open(string name, NbdClient client)
    {
        ArgumentNullException.ThrowIfNull(client);
        var entry = Find(name, client);
        if (entry is null)
        {
            return null;
        }

        INbdExport export;
        try
        {
            export = entry.Registration.Open(client);
        }
        catch (Exception e) when (e is StorageException or ObjectDisposedException or NbdExportException)
        {
            // The backing volume went away (deleted, store closing) between lookup and open: to
            // the client the export does not exist any more.
            HostLog.ExportUnavailable(_logger, name, e.GetType().Name);
            return null;
        }

        var handle = new ExportHandle(export, entry, this);
        lock (_lock)
        {
            if (!_disposed && _entries.TryGetValue(name, out var current) && current == entry)
            {
                entry.Handles.Add(handle);
                return handle;
            }
        }

        // Removed while we were opening: do not hand out a handle nobody can revoke.
        handle.Dispose();
        return null;
    }

    /// <summary>Removes every export and closes every open handle.</summary>
    public void Dispose()
    {
        List<Entry> entries;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            entries = [.. _entries.Values];
            _entries.Clear();
        }

        foreach (var entry in entries)
        {
            CloseHandles(entry);
        }
    }

    private Entry? Find(string name, NbdClient client)
    {
        ArgumentNullException.ThrowIfNull(name);
        Entry? entry;
        lock (_lock)
        {
            _entries.TryGetValue(name, out entry);
        }

        return entry is not null && entry.Registration.IsVisibleTo(client) ? entry : null;
    }

    private NbdExportDescription? TryDescribe(ExportRegistration registration)
    {
        try
        {
            var shape = registration.Describe();
            return new NbdExportDescription(registration.Name, registration.Description, shape.SizeBytes, shape.IsReadOnly, shape.CanMultiConnect);
        }
        catch (Exception e) when (e is StorageException or ObjectDisposedException)
        {
            HostLog.ExportUnavailable(_logger, registration.Name, e.GetType().Name);
            return null;
        }
    }

    private void CloseHandles(Entry entry)
    {
        List<ExportHandle> handles;
        lock (_lock)
        {
            handles = [.. entry.Handles];
        }

        foreach (var handle in handles)
        {
            handle.Dispose();
        }
    }

    private void Forget(ExportHandle handle)
    {
        lock (_lock)
        {
            handle.Entry.Handles.Remove(handle);
        }
    }

    private sealed class Entry(ExportRegistration registration)
    {
        public ExportRegistration Registration { get; } = registration;

        /// <summary>Guarded by the registry's lock.</summary>
        public HashSet<ExportHandle> Handles { get; } = [];
    }

    /// <summary>
    /// What a connection gets: the export behind a gate. Each call enters the gate; closing it
    /// (connection end, Remove, registry dispose; whichever is first) refuses new calls with
    /// ESHUTDOWN, waits for calls in flight, then disposes the export exactly once.
    /// </summary>
    private sealed class ExportHandle(INbdExport inner, Entry entry, ExportRegistry registry) : INbdExport
    {
        private const int ClosedFlag = 1 << 30;

        private readonly Lock _disposeLock = new();

        // Calls in flight in the low bits, ClosedFlag once closing started.
        private int _state;
        private bool _disposed;

        public Entry Entry { get; } = entry;

        public long SizeBytes => inner.SizeBytes;

        public bool IsReadOnly => inner.IsReadOnly;

        public bool CanMultiConnect => inner.CanMultiConnect;

        public void Read(long offsetBytes, Span<byte> destination)
        {
            Enter();
            try
            {
                inner.Read(offsetBytes, destination);
            }
            finally
            {
                Exit();
            }
        }

        public void Write(long offsetBytes, ReadOnlySpan<byte> source, bool fua)
        {
            Enter();
            try
            {
                inner.Write(offsetBytes, source, fua);
            }
            finally
            {
                Exit();
            }
        }

        public void Flush()
        {
            Enter();
            try
            {
                inner.Flush();
            }
            finally
            {
                Exit();
            }
        }

        public void Trim(long offsetBytes, long lengthBytes, bool fua)
        {
            Enter();
            try
            {
                inner.Trim(offsetBytes, lengthBytes, fua);
            }
            finally
            {
                Exit();
            }
        }

        public void WriteZeroes(long offsetBytes, long lengthBytes, bool fua, bool noHole)
        {
            Enter();
            try
            {
                inner.WriteZeroes(offsetBytes, lengthBytes, fua, noHole);
            }
            finally
            {
                Exit();
            }
        }

        public bool IsZeroingFast(bool noHole) => inner.IsZeroingFast(noHole);

        public int GetAllocation(long offsetBytes, long lengthBytes, Span<NbdExtent> extents)
        {
            Enter();
            try
            {
                return inner.GetAllocation(offsetBytes, lengthBytes, extents);
            }
            finally
            {
                Exit();
            }
        }

        /// <summary>Closes the gate and disposes the export; a concurrent second caller returns only once that is done.</summary>
        public void Dispose()
        {
            lock (_disposeLock)
            {
                if (_disposed)
                {
                    return;
                }

                Interlocked.Or(ref _state, ClosedFlag);
                var spin = new SpinWait();
                while (Volatile.Read(ref _state) != ClosedFlag)
                {
                    spin.SpinOnce();
                }

                _disposed = true;
                try
                {
                    inner.Dispose();
                }
                finally
                {
                    registry.Forget(this);
                }
            }
        }

        private void Enter()
        {
            if ((Interlocked.Increment(ref _state) & ClosedFlag) != 0)
            {
                Interlocked.Decrement(ref _state);
                throw new NbdExportException(NbdErrno.ESHUTDOWN, "The export was closed.");
            }
        }

        private void Exit() => Interlocked.Decrement(ref _state);
    }
}
