// The NBD listener: accepts TCP connections and runs one NbdConnection per client until disposed.
// Invariants: plain NBD (TLS off) is refused on any address but loopback; at most ConnectionsMax
// connections run at once; disposing waits for every connection to finish its in-flight requests.
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Ironclad.Nbd.Exports;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ironclad.Nbd.Server;

public sealed class NbdServer : IAsyncDisposable
{
    private readonly INbdExportCatalog _catalog;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _shutdown = new();
    private readonly ConcurrentDictionary<Task, bool> _connections = new();
    private Socket? _listener;
    private Task? _acceptLoop;
    private int _active;

    public NbdServer(NbdServerOptions options, INbdExportCatalog catalog, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(catalog);
        if (options.TlsMode != NbdTlsMode.Off && options.ServerCertificate is null)
        {
            throw new ArgumentException("A server certificate is needed unless TLS is off.", nameof(options));
        }

        if (options.TlsMode == NbdTlsMode.RequiredWithClientCertificate && options.ClientCertificateAuthority is null)
        {
            throw new ArgumentException("Client certificates need a certificate authority to chain to.", nameof(options));
        }

        if (options.QueueDepthMax < 1 || options.PayloadBytesMax < 4096 || options.PayloadBytesMax % 512 != 0)
        {
            // The maximum block size is advertised, and must be a multiple of the 512-byte minimum.
            throw new ArgumentOutOfRangeException(nameof(options), "Queue depth must be at least 1 and the payload limit a multiple of 512 of at least 4096 bytes.");
        }

        Options = options;
        _catalog = catalog;
        _logger = loggerFactory?.CreateLogger("Ironclad.Nbd") ?? NullLogger.Instance;
    }

    public NbdServerOptions Options { get; }

    /// <summary>The bound address (the real port when options asked for port 0). Valid after Start.</summary>
    public IPEndPoint LocalEndPoint => (IPEndPoint)(_listener?.LocalEndPoint ?? throw new InvalidOperationException("The server has not started."));

    public int ActiveConnections => Volatile.Read(ref _active);

    /// <summary>Binds and starts accepting. Throws SocketException (AddressAlreadyInUse) if the port is taken, and InvalidOperationException if plain NBD is asked for on a non-loopback address.</summary>
    public void Start()
    {
        if (_listener is not null)
        {
            throw new InvalidOperationException("The server has already started.");
        }

        if (Options.TlsMode == NbdTlsMode.Off && !IPAddress.IsLoopback(Options.ListenEndPoint.Address))
        {
            throw new InvalidOperationException($"Plain NBD (TLS off) is only allowed on a loopback address, not {Options.ListenEndPoint.Address}.");
        }

        var listener = new Socket(Options.ListenEndPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.Bind(Options.ListenEndPoint);
            listener.Listen(512);
        }
        catch
        {
            listener.Dispose();
            throw;
        }

        _listener = listener;
        NbdLog.Listening(_logger, LocalEndPoint, Options.TlsMode);
        _acceptLoop = AcceptLoopAsync(listener, _shutdown.Token);
    }

    private async Task AcceptLoopAsync(Socket listener, CancellationToken shutdown)
    {
        while (!shutdown.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(shutdown);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException || (e is SocketException && shutdown.IsCancellationRequested))
            {
                return;
            }
            catch (SocketException)
            {
                continue; // a connection that died before it was accepted
            }

            if (Interlocked.Increment(ref _active) > Options.ConnectionsMax)
            {
                Interlocked.Decrement(ref _active);
                NbdLog.TooManyConnections(_logger, socket.RemoteEndPoint, Options.ConnectionsMax);
                socket.Dispose();
                continue;
            }

            socket.NoDelay = true;
            var connection = new NbdConnection(socket, Options, _catalog, _logger);
            var task = RunConnectionAsync(connection, shutdown);
            _connections.TryAdd(task, true);
            _ = task.ContinueWith(t => _connections.TryRemove(t, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    private async Task RunConnectionAsync(NbdConnection connection, CancellationToken shutdown)
    {
        try
        {
            await Task.Yield(); // leave the accept loop at once
            await connection.RunAsync(shutdown);
        }
        finally
        {
            Interlocked.Decrement(ref _active);
        }
    }

    /// <summary>Stops accepting, lets every connection answer what it has read, closes them and disposes their exports.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_shutdown.IsCancellationRequested)
        {
            return;
        }

        await _shutdown.CancelAsync();
        _listener?.Dispose();
        if (_acceptLoop is not null)
        {
            await _acceptLoop;
        }

        await Task.WhenAll(_connections.Keys);
        _shutdown.Dispose();
    }
}
