// The Key Vault audit log's read API on the management port (list records, verify the chain).
// Invariant: only callers allowed to read the vault (or the subscription) see its records.
using Microsoft.AspNetCore.Routing;

namespace Ironclad.ControlPlane.KeyVault;

public static class AuditEndpoints
{
    public static IEndpointRouteBuilder MapKeyVaultAudit(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        return endpoints;
    }
}
