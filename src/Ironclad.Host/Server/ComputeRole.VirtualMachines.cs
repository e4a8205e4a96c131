// Compute wiring, part VirtualMachines: the virtualMachines type and the VM directory (Compute/VirtualMachines).
// Invariant: services here resolve their Compute collaborators on first use (Func<> / late lookup),
// so nothing new closes the DI cycle through Resource Manager described in ComputeRole.Disks.cs.
using Ironclad.Compute;
using Ironclad.Compute.Disks;
using Ironclad.Compute.Marketplace;
using Ironclad.Compute.VirtualMachines;
using Ironclad.Metadata;
using Ironclad.ResourceManager;
using Ironclad.ResourceManager.Rbac;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Ironclad.Host.Server;

internal static partial class ComputeRole
{
    private static void AddVirtualMachines(IServiceCollection services, ServerSettings settings)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(settings);
        services.AddSingleton(provider => new VirtualMachineService(
            provider.GetRequiredService<MetadataDatabase>(),
            provider.GetRequiredService<IDiskDirectory>(),
            provider.GetRequiredService<Authorizer>(),
            provider.GetService<ComputeProvider>,
            provider.GetService<IVmRuntime>,
            provider.GetService<IVmNbdCredentialIssuer>,
            provider.GetService<IMarketplaceImages>,
            provider.GetService<IVmDiskExports>,
            provider.GetRequiredService<TimeProvider>(),
            provider.GetRequiredService<ILoggerFactory>().CreateLogger("Ironclad.Compute.VirtualMachines")));
        services.AddSingleton<IVirtualMachineService>(provider => provider.GetRequiredService<VirtualMachineService>());
        services.AddSingleton<IVmDirectory>(provider => provider.GetRequiredService<VirtualMachineService>());
        services.AddSingleton<IComputeResourceType>(provider => new VirtualMachinesResourceType(
            provider.GetRequiredService<VirtualMachineService>(), provider.GetRequiredService<ResourceManagerOptions>().PageSize));
        // Registered before the runtime's hosted services: StoppedByServer is subscribed before VMs are resumed.
        services.AddHostedService(provider => new VmRuntimeConnection(provider.GetRequiredService<VirtualMachineService>()));
    }

    /// <summary>At start-up, connects the VM records to the runtime's StoppedByServer (when the server has a runtime).</summary>
    private sealed class VmRuntimeConnection(VirtualMachineService service) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            service.ConnectRuntime();
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
