// Compute wiring, part EncryptionSets: the diskEncryptionSets resource type (also the IEncryptionSetDirectory
// the disks and data keys read) and the key rotation worker, started with the server and stopped with it.
// Invariant: the data-key services and the disk directory are resolved lazily, so they may depend on the
// set directory without a construction cycle.
using Ironclad.Compute;
using Ironclad.Compute.DataKeys;
using Ironclad.Compute.Disks;
using Ironclad.Compute.EncryptionSets;
using Ironclad.Compute.KeyAccess;
using Ironclad.Compute.Revocation;
using Ironclad.Identity;
using Ironclad.Metadata;
using Ironclad.ResourceManager.KeyVault;
using Ironclad.ResourceManager.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Ironclad.Host.Server;

internal static partial class ComputeRole
{
    private static void AddEncryptionSets(IServiceCollection services, ServerSettings settings)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(settings);
        services.AddSingleton(provider => EncryptionSetServices.Create(
            provider.GetRequiredService<MetadataDatabase>(),
            provider.GetRequiredService<IdentityProvider>(),
            provider.GetRequiredService<IResourceManagerStore>(),
            provider.GetRequiredService<IVaultDirectory>(),
            provider.GetRequiredService<IVaultKeyClient>(),
            new VaultKeyClient(provider.GetRequiredService<VaultHttpClient>().Client, new CallerVaultTokens(provider.GetRequiredService<IdentityProvider>())),
            () => provider.GetService<IDiskDirectory>(),
            () => provider.GetRequiredService<IDataKeyStore>(),
            () => provider.GetRequiredService<IDataKeyService>(),
            provider.GetRequiredService<KeyAccessSignals>(),
            provider.GetRequiredService<TimeProvider>()));
        services.AddSingleton<IComputeResourceType>(provider => provider.GetRequiredService<EncryptionSetServices>().Type);
        services.AddSingleton<IEncryptionSetDirectory>(provider => provider.GetRequiredService<EncryptionSetServices>().Type);
        services.AddHostedService(provider => new KeyRotationHost(
            provider.GetRequiredService<EncryptionSetServices>().Rotation,
            provider.GetRequiredService<ILoggerFactory>().CreateLogger("Ironclad.Compute.KeyRotation")));
    }

    [LoggerMessage(EventId = 6100, Level = LogLevel.Warning, Message = "Key rotation work on {EncryptionSetId} failed; it is retried at the next check")]
    private static partial void LogRotationWorkFailed(ILogger logger, string encryptionSetId, Exception exception);

    [LoggerMessage(EventId = 6101, Level = LogLevel.Information, Message = "Disk encryption set {EncryptionSetId} rotated from {OldKey} to {NewKey}; re-wrapping its data keys")]
    private static partial void LogRotated(ILogger logger, string encryptionSetId, string oldKey, string newKey);

    /// <summary>Starts the rotation worker with the server and stops it (waiting for its pass) at shutdown.</summary>
    private sealed class KeyRotationHost(KeyRotationWorker worker, ILogger logger) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            worker.WorkFailed += (id, e) => LogRotationWorkFailed(logger, id, e);
            worker.Rotated += (id, from, to) => LogRotated(logger, id, from, to);
            worker.Start();
            return Task.CompletedTask;
        }

        public async Task StopAsync(CancellationToken cancellationToken) => await worker.DisposeAsync();
    }
}
