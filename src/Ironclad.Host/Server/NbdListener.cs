// The NBD role of the process: one Ironclad.Nbd.NbdServer over the export registry, as a hosted
// service of the web host (started with it, before endpoints.json is written; stopped with it,
// before the volume store closes). Expected failures to bind become StartupException (exit 1).
// Invariant: LocalEndPoint is the address really bound (the real port when 0 was asked for).
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Ironclad.Host.Logging;
using Ironclad.Nbd.Exports;
using Ironclad.Nbd.Server;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Ironclad.Host.Server;

internal sealed class NbdListener : IHostedService, IAsyncDisposable
{
    private readonly NbdServerOptions _options;
    private readonly INbdExportCatalog _catalog;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private NbdServer? _server;
    private IPEndPoint? _localEndPoint;

    public NbdListener(NbdServerOptions options, INbdExportCatalog catalog, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        _options = options;
        _catalog = catalog;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger("Ironclad.Host.Nbd");
    }

    /// <summary>The bound address; only after Start.</summary>
    public IPEndPoint LocalEndPoint => _localEndPoint ?? throw new InvalidOperationException("The NBD listener has not started.");

    public NbdTlsMode TlsMode => _options.TlsMode;

    /// <summary>Options for a listener on <paramref name="endPoint"/> with the data directory's TLS material (null only for Off).</summary>
    public static NbdServerOptions CreateOptions(
        IPEndPoint endPoint, NbdTls tls, X509Certificate2? serverCertificate, X509Certificate2? clientAuthority, int? queueDepthMax = null)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        if (tls != NbdTls.Off && serverCertificate is null)
        {
            throw new ArgumentException("NBD over TLS needs the server certificate.", nameof(serverCertificate));
        }

        if (tls == NbdTls.Mutual && clientAuthority is null)
        {
            throw new ArgumentException("Mutual TLS needs the CA that client certificates chain to.", nameof(clientAuthority));
        }

        var options = new NbdServerOptions
        {
            ListenEndPoint = endPoint,
            TlsMode = tls.ToMode(),
            ServerCertificate = tls == NbdTls.Off ? null : serverCertificate,
            // Mutual demands a client certificate; required asks for an optional one (a VM's), so both get the CA.
            ClientCertificateAuthority = tls == NbdTls.Off ? null : clientAuthority,
        };
        return queueDepthMax is { } depth ? options with { QueueDepthMax = depth } : options;
    }

    /// <summary>The `nbd` field of endpoints.json: HOST:PORT, a wildcard bind published as 127.0.0.1, IPv6 in brackets.</summary>
    public static string PublishedAddress(IPAddress bindAddress, int port)
    {
        ArgumentNullException.ThrowIfNull(bindAddress);
        var host = bindAddress.Equals(IPAddress.Any) || bindAddress.Equals(IPAddress.IPv6Any) ? IPAddress.Loopback : bindAddress;
        var hostText = host.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{host}]" : host.ToString();
        return string.Create(CultureInfo.InvariantCulture, $"{hostText}:{port}");
    }

    /// <summary>Binds and starts accepting, or throws <see cref="StartupException"/> (port in use, address not available).</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_server is not null)
        {
            throw new InvalidOperationException("The NBD listener was already started.");
        }

        var listen = _options.ListenEndPoint;
        var server = new NbdServer(_options, _catalog, _loggerFactory);
        try
        {
            server.Start();
            _localEndPoint = server.LocalEndPoint;
        }
        catch (SocketException e)
        {
            await server.DisposeAsync();
            throw e.SocketErrorCode == SocketError.AddressAlreadyInUse
                ? new StartupException(string.Create(CultureInfo.InvariantCulture, $"NBD port {listen.Port} on {listen.Address} is already in use"), e)
                : new StartupException(string.Create(CultureInfo.InvariantCulture, $"cannot listen for NBD on {listen.Address} port {listen.Port}: {e.Message}"), e);
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }

        // NbdServer logs "NBD server listening on ..." itself.
        _server = server;
    }

    public Task StopAsync(CancellationToken cancellationToken) => DisposeAsync().AsTask();

    /// <summary>Stops accepting, ends every connection (in-flight requests are answered) and disposes their exports.</summary>
    public async ValueTask DisposeAsync()
    {
        var server = Interlocked.Exchange(ref _server, null);
        if (server is null)
        {
            return;
        }

        await server.DisposeAsync();
        HostLog.NbdStopped(_logger, _localEndPoint ?? _options.ListenEndPoint);
    }
}
