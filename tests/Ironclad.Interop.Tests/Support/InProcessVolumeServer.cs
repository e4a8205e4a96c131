// An NBD server in the test process over a real encrypted volume store, for what the `ironclad`
// process does not let a test control: restarting on the same data directory with the same data key
// (serve-scratch deletes its volume and forgets its key at exit), and taking a snapshot between
// client operations to serve it as a read-only export. The pieces are the production ones:
// Ironclad.Nbd's NbdServer, the host's VolumeExport, Ironclad.Storage's VolumeStore and XTS-AES-256.
// Invariants: the data key lives only in this object's memory; plain NBD on 127.0.0.1 only; after
// RestartAsync nothing of the previous server or store is still open. (This test process runs with
// .NET's advisory file locking off, see the csproj, so the store's directory lock does not guard
// it here: the restart closes the old store completely before it opens the new one.)
using System.Collections.Concurrent;
using System.Net;
using Ironclad.Crypto.Keys;
using Ironclad.Nbd.Exports;
using Ironclad.Nbd.Server;
using Ironclad.Storage;

namespace Ironclad.Interop.Tests.Support;

internal sealed class InProcessVolumeServer : INbdExportCatalog, IAsyncDisposable
{
    /// <summary>The name the writable volume is exported under.</summary>
    public const string VolumeExportName = "volume";

    private readonly DataKey _key = DataKey.Generate();
    private readonly ConcurrentDictionary<string, Guid> _exports = new(StringComparer.Ordinal);
    private VolumeStore? _store;
    private NbdServer? _server;

    private InProcessVolumeServer(string storeDirectory, Guid volumeId)
    {
        StoreDirectory = storeDirectory;
        VolumeId = volumeId;
    }

    /// <summary>The volume store's directory: what the plaintext scan reads.</summary>
    public string StoreDirectory { get; }

    public Guid VolumeId { get; }

    /// <summary>How many times the server started (1 + restarts).</summary>
    public int Generation { get; private set; }

    private VolumeStore Store => _store ?? throw new ObjectDisposedException(nameof(InProcessVolumeServer));

    private NbdServer Server => _server ?? throw new ObjectDisposedException(nameof(InProcessVolumeServer));

    /// <summary>Creates a store in <paramref name="storeDirectory"/> with one volume of <paramref name="sizeBytes"/> and serves it as <see cref="VolumeExportName"/>.</summary>
    public static async Task<InProcessVolumeServer> StartAsync(string storeDirectory, long sizeBytes)
    {
        var volumeId = Guid.NewGuid();
        var server = new InProcessVolumeServer(storeDirectory, volumeId);
        try
        {
            server._store = VolumeStore.Open(storeDirectory);
            server._store.CreateVolume(volumeId, sizeBytes, server._key);
            server._exports[VolumeExportName] = volumeId;
            await server.ListenAsync();
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>How clients reach <paramref name="exportName"/> on the server running now (the port changes on restart).</summary>
    public NbdEndpoint Endpoint(string exportName = VolumeExportName) =>
        new(IPAddress.Loopback.ToString(), Server.LocalEndPoint.Port, exportName);

    /// <summary>Takes a snapshot of the volume now and serves it (read-only) as <paramref name="exportName"/>.</summary>
    public NbdEndpoint AddSnapshotExport(string exportName)
    {
        var snapshotId = Guid.NewGuid();
        Store.CreateSnapshot(VolumeId, snapshotId);
        if (!_exports.TryAdd(exportName, snapshotId))
        {
            throw new InvalidOperationException($"An export named '{exportName}' already exists.");
        }

        return Endpoint(exportName);
    }

    /// <summary>
    /// Stops the server (connections end, their volumes are flushed and closed), closes the store,
    /// reopens it from the same directory (recovery runs) and serves the same exports again.
    /// </summary>
    public async Task RestartAsync()
    {
        await StopAsync();
        _store = VolumeStore.Open(StoreDirectory);
        await ListenAsync();
    }

    /// <summary>Stops serving and closes the store (which writes a checkpoint); the files are then at rest. Idempotent.</summary>
    public async Task StopAsync()
    {
        if (_server is { } server)
        {
            _server = null;
            await server.DisposeAsync();
        }

        _store?.Dispose();
        _store = null;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _key.Dispose();
    }

    IReadOnlyList<NbdExportDescription> INbdExportCatalog.List(NbdClient client) =>
        [.. _exports.Keys.Order(StringComparer.Ordinal).Select(name => Describe(name)).OfType<NbdExportDescription>()];

    NbdExportDescription? INbdExportCatalog.Describe(string name, NbdClient client) => Describe(name);

    INbdExport? INbdExportCatalog.Open(string name, NbdClient client)
    {
        if (!_exports.TryGetValue(name, out var id) || _store is not { } store)
        {
            return null;
        }

        return HostVolumeExport.Create(store.OpenVolume(id, _key));
    }

    private NbdExportDescription? Describe(string name)
    {
        if (!_exports.TryGetValue(name, out var id) || _store?.Find(id) is not { } info)
        {
            return null;
        }

        return new NbdExportDescription(name, $"in-process test {info.Kind}", info.SizeBytes, info.Kind == VolumeKind.Snapshot, CanMultiConnect: true);
    }

    private async Task ListenAsync()
    {
        var server = new NbdServer(
            new NbdServerOptions { ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0), TlsMode = NbdTlsMode.Off },
            this);
        try
        {
            server.Start();
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }

        _server = server;
        Generation++;
    }
}
