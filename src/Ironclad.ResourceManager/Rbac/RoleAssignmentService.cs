// Role assignments at any scope: create with a caller-chosen GUID name, get, delete, list at a scope
// with Azure's filters (atScope(), principalId eq, assignedTo). Invariants: an assignment names an
// existing role definition and a scope that parses (and whose resource group exists); one
// (scope, role, principal) triple has at most one assignment; a name is never reused for different content.
// A deleted assignment is announced to SubscribeDeleted's handlers after the delete is committed.
using Ironclad.ResourceManager.Events;
using Ironclad.ResourceManager.Ids;
using Ironclad.ResourceManager.Providers;
using Ironclad.ResourceManager.Storage;

namespace Ironclad.ResourceManager.Rbac;

public sealed class RoleAssignmentService
{
    private readonly IResourceManagerStore _store;
    private readonly RoleDefinitions _roles;
    private readonly TimeProvider _time;
    private readonly EventHub<RoleAssignment> _deleted = new();

    public RoleAssignmentService(IResourceManagerStore store, RoleDefinitions roles, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(roles);
        ArgumentNullException.ThrowIfNull(time);
        _store = store;
        _roles = roles;
        _time = time;
    }

    /// <summary>The outcome of a create: the assignment and whether it was new (201) or an identical repeat (200).</summary>
    public sealed record CreateResult(RoleAssignment Assignment, bool Created);

    public CreateResult Create(ResourceId scope, Guid name, Guid roleDefinitionId, Guid principalId, string? principalType, string? description, Guid? createdBy)
    {
        ArgumentNullException.ThrowIfNull(scope);
        var role = _roles.Find(roleDefinitionId)
            ?? throw new ArmException(400, "RoleDefinitionDoesNotExist", $"The specified role definition with ID '{roleDefinitionId:N}' does not exist.");
        if (!role.AssignableScopes.Any(a => ResourceId.TryParse(a, out var assignable) && assignable.Contains(scope)))
        {
            throw new ArmException(400, "InvalidRoleAssignmentScope",
                $"The role definition '{role.RoleName}' is not assignable at scope '{scope}': it lists no assignable scope containing it.");
        }

        if (principalId == Guid.Empty)
        {
            throw new ArmException(400, "InvalidPrincipalId", "A valid principal ID must be provided for role assignment.");
        }

        var type = principalType ?? "ServicePrincipal";
        if (type is not ("ServicePrincipal" or "User" or "Group" or "ForeignGroup" or "Device"))
        {
            throw new ArmException(400, "InvalidPrincipalType", $"The principal type '{type}' is not valid.");
        }

        var scopeText = scope.ToString();
        if (_store.GetRoleAssignment(name) is { } existing)
        {
            if (existing.Scope.Equals(scopeText, StringComparison.OrdinalIgnoreCase) && existing.RoleDefinitionId == roleDefinitionId
                && existing.PrincipalId == principalId)
            {
                return new CreateResult(existing, Created: false);
            }

            throw new ArmException(409, "RoleAssignmentUpdateNotPermitted",
                "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.");
        }

        if (_store.ListRoleAssignmentsAt([scopeText], principalId).Any(a => a.RoleDefinitionId == roleDefinitionId))
        {
            throw new ArmException(409, "RoleAssignmentExists", "The role assignment already exists.");
        }

        var now = _time.GetUtcNow();
        var assignment = new RoleAssignment(name, scopeText, roleDefinitionId, principalId, type, description, now, now, createdBy, createdBy);
        if (!_store.TryAddRoleAssignment(assignment))
        {
            // A concurrent create won: with the same name (an identical repeat is still idempotent) or the same triple.
            if (_store.GetRoleAssignment(name) is { } winner && winner.Scope.Equals(scopeText, StringComparison.OrdinalIgnoreCase)
                && winner.RoleDefinitionId == roleDefinitionId && winner.PrincipalId == principalId)
            {
                return new CreateResult(winner, Created: false);
            }

            throw new ArmException(409, "RoleAssignmentExists", "The role assignment already exists.");
        }

        return new CreateResult(assignment, Created: true);
    }

