// Wires the Microsoft.KeyVault management plane into `ironclad server`: the vault store over the
// metadata database, the VaultsProvider (as an IResourceProvider for the ARM edge, and as the
// IVaultDirectory the data plane will use), the vault events, and a sweep that purges soft-deleted
// vaults whose retention has passed. Invariant: one VaultsProvider instance serves every role, so a
// port is allocated and freed in one place.
using Ironclad.Host.Data;
using Ironclad.Metadata;
using Ironclad.ResourceManager.KeyVault;
using Ironclad.ResourceManager.Providers;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Ironclad.Host.Server;

internal static partial class KeyVaultRole
{
    /// <summary>How often the sweep purges vaults past their scheduled purge date (every access does it too).</summary>
    public static readonly TimeSpan PurgeSweepInterval = TimeSpan.FromMinutes(1);

    public static void AddServices(IServiceCollection services, ServerSettings settings, DataDirectory dataDirectory)
    {
        ArgumentNullException.ThrowIfNull(services);
        _ = dataDirectory;
        ArgumentNullException.ThrowIfNull(settings);
        var ports = new VaultPortRange(settings.VaultPortRange.First, settings.VaultPortRange.Last);
        services.AddSingleton<IVaultStore>(provider => new SqliteVaultStore(provider.GetRequiredService<MetadataDatabase>()));
        services.AddSingleton(provider =>
        {
            var hub = new VaultEventHub();
            var logger = provider.GetRequiredService<ILoggerFactory>().CreateLogger("Ironclad.KeyVault.Events");
            hub.SubscriberFailed += e => LogSubscriberFailed(logger, e);
            return hub;
        });
        services.AddSingleton<IVaultEvents>(provider => provider.GetRequiredService<VaultEventHub>());
        services.AddSingleton(provider => new VaultsProvider(
            provider.GetRequiredService<IVaultStore>(), ports, provider.GetRequiredService<TimeProvider>(), provider.GetRequiredService<VaultEventHub>()));
        services.AddSingleton<IResourceProvider>(provider => provider.GetRequiredService<VaultsProvider>());
        services.AddSingleton<IVaultDirectory>(provider => provider.GetRequiredService<VaultsProvider>());
        services.AddHostedService(provider => new VaultPurgeSweep(
            provider.GetRequiredService<VaultsProvider>(), provider.GetRequiredService<TimeProvider>(),
            provider.GetRequiredService<ILoggerFactory>().CreateLogger("Ironclad.KeyVault.PurgeSweep")));
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "A vault event subscriber failed.")]
    private static partial void LogSubscriberFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Purged {Count} deleted vaults past their scheduled purge date.")]
    private static partial void LogPurged(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Error, Message = "The deleted-vault purge sweep failed.")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception);

    /// <summary>Purges soft-deleted vaults once their scheduled purge date has passed.</summary>
    private sealed class VaultPurgeSweep(VaultsProvider vaults, TimeProvider time, ILogger logger) : BackgroundService
    {
        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            using var timer = new PeriodicTimer(PurgeSweepInterval, time);
            do
            {
                try
                {
                    var purged = vaults.PurgeExpired();
                    if (purged > 0)
                    {
                        LogPurged(logger, purged);
                    }
                }
#pragma warning disable CA1031 // The sweep retries on the next tick; a failure (e.g. a locked database) is logged.
                catch (Exception e)
#pragma warning restore CA1031
                {
                    LogSweepFailed(logger, e);
                }
            }
            while (await PeriodicTicks.NextTickAsync(timer, stoppingToken));
        }

    }
}
