// Compute wiring, part Keys: the vault client (HttpClient trusting only the local CA, loopback only;
// managed-identity tokens from the platform credential), the data-key store and service, the
// platform keys of each region and their periodic rotation (--platform-key-rotation-days).
// Invariant: the platform credential reaches only ManagedIdentityVaultTokens, never an endpoint.
using System.Security.Cryptography.X509Certificates;
using Ironclad.Compute.DataKeys;
using Ironclad.Compute.EncryptionSets;
using Ironclad.Compute.KeyAccess;
using Ironclad.Compute.Platform;
using Ironclad.Host.Data;
using Ironclad.Host.Tls;
using Ironclad.Identity;
using Ironclad.Metadata;
using Ironclad.ResourceManager;
using Ironclad.ResourceManager.Groups;
using Ironclad.ResourceManager.KeyVault;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Ironclad.Host.Server;

internal static partial class ComputeRole
{
    /// <summary>How often, at most, the server checks whether a region's platform key is due for rotation.</summary>
    public static readonly TimeSpan PlatformRotationCheckIntervalMax = TimeSpan.FromHours(1);

    /// <summary>A tenth of the rotation period, between 1 s and an hour: a short period (tests) is kept closely.</summary>
    private static TimeSpan PlatformRotationCheckInterval(TimeSpan rotation) =>
        TimeSpan.FromTicks(Math.Clamp(rotation.Ticks / 10, TimeSpan.TicksPerSecond, PlatformRotationCheckIntervalMax.Ticks));

    private static void AddKeys(IServiceCollection services, ServerSettings settings, DataDirectory dataDirectory)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(dataDirectory);
        services.AddSingleton(_ => new VaultCaCertificate(
            X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(dataDirectory.TlsDirectory, LocalCertificateAuthority.CertificateFileName)))));
        services.AddSingleton(provider => new VaultHttpClient(VaultHttp.CreateClient(provider.GetRequiredService<VaultCaCertificate>().Certificate)));
        services.AddSingleton(provider => new ManagedIdentityVaultTokens(
            provider.GetRequiredService<IdentityProvider>(), provider.GetRequiredService<PlatformCredential>(), provider.GetRequiredService<TimeProvider>()));
        services.AddSingleton<IVaultAccessTokens>(provider => provider.GetRequiredService<ManagedIdentityVaultTokens>());
        services.AddSingleton(provider => new VaultKeyClient(
            provider.GetRequiredService<VaultHttpClient>().Client, provider.GetRequiredService<IVaultAccessTokens>()));
        services.AddSingleton<IVaultKeyClient>(provider => provider.GetRequiredService<VaultKeyClient>());
        services.AddSingleton<IDataKeyStore>(provider => new SqliteDataKeyStore(provider.GetRequiredService<MetadataDatabase>()));
        services.AddSingleton<IDataKeyService>(provider => new DataKeyService(
            provider.GetRequiredService<IDataKeyStore>(), provider.GetRequiredService<IVaultKeyClient>(),
            provider.GetService<IEncryptionSetDirectory>, provider.GetRequiredService<IPlatformKeys>, provider.GetRequiredService<TimeProvider>()));
        services.AddSingleton(provider =>
        {
            var platform = new PlatformKeys(
                provider.GetRequiredService<MetadataDatabase>(), provider.GetRequiredService<IdentityProvider>(),
                provider.GetRequiredService<IResourceManagerBootstrap>(), provider.GetRequiredService<ResourceGroupService>,
                provider.GetRequiredService<VaultsProvider>(), provider.GetRequiredService<VaultKeyClient>(),
                provider.GetRequiredService<IDataKeyStore>(), provider.GetRequiredService<IDataKeyService>, provider.GetRequiredService<TimeProvider>());
            var logger = provider.GetRequiredService<ILoggerFactory>().CreateLogger("Ironclad.Compute.PlatformKeys");
            platform.BackgroundFailed += (region, e) => LogPlatformRewrapFailed(logger, region, e);
            return platform;
        });
        services.AddSingleton<IPlatformKeys>(provider => provider.GetRequiredService<PlatformKeys>());
        services.AddHostedService(provider => new PlatformKeyRotation(
            provider.GetRequiredService<PlatformKeys>(), settings.PlatformKeyRotation, provider.GetRequiredService<TimeProvider>(),
            provider.GetRequiredService<ILoggerFactory>().CreateLogger("Ironclad.Compute.PlatformKeys")));
    }

    [LoggerMessage(EventId = 6010, Level = LogLevel.Warning, Message = "Re-wrapping a platform data key of region {Region} under the new platform key version failed; it stays under its previous version")]
    private static partial void LogPlatformRewrapFailed(ILogger logger, string region, Exception exception);

    [LoggerMessage(EventId = 6011, Level = LogLevel.Information, Message = "Rotated the platform key of {Count} regions (versions older than {MaxAgeDays} days)")]
    private static partial void LogPlatformKeysRotated(ILogger logger, int count, double maxAgeDays);

    [LoggerMessage(EventId = 6012, Level = LogLevel.Error, Message = "The periodic platform key rotation failed; it runs again at the next check")]
    private static partial void LogPlatformRotationFailed(ILogger logger, Exception exception);

    /// <summary>The local CA certificate vault calls trust (a DI-distinct type).</summary>
    private sealed class VaultCaCertificate(X509Certificate2 certificate) : IDisposable
    {
        public X509Certificate2 Certificate { get; } = certificate;

        public void Dispose() => Certificate.Dispose();
    }

    /// <summary>The vault HttpClient (a DI-distinct type, so no other role picks it up by accident).</summary>
    private sealed class VaultHttpClient(HttpClient client) : IDisposable
    {
        public HttpClient Client { get; } = client;

        public void Dispose() => Client.Dispose();
    }

    /// <summary>Rotates every region's platform key once its current version is older than the configured age.</summary>
    private sealed class PlatformKeyRotation(PlatformKeys platform, TimeSpan maxAge, TimeProvider time, ILogger logger) : BackgroundService
    {
        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            using var timer = new PeriodicTimer(PlatformRotationCheckInterval(maxAge), time);
            do
            {
                try
                {
                    var rotated = await platform.RotateDueAsync(maxAge, stoppingToken);
                    if (rotated > 0)
                    {
                        LogPlatformKeysRotated(logger, rotated, maxAge.TotalDays);
                    }
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    return;
                }
#pragma warning disable CA1031 // The rotation retries at the next check; a failure (vault unreachable, locked database) is logged.
                catch (Exception e)
#pragma warning restore CA1031
                {
                    LogPlatformRotationFailed(logger, e);
                }
            }
            while (await PeriodicTicks.NextTickAsync(timer, stoppingToken));
        }

    }
}
