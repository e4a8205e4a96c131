// A real NbdServer on 127.0.0.1, port 0, TLS off, serving a MemoryCatalog; plus helpers to open a
// well-behaved session and to prove the server still serves after a test abused it.
using System.Net;
using Ironclad.Nbd.Server;

namespace Ironclad.Nbd.Tests.Support;

internal sealed class NbdTestServer : IAsyncDisposable
{
    public const string Disk = "disk";
    public const string DiskDescription = "scratch disk";
    public const long DiskBytes = 1 << 20;
    public const string ReadOnlyDisk = "ro";
    public const long ReadOnlyDiskBytes = 64 * 1024;
    public const string SlowZeroDisk = "slowzero";

    private static int _checks;

    private NbdTestServer(NbdServer server, MemoryCatalog catalog, TestLoggerFactory logs)
    {
        Server = server;
        Catalog = catalog;
        Logs = logs;
    }

    public NbdServer Server { get; }

    public MemoryCatalog Catalog { get; }

    public TestLoggerFactory Logs { get; }

    public IPEndPoint EndPoint => Server.LocalEndPoint;

    /// <summary>Exports: "disk" (1 MiB, writable, multi-conn, described), "ro" (64 KiB, read-only, no multi-conn), "slowzero" (64 KiB, zeroing not fast).</summary>
    public static NbdTestServer Start(Func<NbdServerOptions, NbdServerOptions>? configure = null, MemoryCatalog? catalog = null)
    {
        catalog ??= new MemoryCatalog()
            .Add(Disk, new MemoryExport(DiskBytes), DiskDescription)
            .Add(ReadOnlyDisk, new MemoryExport(ReadOnlyDiskBytes, isReadOnly: true, canMultiConnect: false))
            .Add(SlowZeroDisk, new MemoryExport(64 * 1024, zeroingIsFast: false));
        var options = new NbdServerOptions { ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0), TlsMode = NbdTlsMode.Off };
        options = configure?.Invoke(options) ?? options;
        var logs = new TestLoggerFactory();
        var server = new NbdServer(options, catalog, logs);
        server.Start();
        return new NbdTestServer(server, catalog, logs);
    }

    public Task<RawNbdClient> ConnectAsync() => RawNbdClient.ConnectAsync(EndPoint);

    /// <summary>A client in the transmission phase of <paramref name="export"/>: fixed newstyle, no zeroes, optional structured replies and base:allocation, then NBD_OPT_GO.</summary>
    public async Task<(RawNbdClient Client, NegotiatedExport Export)> OpenAsync(string export = Disk, bool structured = false, bool baseAllocation = false)
    {
        var client = await ConnectAsync();
        try
        {
            await client.StartHandshakeAsync();
            if (structured || baseAllocation)
            {
                Assert.Equal(Wire.RepAck, Assert.Single(await client.OptionAsync(Wire.OptStructuredReply)).Type);
            }

            if (baseAllocation)
            {
                var replies = await client.OptionAsync(Wire.OptSetMetaContext, RawNbdClient.MetaContextRequest(export, "base:allocation"));
                Assert.Equal([Wire.RepMetaContext, Wire.RepAck], replies.Select(r => r.Type));
            }

            var negotiated = await client.GoAsync(export);
            return (client, negotiated);
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }

    /// <summary>A fresh, well-behaved connection still works: write, read back, disconnect cleanly.</summary>
    public async Task AssertStillServesAsync()
    {
        var (client, _) = await OpenAsync();
        await using (client)
        {
            var random = new Random(Interlocked.Increment(ref _checks)); // deterministic: differs per check, same every run
            var data = new byte[4096];
            random.NextBytes(data);
            var offset = (ulong)random.Next(0, (int)(DiskBytes / 4096) - 1) * 4096; // the last block belongs to the bystander
            Assert.Equal(0u, (await client.WriteAsync(offset, data)).Errno);
            var read = await client.ReadAsync(offset, 4096);
            Assert.Equal(0u, read.Errno);
            Assert.Equal(data, read.Data);
            Assert.Empty(await client.DisconnectAsync());
        }
    }

    /// <summary>Waits until no connection holds an export open (the server disposes them as connections end).</summary>
    public async Task AssertExportsReleasedAsync(TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(5));
        while (Catalog.OpenHandles != 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }

        Assert.True(Catalog.OpenHandles == 0, $"{Catalog.OpenHandles} export handle(s) still open: the server did not dispose an export it opened");
    }

    /// <summary>Waits until the server has finished with every connection (so everything it opened should be closed again).</summary>
    public async Task WaitForNoConnectionsAsync()
    {
        var deadline = DateTime.UtcNow + RawNbdClient.Timeout;
        while (Server.ActiveConnections != 0)
        {
            Assert.True(DateTime.UtcNow < deadline, $"{Server.ActiveConnections} connection(s) still running on the server");
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        // Disposal waits for every connection; a server that cannot finish is a failure, not a hang.
        // (The server gives a client that stops reading 10 s before it breaks the connection.)
        var shutdown = Server.DisposeAsync().AsTask();
        if (await Task.WhenAny(shutdown, Task.Delay(TimeSpan.FromSeconds(15))) != shutdown)
        {
            throw new TimeoutException(
                $"NbdServer.DisposeAsync did not finish within 15 s ({Server.ActiveConnections} connection(s) still running): " +
                "a connection never completed, e.g. a request that was read but never answered.");
        }

        await shutdown;
    }
}
