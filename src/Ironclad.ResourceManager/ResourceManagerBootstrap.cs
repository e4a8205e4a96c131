// IResourceManagerBootstrap: the first-start subscription and its Owner. Idempotent — every start
// calls it, and a second call neither duplicates the subscription nor the assignment.
using Ironclad.ResourceManager.Ids;
using Ironclad.ResourceManager.Rbac;
using Ironclad.ResourceManager.Storage;

namespace Ironclad.ResourceManager;

public sealed class ResourceManagerBootstrap : IResourceManagerBootstrap
{
    private readonly IResourceManagerStore _store;
    private readonly TimeProvider _time;

    public ResourceManagerBootstrap(IResourceManagerStore store, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(time);
        _store = store;
        _time = time;
    }

    public void EnsureSubscription(Guid tenantId, Guid subscriptionId, string displayName, Guid ownerObjectId)
    {
        ArgumentException.ThrowIfNullOrEmpty(displayName);
        _store.TryAddSubscription(new Subscription(subscriptionId, tenantId, displayName, "Enabled"));
        var scope = ResourceId.ForSubscription(subscriptionId).ToString();
        if (_store.ListRoleAssignmentsAt([scope], ownerObjectId).Any(a => a.RoleDefinitionId == BuiltInRoles.OwnerId))
        {
            return;
        }

        var now = _time.GetUtcNow();
        _store.TryAddRoleAssignment(new RoleAssignment(
            Guid.NewGuid(), scope, BuiltInRoles.OwnerId, ownerObjectId, "ServicePrincipal", "Bootstrap administrator", now, now, null, null));
    }
}
