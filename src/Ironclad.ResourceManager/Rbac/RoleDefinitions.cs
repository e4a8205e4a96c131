// The role definitions visible to authorization and to the roleDefinitions API: the built-ins
// (custom role definitions are not supported yet; see docs/resource-manager.md).
namespace Ironclad.ResourceManager.Rbac;

public sealed class RoleDefinitions
{
    private readonly IReadOnlyList<RoleDefinition> _all = BuiltInRoles.All;

    public IReadOnlyList<RoleDefinition> All => _all;

    public RoleDefinition? Find(Guid id) => _all.FirstOrDefault(r => r.Id == id);

    /// <summary>Finds by role name (case-insensitive), for `$filter=roleName eq '…'`.</summary>
    public RoleDefinition? FindByName(string roleName) =>
        All.FirstOrDefault(r => string.Equals(r.RoleName, roleName, StringComparison.OrdinalIgnoreCase));
}
