// Answers "may principal P do action A (or data action D) at scope S": the union of the roles
// assigned to P at S and at every ancestor of S (resource → parents → group → subscription → "/"),
// each role granting what its Actions match minus its NotActions (per permission block). There are
// no deny assignments. Invariant: no assignment, no access — unknown role ids grant nothing.
using Ironclad.ResourceManager.Ids;
using Ironclad.ResourceManager.Storage;

namespace Ironclad.ResourceManager.Rbac;

public sealed class Authorizer
{
    private readonly IResourceManagerStore _store;
    private readonly RoleDefinitions _roles;

    public Authorizer(IResourceManagerStore store, RoleDefinitions roles)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(roles);
        _store = store;
        _roles = roles;
    }

    /// <summary>Management-plane check, e.g. "Microsoft.KeyVault/vaults/write" at a vault's id.</summary>
    public bool IsActionAllowed(Guid principalId, string action, ResourceId scope)
    {
        ArgumentException.ThrowIfNullOrEmpty(action);
        return EffectiveRoles(principalId, scope).Any(role => role.AllowsAction(action));
    }

    /// <summary>
    /// Data-plane check, e.g. "Microsoft.KeyVault/vaults/keys/unwrap/action" at a vault's (or key's) id.
    /// The Key Vault data plane calls this for vaults with enableRbacAuthorization.
    /// </summary>
    public bool IsDataActionAllowed(Guid principalId, string dataAction, ResourceId scope)
    {
        ArgumentException.ThrowIfNullOrEmpty(dataAction);
        return EffectiveRoles(principalId, scope).Any(role => role.AllowsDataAction(dataAction));
    }

    /// <summary>The role definitions assigned to the principal at the scope or any ancestor.</summary>
    public IReadOnlyList<RoleDefinition> EffectiveRoles(Guid principalId, ResourceId scope)
    {
        ArgumentNullException.ThrowIfNull(scope);
        var scopes = scope.SelfAndAncestors().Select(s => s.ToString()).ToList();
        return _store.ListRoleAssignmentsAt(scopes, principalId)
            .Select(a => _roles.Find(a.RoleDefinitionId))
            .OfType<RoleDefinition>()
            .ToList();
    }
}
