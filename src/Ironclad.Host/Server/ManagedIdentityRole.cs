// Wires Microsoft.ManagedIdentity/userAssignedIdentities into `ironclad server`: the provider the
// ARM edge routes to, over the metadata database and the identity provider (which owns each
// identity's principal).
using Ironclad.Identity;
using Ironclad.Metadata;
using Ironclad.ResourceManager.ManagedIdentity;
using Ironclad.ResourceManager.Providers;
using Microsoft.Extensions.DependencyInjection;

namespace Ironclad.Host.Server;

internal static class ManagedIdentityRole
{
    public static void AddServices(IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddSingleton(provider => new UserAssignedIdentitiesProvider(
            provider.GetRequiredService<MetadataDatabase>(), provider.GetRequiredService<IdentityProvider>(), provider.GetRequiredService<TimeProvider>()));
        services.AddSingleton<IResourceProvider>(provider => provider.GetRequiredService<UserAssignedIdentitiesProvider>());
    }
}
