// Compute wiring, part Keys: the vault client (HttpClient trusting the local CA, managed-identity tokens from the
// platform credential), the data-key store and service, and the platform keys of each region.
using Ironclad.Host.Data;
using Microsoft.Extensions.DependencyInjection;

namespace Ironclad.Host.Server;

internal static partial class ComputeRole
{
    private static void AddKeys(IServiceCollection services, ServerSettings settings, DataDirectory dataDirectory)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(settings);
    }
}
