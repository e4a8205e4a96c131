// Wires the Key Vault audit log (DIR/keyvault/audit.log, its head anchored in metadata.db) and the
// bridges that turn access changes (access policy entries and role assignments removed) into key
// events. Invariant: one FileAuditLog per process, disposed (final fsync) when the host stops.
using Ironclad.Host.Data;
using Ironclad.KeyVault.Audit;
using Ironclad.Metadata;
using Microsoft.Extensions.DependencyInjection;

namespace Ironclad.Host.Server;

internal static class KeyVaultAuditRole
{
    public static void AddServices(IServiceCollection services, ServerSettings settings, DataDirectory dataDirectory)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(dataDirectory);

        services.AddSingleton(provider => new FileAuditLog(
            dataDirectory.KeyVaultDirectory, provider.GetRequiredService<TimeProvider>(), provider.GetRequiredService<MetadataDatabase>()));
        services.AddSingleton<IKeyVaultAudit>(provider => provider.GetRequiredService<FileAuditLog>());
    }
}
