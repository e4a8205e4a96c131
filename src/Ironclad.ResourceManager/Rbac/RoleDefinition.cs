// Role definitions: what a role permits, as Azure models it — sets of Actions minus NotActions
// (management plane) and DataActions minus NotDataActions (data plane). Invariant: a built-in's
// GUID and permissions are Azure's own, so assignments made with Azure's GUIDs mean the same here.
namespace Ironclad.ResourceManager.Rbac;

/// <summary>One permission block of a role definition.</summary>
public sealed record RolePermissionBlock(
    IReadOnlyList<string> Actions,
    IReadOnlyList<string> NotActions,
    IReadOnlyList<string> DataActions,
    IReadOnlyList<string> NotDataActions);

/// <summary>A role definition (built-in: Type "BuiltInRole", assignable at "/").</summary>
public sealed record RoleDefinition(
    Guid Id,
    string RoleName,
    string Description,
    string Type,
    IReadOnlyList<RolePermissionBlock> Permissions,
    IReadOnlyList<string> AssignableScopes)
{
    /// <summary>True when a permission block grants <paramref name="action"/> and the same block does not exclude it.</summary>
    public bool AllowsAction(string action) =>
        Permissions.Any(p => ActionPattern.MatchesAny(p.Actions, action) && !ActionPattern.MatchesAny(p.NotActions, action));

    /// <summary>Same for a data action (Key Vault data plane: "Microsoft.KeyVault/vaults/keys/unwrap/action").</summary>
    public bool AllowsDataAction(string dataAction) =>
        Permissions.Any(p => ActionPattern.MatchesAny(p.DataActions, dataAction) && !ActionPattern.MatchesAny(p.NotDataActions, dataAction));
}
