// Resource Manager's persistence port. The SQLite implementation (SqliteResourceManagerStore) is the
// embedded default; PostgreSQL implements the same interface later. Invariant: names and scopes
// compare case-insensitively (ARM semantics) while the stored casing is returned unchanged.
namespace Ironclad.ResourceManager.Storage;

public interface IResourceManagerStore
{
    // ── subscriptions ──
    /// <summary>Inserts the subscription unless one with that id exists; true if inserted.</summary>
    bool TryAddSubscription(Subscription subscription);

    Subscription? GetSubscription(Guid subscriptionId);

    IReadOnlyList<Subscription> ListSubscriptions();

    // ── resource groups ──
    /// <summary>Creates or replaces; returns true when it was created. The stored name's casing is kept on replace.</summary>
    bool UpsertResourceGroup(ResourceGroup group);

    ResourceGroup? GetResourceGroup(Guid subscriptionId, string name);

    IReadOnlyList<ResourceGroup> ListResourceGroups(Guid subscriptionId);

    bool DeleteResourceGroup(Guid subscriptionId, string name);

    // ── role assignments ──
    /// <summary>Adds an assignment; false if one with that name exists already (at any scope).</summary>
    bool TryAddRoleAssignment(RoleAssignment assignment);

    RoleAssignment? GetRoleAssignment(Guid name);

    bool DeleteRoleAssignment(Guid name);

    /// <summary>Assignments whose scope is one of <paramref name="scopes"/> (canonical strings), optionally for one principal.</summary>
    IReadOnlyList<RoleAssignment> ListRoleAssignmentsAt(IReadOnlyCollection<string> scopes, Guid? principalId = null);

    /// <summary>Assignments whose scope is <paramref name="scope"/> or lies below it.</summary>
    IReadOnlyList<RoleAssignment> ListRoleAssignmentsUnder(string scope);

    /// <summary>Removes every assignment at or below <paramref name="scope"/> (the scope's resource is gone).</summary>
    int DeleteRoleAssignmentsUnder(string scope);

    // ── activity log ──
    void AppendActivity(ActivityEvent activity);

    /// <summary>Events matching <paramref name="query"/>, newest first.</summary>
    IReadOnlyList<ActivityEvent> QueryActivity(ActivityQuery query);
}
