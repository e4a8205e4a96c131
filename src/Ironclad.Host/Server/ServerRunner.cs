// The life of one `ironclad server` process: lock the data directory, prepare TLS, open (recover)
// the volume store, bind NBD and HTTPS, publish endpoints.json, serve until SIGINT/SIGTERM, stop
// cleanly (listeners first, then the store). Expected failures become one sentence on stderr and
// exit 1; the process never leaves endpoints.json behind for a server that is not serving.
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Ironclad.Host.Data;
using Ironclad.Host.Logging;
using Ironclad.Host.Tls;
using Ironclad.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Ironclad.Host.Server;

internal static class ServerRunner
{
    public static async Task<int> RunAsync(ServerSettings settings, TextWriter error, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(error);
        using var loggerFactory = HostLogging.CreateFactory(settings.LogFormat);
        var logger = loggerFactory.CreateLogger("Ironclad.Host.Server");
        try
        {
            await ServeAsync(settings, loggerFactory, logger, TimeProvider.System, cancellationToken);
            return ExitCodes.Success;
        }
        catch (StartupException e)
        {
            HostLog.ServerStartFailed(logger, e.Message);
            await error.WriteLineAsync($"ironclad: error: {e.Message}");
            return ExitCodes.Failure;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            HostLog.ServerFailed(logger, e);
            await error.WriteLineAsync($"ironclad: error: unexpected failure ({e.GetType().Name}); the log has the details");
            return ExitCodes.Failure;
        }
    }

    private static async Task ServeAsync(
        ServerSettings settings, ILoggerFactory loggerFactory, ILogger logger, TimeProvider time, CancellationToken cancellationToken)
    {
        using var dataDirectory = DataDirectory.Open(settings.DataDirectory);
        HostLog.ServerStarting(logger, dataDirectory.FullPath, dataDirectory.Created);
        if (UnixFileModes.IsGroupOrOtherAccessible(dataDirectory.FullPath))
        {
            HostLog.DataDirectoryTooOpen(logger, dataDirectory.FullPath);
        }

        // Left by a server that was killed: it describes nobody now.
        EndpointsFile.Delete(dataDirectory.EndpointsFile);

        using var tls = TlsMaterial.Prepare(dataDirectory.TlsDirectory, settings.BindAddress, time, logger);
        using var volumes = OpenVolumeStore(dataDirectory, logger);
        await using (var app = ServerComposition.Build(settings, dataDirectory, tls, volumes, loggerFactory, time))
        {
            // Identity bootstrap (tenant, administrator, subscription) before any listener opens.
            var bootstrap = IdentityRole.Bootstrap(app.Services);
            app.Lifetime.ApplicationStopping.Register(() =>
            {
                EndpointsFile.Delete(dataDirectory.EndpointsFile);
                HostLog.ServerStopping(logger);
            });

            try
            {
                await app.StartAsync(cancellationToken);
            }
            catch (IOException e) when (e.InnerException is AddressInUseException)
            {
                throw new StartupException(string.Create(CultureInfo.InvariantCulture,
                    $"port {settings.Port} on {settings.BindAddress} is already in use"), e);
            }
            catch (IOException e)
            {
                var cause = e.InnerException is SocketException socketError ? socketError.Message : e.Message;
                throw new StartupException(string.Create(CultureInfo.InvariantCulture,
                    $"cannot listen on {settings.BindAddress} port {settings.Port}: {cause}"), e);
            }

            var port = BoundPort(app);
            var nbdPort = app.Services.GetRequiredService<NbdListener>().LocalEndPoint.Port;
            var baseUrl = BaseUrl(settings.BindAddress, port);
            // Tokens name this origin as their issuer; with --port 0 it is known only now.
            app.Services.GetRequiredService<Ironclad.Identity.IdentityOptions>().AuthorityHost = baseUrl;
            var endpoints = new ServerEndpoints(
                baseUrl, NbdListener.PublishedAddress(settings.BindAddress, nbdPort), tls.CaCertificatePath, Environment.ProcessId,
                TenantId: bootstrap.TenantId.ToString("D"), SubscriptionId: bootstrap.SubscriptionId.ToString("D"), AuthorityHost: baseUrl,
                ClientId: bootstrap.ClientId.ToString("D"), ClientSecret: bootstrap.ClientSecret, VaultPorts: settings.VaultPortRange.ToString());
            EndpointsFile.Write(dataDirectory.EndpointsFile, endpoints);
            HostLog.ServerStarted(logger, endpoints.Url, endpoints.Nbd, dataDirectory.EndpointsFile);

            await app.WaitForShutdownAsync(cancellationToken);
        }

        // Listeners are closed (NBD connections ended, their volume handles flushed and closed):
        // nothing can reach the store any more. Closing writes a checkpoint.
        volumes.Dispose();
        HostLog.VolumeStoreClosed(logger, dataDirectory.VolumesDirectory);
        HostLog.ServerStopped(logger);
    }

    /// <summary>Opens (and, after a crash, recovers) the volume store; a store that cannot open stops the start.</summary>
    internal static VolumeStore OpenVolumeStore(DataDirectory dataDirectory, ILogger logger)
    {
        try
        {
            var store = VolumeStore.Open(dataDirectory.VolumesDirectory);
            var recovery = store.LastRecovery;
            HostLog.VolumeStoreOpened(logger, store.DirectoryPath, recovery.VolumeCount, recovery.RecordsReplayed, recovery.ClustersInUse, (long)recovery.Duration.TotalMilliseconds);
            return store;
        }
        catch (Exception e) when (e is StorageException or IOException or UnauthorizedAccessException)
        {
            throw new StartupException($"the volume store in '{dataDirectory.VolumesDirectory}' cannot be opened: {e.Message}", e);
        }
    }

    // With --port 0 the OS picked the port; Kestrel reports the real one once bound.
    private static int BoundPort(WebApplication app)
    {
        var feature = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()
            ?? throw new InvalidOperationException("Kestrel exposes no IServerAddressesFeature.");
        // The other listener is the vaults' (its address is a name, not a URL with a port).
        var address = feature.Addresses.Single(a => !a.EndsWith(VaultPortsEndPoint.DisplayName, StringComparison.Ordinal));
        return new Uri(address).Port;
    }

    /// <summary>The URL clients use: a wildcard bind is reached through loopback.</summary>
    public static string BaseUrl(IPAddress bindAddress, int port)
    {
        ArgumentNullException.ThrowIfNull(bindAddress);
        var host = bindAddress.Equals(IPAddress.Any) || bindAddress.Equals(IPAddress.IPv6Any) ? IPAddress.Loopback : bindAddress;
        var hostText = host.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{host}]" : host.ToString();
        return string.Create(CultureInfo.InvariantCulture, $"https://{hostText}:{port}");
    }
}
