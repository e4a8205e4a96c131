// Compute wiring, part Disks: the disks, snapshots and images resource types over one disk directory
// (component "compute-disks" of the metadata database) and the volume store. Invariant: the directory
// depends on nothing but the database, and the types resolve data keys, platform keys, sets,
// SAS grants, marketplace images and VMs on first use, so those may depend on the directory (or on Resource Manager) without a cycle.
using Ironclad.Compute;
using Ironclad.Compute.Access;
using Ironclad.Compute.DataKeys;
using Ironclad.Compute.Disks;
using Ironclad.Compute.EncryptionSets;
using Ironclad.Compute.Marketplace;
using Ironclad.Compute.Platform;
using Ironclad.Compute.VirtualMachines;
using Ironclad.Metadata;
using Ironclad.ResourceManager;
using Ironclad.ResourceManager.Rbac;
using Ironclad.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Ironclad.Host.Server;

internal static partial class ComputeRole
{
    private static void AddDisks(IServiceCollection services, ServerSettings settings)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(settings);
        services.AddSingleton(provider => DiskResourceTypes.CreateDirectory(provider.GetRequiredService<MetadataDatabase>()));
        services.AddSingleton(provider => new DiskTypes(DiskResourceTypes.Create(
            provider.GetRequiredService<IDiskDirectory>(),
            provider.GetRequiredService<VolumeStore>(),
            provider.GetRequiredService<IDataKeyService>,
            provider.GetRequiredService<IPlatformKeys>,
            provider.GetService<IEncryptionSetDirectory>,
            provider.GetService<IDiskAccessGrants>,
            provider.GetRequiredService<Authorizer>(),
            provider.GetRequiredService<TimeProvider>(),
            provider.GetRequiredService<ResourceManagerOptions>().PageSize,
            provider.GetService<IMarketplaceImages>,
            provider.GetService<IVmDirectory>,
            provider.GetService<IVmRuntime>)));
        foreach (var index in Enumerable.Range(0, 3))
        {
            services.AddSingleton<IComputeResourceType>(provider => provider.GetRequiredService<DiskTypes>().Types[index]);
        }
    }

    /// <summary>The three types, made together (they share one set of services).</summary>
    private sealed record DiskTypes(IReadOnlyList<IComputeResourceType> Types);
}
