// In-process notifications of vault lifecycle changes, for the roles that follow the provider (the
// data plane opens a listener on a created vault's port and closes it on purge). Invariant: an event
// is published only after the change it reports is committed to the store; a subscriber that throws
// does not undo the change nor stop the other subscribers.
using Ironclad.ResourceManager.Events;

namespace Ironclad.ResourceManager.KeyVault;

public enum VaultEventKind
{
    Created,
    Updated,
    Deleted,
    Recovered,
    Purged,
    AccessPolicyChanged,
}

/// <summary>One committed change of a vault; <paramref name="Vault"/> is the record after it (before it, for Purged).</summary>
/// <param name="Previous">The record before the change, for Updated and AccessPolicyChanged (the access-change bridge compares them); null otherwise.</param>
public sealed record VaultEvent(VaultEventKind Kind, VaultRecord Vault, DateTimeOffset At, VaultRecord? Previous = null);

public interface IVaultEvents
{
    /// <summary>Calls <paramref name="handler"/> for every event from now on, until the returned handle is disposed.</summary>
    IDisposable Subscribe(Action<VaultEvent> handler);
}

/// <summary>The in-process implementation: synchronous fan-out to subscribers, in subscription order.</summary>
public sealed class VaultEventHub : EventHub<VaultEvent>, IVaultEvents;
