// Canonical resource ids of the Microsoft.KeyVault resources this provider serves. Invariant: ids in
// responses are always built here, in canonical case, whatever case the request used.
namespace Ironclad.ResourceManager.KeyVault;

public static class VaultIds
{
    public const string VaultType = "Microsoft.KeyVault/vaults";
    public const string DeletedVaultType = "Microsoft.KeyVault/deletedVaults";
    public const string AccessPolicyType = "Microsoft.KeyVault/vaults/accessPolicies";

    public static string VaultId(Guid subscriptionId, string resourceGroup, string name) =>
        $"/subscriptions/{subscriptionId:D}/resourceGroups/{resourceGroup}/providers/Microsoft.KeyVault/vaults/{name}";

    public static string DeletedVaultId(Guid subscriptionId, string location, string name) =>
        $"/subscriptions/{subscriptionId:D}/providers/Microsoft.KeyVault/locations/{location}/deletedVaults/{name}";
}
