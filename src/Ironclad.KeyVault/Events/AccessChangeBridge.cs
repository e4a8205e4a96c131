// Turns management-plane changes that can take key access away into key events, so subscribers (the
// compute provider's revocation) re-check at once: access-policy entries removed or stripped of key
// permissions, role assignments deleted at or above a vault, the vault's permission model switched,
// the vault deleted or purged. Invariant: it only ever reports a possible loss, never a grant, and
// errs towards reporting: subscribers re-check with a fresh call, so a spare event costs one unwrap.
using Ironclad.ResourceManager.Ids;
using Ironclad.ResourceManager.KeyVault;
using Ironclad.ResourceManager.Rbac;
using Ironclad.ResourceManager.Storage;

namespace Ironclad.KeyVault.Events;

public sealed class AccessChangeBridge : IDisposable
{
    private readonly IKeyEventSink _sink;
    private readonly IVaultDirectory _vaults;
    private readonly TimeProvider _time;
    private readonly IDisposable _vaultSubscription;
    private readonly IDisposable _assignmentSubscription;

    public AccessChangeBridge(IVaultEvents vaultEvents, RoleAssignmentService assignments, IVaultDirectory vaults, IKeyEventSink sink, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(vaultEvents);
        ArgumentNullException.ThrowIfNull(assignments);
        ArgumentNullException.ThrowIfNull(vaults);
        ArgumentNullException.ThrowIfNull(sink);
        ArgumentNullException.ThrowIfNull(time);
        _sink = sink;
        _time = time;
        _vaults = vaults;
        _vaultSubscription = vaultEvents.Subscribe(OnVaultEvent);
        _assignmentSubscription = assignments.SubscribeDeleted(OnRoleAssignmentDeleted);
    }

    public void Dispose()
    {
        _vaultSubscription.Dispose();
        _assignmentSubscription.Dispose();
    }

    /// <summary>The principals (object ids) whose key permissions shrank from <paramref name="before"/> to <paramref name="after"/>.</summary>
    public static IReadOnlyList<string> PrincipalsThatLostKeyPermissions(IReadOnlyList<VaultAccessPolicy> before, IReadOnlyList<VaultAccessPolicy> after)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        var lost = new List<string>();
        foreach (var entry in before.Where(e => e.Keys.Count > 0))
        {
            var now = after.FirstOrDefault(e => e.TenantId == entry.TenantId && e.ApplicationId == entry.ApplicationId
                && string.Equals(e.ObjectId, entry.ObjectId, StringComparison.OrdinalIgnoreCase));
            if ((now is null || !entry.Keys.IsSubsetOf(now.Keys))
                && !lost.Contains(entry.ObjectId, StringComparer.OrdinalIgnoreCase))
            {
                lost.Add(entry.ObjectId);
            }
        }

        return lost;
    }

    private void OnVaultEvent(VaultEvent change)
    {
        var vault = change.Vault;
        switch (change.Kind)
        {
            case VaultEventKind.Deleted:
                // The whole vault's keys became unreachable: KeyName null means every key.
                _sink.Publish(new KeyEvent(KeyEventKind.Deleted, vault.Name, null, null, null, change.At));
                return;
            case VaultEventKind.Purged:
                _sink.Publish(new KeyEvent(KeyEventKind.Purged, vault.Name, null, null, null, change.At));
                return;
            case VaultEventKind.Updated or VaultEventKind.AccessPolicyChanged when change.Previous is not null:
                break;
            default:
                return;
        }

        var before = change.Previous!;
        if (!before.EnableRbacAuthorization && vault.EnableRbacAuthorization)
        {
            // Switched to RBAC: no access policy counts any more.
            PublishPolicyLosses(vault, PrincipalsThatLostKeyPermissions(before.AccessPolicies, []), change.At);
            return;
        }

        if (before.EnableRbacAuthorization && !vault.EnableRbacAuthorization)
        {
            // Switched to access policies: no role assignment counts any more; whose they were is not
            // known here, so the event names nobody (subscribers re-check every caller of the vault).
            _sink.Publish(new KeyEvent(KeyEventKind.RoleAssignmentRemoved, vault.Name, null, null, null, change.At));
        }

        if (!vault.EnableRbacAuthorization)
        {
            PublishPolicyLosses(vault, PrincipalsThatLostKeyPermissions(before.AccessPolicies, vault.AccessPolicies), change.At);
        }
    }

    private void PublishPolicyLosses(VaultRecord vault, IReadOnlyList<string> principals, DateTimeOffset at)
    {
        foreach (var objectId in principals)
        {
            _sink.Publish(new KeyEvent(KeyEventKind.AccessPolicyRemoved, vault.Name, null, null,
                Guid.TryParse(objectId, out var principal) ? principal : null, at));
        }
    }

    private void OnRoleAssignmentDeleted(RoleAssignment assignment)
    {
        if (!ResourceId.TryParse(assignment.Scope, out var scope))
        {
            return;
        }

        var at = _time.GetUtcNow();
        foreach (var vault in _vaults.ListAll().Where(v => !v.IsDeleted))
        {
            if (ResourceId.TryParse(vault.Id, out var vaultId) && scope.Contains(vaultId))
            {
                _sink.Publish(new KeyEvent(KeyEventKind.RoleAssignmentRemoved, vault.Name, null, null, assignment.PrincipalId, at));
            }
        }
    }
}
