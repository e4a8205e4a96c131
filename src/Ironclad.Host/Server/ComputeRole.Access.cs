// Compute wiring, part Access: disk sessions (the only holder of unwrapped DEKs), SAS grants, the revocation monitor and
// the bridge that turns key-vault, vault and identity events into KeyAccessSignals.
using Microsoft.Extensions.DependencyInjection;

namespace Ironclad.Host.Server;

internal static partial class ComputeRole
{
    private static void AddAccess(IServiceCollection services, ServerSettings settings)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(settings);
    }
}
