// Compute wiring, part Marketplace: the built-in marketplace images (Compute/Marketplace) — the catalog and the
// per-region image volumes (component "compute-marketplace"), and the locations/{loc}/publishers/… listing type.
// Invariant: services here resolve their Compute collaborators on first use (Func<> / late lookup),
// so nothing new closes the DI cycle through Resource Manager described in ComputeRole.Disks.cs.
using Ironclad.Compute;
using Ironclad.Compute.DataKeys;
using Ironclad.Compute.Marketplace;
using Ironclad.Compute.Platform;
using Ironclad.Metadata;
using Ironclad.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Ironclad.Host.Server;

internal static partial class ComputeRole
{
    private static void AddMarketplace(IServiceCollection services, ServerSettings settings)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(settings);
        services.AddSingleton(provider => new MarketplaceImages(
            provider.GetRequiredService<MetadataDatabase>(),
            provider.GetRequiredService<VolumeStore>(),
            provider.GetRequiredService<IDataKeyService>,
            provider.GetRequiredService<IPlatformKeys>,
            provider.GetRequiredService<TimeProvider>()));
        services.AddSingleton<IMarketplaceImages>(provider => provider.GetRequiredService<MarketplaceImages>());
        services.AddSingleton<IComputeResourceType>(provider => new MarketplaceLocationsType(provider.GetRequiredService<IMarketplaceImages>));
    }
}
