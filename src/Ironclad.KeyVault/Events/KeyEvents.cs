// Key and access changes, published in process to subscribers (the compute provider revokes running
// disks from them). Invariant: an event is published only after the change it reports is committed;
// delivery is synchronous, at most once, in subscription order; a subscriber that throws neither undoes
// the change nor stops the others. Subscribers that need certainty re-check the vault (a fresh unwrap).
namespace Ironclad.KeyVault.Events;

public enum KeyEventKind
{
    /// <summary>A key was created, imported, rotated (by hand or policy) or restored: a new version.</summary>
    VersionCreated,
    Enabled,
    Disabled,
    /// <summary>Any other attribute change of a version (nbf, exp, key_ops, tags).</summary>
    Updated,
    /// <summary>A version's exp passed (published once, by the maintenance run).</summary>
    Expired,
    Deleted,
    Recovered,
    Purged,
    /// <summary>An access policy entry was removed or lost key permissions; <see cref="KeyEvent.PrincipalId"/> says whose.</summary>
    AccessPolicyRemoved,
    /// <summary>A role assignment at or above the vault was removed; <see cref="KeyEvent.PrincipalId"/> says whose.</summary>
    RoleAssignmentRemoved,
}

/// <summary>One committed change. Key name and version are null for access events.</summary>
public sealed record KeyEvent(KeyEventKind Kind, string Vault, string? KeyName, string? KeyVersion, Guid? PrincipalId, DateTimeOffset At);

public interface IKeyEvents
{
    /// <summary>Calls <paramref name="handler"/> for every event from now on, until the returned handle is disposed.</summary>
    IDisposable Subscribe(Action<KeyEvent> handler);
}

/// <summary>What KeyVaultService publishes to (KeyEventHub implements both sides).</summary>
public interface IKeyEventSink
{
    void Publish(KeyEvent keyEvent);
}

/// <summary>The in-process hub: KeyVaultService and the access-change bridges publish, subscribers listen.</summary>
public sealed class KeyEventHub : Ironclad.ResourceManager.Events.EventHub<KeyEvent>, IKeyEvents, IKeyEventSink;
