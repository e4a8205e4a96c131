// Wires the keys data plane into `ironclad server`: KeyVaultService over its own SQLite database
// (DIR/keyvault/keys.db) and the root of trust (KeyVaultProtection), the key events hub, the vault
// listeners (one loopback HTTPS port per vault, see KeyVaultListeners), and the maintenance that time
// makes due (rotation policies, expiry events, purge of deleted keys) plus the removal of a purged
// vault's keys. Invariant: one KeyVaultService instance serves every request and the maintenance.
using Ironclad.ControlPlane.KeyVault;
using Ironclad.Host.Data;
using Ironclad.KeyVault.Events;
using Ironclad.KeyVault.Keys;
using Ironclad.KeyVault.Protection;
using Ironclad.Metadata;
using Ironclad.ResourceManager.KeyVault;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Ironclad.Host.Server;

internal static partial class KeyVaultDataPlaneRole
{
    /// <summary>How often rotation policies, expiry and deleted-key purges are looked at.</summary>
    public static readonly TimeSpan MaintenanceInterval = TimeSpan.FromMinutes(1);

    public const string KeysDatabaseFileName = "keys.db";

    public static void AddServices(IServiceCollection services, ServerSettings settings, DataDirectory dataDirectory)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(dataDirectory);
        services.AddSingleton(provider =>
        {
            UnixFileModes.CreateOwnerOnlyDirectory(dataDirectory.KeyVaultDirectory);
            return KeyVaultProtection.Create(settings, dataDirectory,
                provider.GetRequiredService<ILoggerFactory>().CreateLogger("Ironclad.KeyVault.Protection"));
        });
        services.AddSingleton(provider =>
        {
            var hub = new KeyEventHub();
            var logger = provider.GetRequiredService<ILoggerFactory>().CreateLogger("Ironclad.KeyVault.Events");
            hub.SubscriberFailed += e => LogSubscriberFailed(logger, e);
            return hub;
        });
        services.AddSingleton<IKeyEvents>(provider => provider.GetRequiredService<KeyEventHub>());
        services.AddSingleton<IKeyEventSink>(provider => provider.GetRequiredService<KeyEventHub>());
        services.AddSingleton(provider =>
        {
            var protector = provider.GetRequiredService<IKeyProtector>();
            var database = MetadataDatabase.Open(Path.Combine(dataDirectory.KeyVaultDirectory, KeysDatabaseFileName));
            return new KeyVaultService(database, protector, provider.GetRequiredService<TimeProvider>(), provider.GetRequiredService<IKeyEventSink>());
        });

        // The vault ports: a Kestrel transport for VaultPortsEndPoint (ServerComposition listens on it),
        // and the port set the pipeline branches on.
        services.AddSingleton<KeyVaultListeners>();
        services.AddSingleton<IConnectionListenerFactory>(provider => provider.GetRequiredService<KeyVaultListeners>());
        services.AddSingleton<IVaultListenerPorts>(provider => provider.GetRequiredService<KeyVaultListeners>());

        services.AddHostedService(provider => new KeyMaintenance(
            provider.GetRequiredService<KeyVaultService>(), provider.GetRequiredService<IVaultDirectory>(), provider.GetRequiredService<IVaultEvents>(),
            provider.GetRequiredService<TimeProvider>(), provider.GetRequiredService<ILoggerFactory>().CreateLogger("Ironclad.KeyVault.Maintenance")));
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "A key event subscriber failed.")]
    private static partial void LogSubscriberFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Key maintenance: {Rotated} keys rotated, {Expired} versions expired, {Purged} deleted keys purged.")]
    private static partial void LogMaintenance(ILogger logger, int rotated, int expired, int purged);

    [LoggerMessage(Level = LogLevel.Error, Message = "The key maintenance run failed.")]
    private static partial void LogMaintenanceFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "The keys of purged vault {Vault} could not be removed.")]
    private static partial void LogVaultPurgeFailed(ILogger logger, string vault, Exception exception);

    /// <summary>Runs KeyVaultService.RunMaintenance every interval and removes a purged vault's keys.</summary>
    private sealed class KeyMaintenance(KeyVaultService keys, IVaultDirectory vaults, IVaultEvents events, TimeProvider time, ILogger logger) : BackgroundService
    {
        private IDisposable? _subscription;

        public override Task StartAsync(CancellationToken cancellationToken)
        {
            _subscription = events.Subscribe(OnVaultEvent);
            return base.StartAsync(cancellationToken);
        }

        public override async Task StopAsync(CancellationToken cancellationToken)
        {
            _subscription?.Dispose();
            await base.StopAsync(cancellationToken);
        }

        public override void Dispose()
        {
            _subscription?.Dispose();
            base.Dispose();
        }

        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            using var timer = new PeriodicTimer(MaintenanceInterval, time);
            while (await PeriodicTicks.NextTickAsync(timer, stoppingToken))
            {
                try
                {
                    var active = vaults.ListAll().Where(v => !v.IsDeleted).ToList();
                    var report = keys.RunMaintenance(active);
                    if (report.Rotated + report.Expired + report.Purged > 0)
                    {
                        LogMaintenance(logger, report.Rotated, report.Expired, report.Purged);
                    }
                }
#pragma warning disable CA1031 // The run is retried on the next tick; a failure (e.g. a locked database) is logged.
                catch (Exception e)
#pragma warning restore CA1031
                {
                    LogMaintenanceFailed(logger, e);
                }
            }
        }

        private void OnVaultEvent(VaultEvent vaultEvent)
        {
            if (vaultEvent.Kind != VaultEventKind.Purged)
            {
                return;
            }

            try
            {
                keys.PurgeVault(vaultEvent.Vault.Name);
            }
#pragma warning disable CA1031 // The vault is gone either way; its orphaned keys are logged, never served (no port).
            catch (Exception e)
#pragma warning restore CA1031
            {
                LogVaultPurgeFailed(logger, vaultEvent.Vault.Name, e);
            }
        }

    }
}
