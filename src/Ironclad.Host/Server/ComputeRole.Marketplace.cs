// Compute wiring, part Marketplace: the built-in marketplace images (Compute/Marketplace).
// Invariant: services here resolve their Compute collaborators on first use (Func<> / late lookup),
// so nothing new closes the DI cycle through Resource Manager described in ComputeRole.Disks.cs.
using Microsoft.Extensions.DependencyInjection;

namespace Ironclad.Host.Server;

internal static partial class ComputeRole
{
    private static void AddMarketplace(IServiceCollection services, ServerSettings settings)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(settings);
    }
}