    /// <summary>The assignment <paramref name="name"/> if it lives at <paramref name="scope"/>.</summary>
    public RoleAssignment? Get(ResourceId scope, Guid name)
    {
        ArgumentNullException.ThrowIfNull(scope);
        return _store.GetRoleAssignment(name) is { } a && ResourceId.Parse(a.Scope) == scope ? a : null;
    }

    public RoleAssignment? Delete(ResourceId scope, Guid name)
    {
        var existing = Get(scope, name);
        if (existing is null || !_store.DeleteRoleAssignment(name))
        {
            return null;
        }

        _deleted.Publish(existing);
        return existing;
    }

    /// <summary>
    /// Calls <paramref name="handler"/> (synchronously, after the commit, at most once) for every assignment
    /// deleted through <see cref="Delete"/> from now on. Not for the assignments a resource-group delete
    /// removes with the group (those scopes, and the vaults in them, are gone too).
    /// </summary>
    public IDisposable SubscribeDeleted(Action<RoleAssignment> handler) => _deleted.Subscribe(handler);

    /// <summary>Where a failing deletion subscriber's exception goes (the host logs it).</summary>
    public event Action<Exception>? SubscriberFailed
    {
        add => _deleted.SubscriberFailed += value;
        remove => _deleted.SubscriberFailed -= value;
    }

    /// <summary>
    /// Azure's listing at a scope: assignments at the scope, at its ancestors (inherited) and below it;
    /// <c>atScope()</c> keeps those at the scope and above; <c>principalId eq</c> / <c>assignedTo()</c> keep one principal's.
    /// </summary>
    public IReadOnlyList<RoleAssignment> List(ResourceId scope, RoleAssignmentFilter filter)
    {
        ArgumentNullException.ThrowIfNull(scope);
        ArgumentNullException.ThrowIfNull(filter);
        var above = _store.ListRoleAssignmentsAt(scope.SelfAndAncestors().Select(s => s.ToString()).ToList(), filter.PrincipalId);
        IEnumerable<RoleAssignment> result = above;
        if (!filter.AtScopeOnly)
        {
            var below = _store.ListRoleAssignmentsUnder(scope.ToString())
                .Where(a => filter.PrincipalId is null || a.PrincipalId == filter.PrincipalId);
            result = above.Concat(below);
        }

        return result.DistinctBy(a => a.Name).OrderBy(a => a.CreatedOn).ThenBy(a => a.Name).ToList();
    }
}

/// <summary>A parsed roleAssignments `$filter`.</summary>
public sealed record RoleAssignmentFilter(bool AtScopeOnly, Guid? PrincipalId)
{
    public static readonly RoleAssignmentFilter None = new(false, null);

    /// <summary>Parses "atScope()", "principalId eq '{guid}'", "assignedTo('{guid}')" and their conjunctions with "and".</summary>
    public static RoleAssignmentFilter Parse(string? filter)
    {
        if (string.IsNullOrWhiteSpace(filter))
        {
            return None;
        }

        var atScope = false;
        Guid? principal = null;
        foreach (var raw in filter.Split(" and ", StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var term = raw.Trim();
            if (term.Equals("atScope()", StringComparison.OrdinalIgnoreCase))
            {
                atScope = true;
            }
            else if (term.StartsWith("principalId eq ", StringComparison.OrdinalIgnoreCase) && Guid.TryParse(Unquote(term["principalId eq ".Length..]), out var p))
            {
                principal = p;
            }
            else if (term.StartsWith("assignedTo(", StringComparison.OrdinalIgnoreCase) && term.EndsWith(')')
                && Guid.TryParse(Unquote(term["assignedTo(".Length..^1]), out var q))
            {
                principal = q;
            }
            else
            {
                throw new ArmException(400, "InvalidFilterInQueryString", $"The filter '{filter}' is not supported.");
            }
        }

        return new RoleAssignmentFilter(atScope, principal);
    }

    private static string Unquote(string value) => value.Trim().Trim('\'');
}
