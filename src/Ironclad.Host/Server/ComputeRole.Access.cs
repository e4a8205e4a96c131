// Compute wiring, part Access: disk sessions (the only holder of unwrapped DEKs), SAS grants, the revocation monitor and
// the bridge that turns key-vault, vault and identity events into KeyAccessSignals. Invariant: the monitor and the
// bridge are running before the first request is served, and disks left in ActiveSAS/ActiveUpload by an earlier
// process (whose grants died with it) are put back at rest first.
using Ironclad.Compute.Access;
using Ironclad.Compute.DataKeys;
using Ironclad.Compute.Disks;
using Ironclad.Compute.EncryptionSets;
using Ironclad.Compute.KeyAccess;
using Ironclad.Compute.Platform;
using Ironclad.Compute.Revocation;
using Ironclad.Compute.Sessions;
using Ironclad.KeyVault.Events;
using Ironclad.ResourceManager.KeyVault;
using Ironclad.ResourceManager.ManagedIdentity;
using Ironclad.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Ironclad.Host.Server;

internal static partial class ComputeRole
{
    private static void AddAccess(IServiceCollection services, ServerSettings settings)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(settings);

        // The signal bridge needs only the hubs: registered whatever else is wired.
        services.AddSingleton(provider => new ComputeSignalBridge(
            provider.GetRequiredService<KeyAccessSignals>(), provider.GetRequiredService<IKeyEvents>(), provider.GetRequiredService<IVaultEvents>(),
            provider.GetService<UserAssignedIdentitiesProvider>(), provider.GetRequiredService<TimeProvider>()));

        // Sessions and grants stand on the data keys (ComputeRole.Keys) and the disk directory (ComputeRole.Disks).
        var hasSessions = Registered<IDataKeyService>(services) && Registered<IDiskDirectory>(services);
        if (hasSessions)
        {
            services.AddSingleton(provider => new DiskSessions(provider.GetRequiredService<IDataKeyService>(), provider.GetRequiredService<VolumeStore>()));
            services.AddSingleton<IDiskSessions>(provider => provider.GetRequiredService<DiskSessions>());
            services.AddSingleton(provider => new DiskAccessGrants(
                provider.GetRequiredService<IDiskSessions>(), provider.GetRequiredService<IDiskDirectory>(),
                provider.GetRequiredService<TimeProvider>(), provider.GetRequiredService<ILoggerFactory>().CreateLogger<DiskAccessGrants>()));
            services.AddSingleton<IDiskAccessGrants>(provider => provider.GetRequiredService<DiskAccessGrants>());
        }

        var hasMonitor = hasSessions && Registered<IDataKeyStore>(services) && Registered<IEncryptionSetDirectory>(services) && Registered<IPlatformKeys>(services);
        if (hasMonitor)
        {
            services.AddSingleton(provider => new RevocationMonitor(
                provider.GetRequiredService<KeyAccessSignals>(), provider.GetRequiredService<IDiskSessions>(), provider.GetRequiredService<DiskAccessGrants>(),
                provider.GetRequiredService<IDataKeyService>(), provider.GetRequiredService<IDataKeyStore>(), provider.GetRequiredService<IEncryptionSetDirectory>(),
                provider.GetRequiredService<IPlatformKeys>(), provider.GetRequiredService<IVaultDirectory>(), provider.GetRequiredService<IDiskDirectory>(),
                provider.GetRequiredService<TimeProvider>(), provider.GetRequiredService<ILoggerFactory>().CreateLogger<RevocationMonitor>(),
                settings.KeyRecheckInterval,
                provider.GetService<ManagedIdentityVaultTokens>() is { } tokens ? tokens.Forget : null));
        }

        services.AddHostedService(provider => new AccessStarter(
            provider.GetRequiredService<ComputeSignalBridge>(),
            hasSessions ? provider.GetRequiredService<DiskAccessGrants>() : null,
            hasMonitor ? provider.GetRequiredService<RevocationMonitor>() : null,
            provider.GetRequiredService<ILoggerFactory>().CreateLogger("Ironclad.Compute.Access"),
            settings.KeyRecheckInterval));
    }

    private static bool Registered<T>(IServiceCollection services) => services.Any(d => d.ServiceType == typeof(T));

    [LoggerMessage(EventId = 6330, Level = LogLevel.Information, Message = "Returned {Count} disk(s) left in ActiveSAS/ActiveUpload by an earlier process to rest")]
    private static partial void LogStaleStatesReset(ILogger logger, int count);

    [LoggerMessage(EventId = 6331, Level = LogLevel.Information, Message = "Revocation monitor started: vault events revoke at once, every open disk is re-checked every {IntervalSeconds} s")]
    private static partial void LogMonitorStarted(ILogger logger, double intervalSeconds);

    /// <summary>
    /// Creating the bridge subscribes it; the grants reset stale disk states; the monitor subscribes and starts its
    /// worker. The container disposes all three at shutdown (unsubscribe, end grants, close sessions, zero DEKs).
    /// </summary>
    private sealed class AccessStarter(ComputeSignalBridge bridge, DiskAccessGrants? grants, RevocationMonitor? monitor, ILogger logger, TimeSpan interval)
        : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            _ = bridge;
            if (grants?.ResetStaleStates() is > 0 and var reset)
            {
                LogStaleStatesReset(logger, reset);
            }

            if (monitor is not null)
            {
                monitor.Start();
                LogMonitorStarted(logger, interval.TotalSeconds);
            }

            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
