// Compute wiring, part VmRuntime: the VM runtime, its NBD exports, per-VM client certificates and start-up resume.
// Invariant: services here resolve their Compute collaborators on first use (Func<> / late lookup),
// so nothing new closes the DI cycle through Resource Manager described in ComputeRole.Disks.cs.
using Microsoft.Extensions.DependencyInjection;

namespace Ironclad.Host.Server;

internal static partial class ComputeRole
{
    private static void AddVmRuntime(IServiceCollection services, ServerSettings settings)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(settings);
    }
}
