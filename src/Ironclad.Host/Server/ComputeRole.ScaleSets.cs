// Compute wiring, part ScaleSets: the virtualMachineScaleSets type (Compute/ScaleSets).
// Invariant: services here resolve their Compute collaborators on first use (Func<> / late lookup),
// so nothing new closes the DI cycle through Resource Manager described in ComputeRole.Disks.cs.
using Ironclad.Compute;
using Ironclad.Compute.EncryptionSets;
using Ironclad.Compute.ScaleSets;
using Ironclad.Compute.VirtualMachines;
using Ironclad.Metadata;
using Ironclad.ResourceManager;
using Ironclad.ResourceManager.Rbac;
using Microsoft.Extensions.DependencyInjection;

namespace Ironclad.Host.Server;

internal static partial class ComputeRole
{
    private static void AddScaleSets(IServiceCollection services, ServerSettings settings)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(settings);
        services.AddSingleton<IComputeResourceType>(provider => new VirtualMachineScaleSetsResourceType(
            provider.GetRequiredService<MetadataDatabase>(),
            provider.GetService<IVirtualMachineService>,
            provider.GetService<IEncryptionSetDirectory>,
            provider.GetRequiredService<Authorizer>(),
            provider.GetRequiredService<TimeProvider>(),
            provider.GetRequiredService<ResourceManagerOptions>().PageSize));
    }
}
