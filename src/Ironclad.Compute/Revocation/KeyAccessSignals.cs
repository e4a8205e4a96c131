// Signals that a key's usability may have changed, published by the host from the vault's key and
// access events and from identity and vault changes; rotation and revocation subscribe. Invariant:
// a signal is a hint to re-check through the vault, never a verdict — the vault's answer decides.
using Ironclad.ResourceManager.Events;

namespace Ironclad.Compute.Revocation;

public enum KeyAccessSignalKind
{
    /// <summary>A new key version exists (manual rotation, rotation policy, import) — rotation re-wraps.</summary>
    KeyVersionCreated,

    /// <summary>Disabled, expired, deleted, purged, or attributes changed — revocation re-checks.</summary>
    KeyChanged,

    /// <summary>Enabled or recovered — revocation re-checks, and may restore use.</summary>
    KeyRestored,

    /// <summary>An access policy or role assignment was removed or changed for a principal (null = any).</summary>
    AccessChanged,

    /// <summary>A managed identity was deleted (set deleted, user-assigned identity deleted).</summary>
    IdentityDeleted,

    /// <summary>The vault itself was deleted, recovered or purged.</summary>
    VaultChanged,
}

/// <param name="VaultName">The vault's name (vault names are global), or null when it is not about one vault.</param>
/// <param name="KeyName">The key, when the signal is about one key.</param>
/// <param name="KeyVersion">The version, when about one version.</param>
/// <param name="PrincipalId">The principal, for AccessChanged and IdentityDeleted.</param>
public sealed record KeyAccessSignal(
    KeyAccessSignalKind Kind,
    string? VaultName,
    string? KeyName,
    string? KeyVersion,
    Guid? PrincipalId,
    DateTimeOffset At);

/// <summary>The in-process hub (synchronous fan-out, see EventHub).</summary>
public sealed class KeyAccessSignals : EventHub<KeyAccessSignal>;
