// Feeds Compute's KeyAccessSignals from the events of the roles Compute may not reference: the Key
// Vault's key events (KeyEventHub), vault lifecycle and access-policy events (VaultEventHub), and the
// deletion of user-assigned identities. Invariants: it only translates — publishing is synchronous
// and cheap (subscribers queue their work), so the vault request that caused the event is not
// slowed; it errs towards signalling, since a spare signal costs one re-check.
using Ironclad.Compute.Revocation;
using Ironclad.KeyVault.Events;
using Ironclad.ResourceManager.KeyVault;
using Ironclad.ResourceManager.ManagedIdentity;

namespace Ironclad.Host.Server;

internal sealed class ComputeSignalBridge : IDisposable
{
    private readonly KeyAccessSignals _signals;
    private readonly TimeProvider _time;
    private readonly UserAssignedIdentitiesProvider? _identities;
    private readonly List<IDisposable> _subscriptions = [];

    public ComputeSignalBridge(KeyAccessSignals signals, IKeyEvents keyEvents, IVaultEvents vaultEvents, UserAssignedIdentitiesProvider? identities, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(keyEvents);
        ArgumentNullException.ThrowIfNull(vaultEvents);
        _signals = signals ?? throw new ArgumentNullException(nameof(signals));
        _time = time ?? throw new ArgumentNullException(nameof(time));
        _subscriptions.Add(keyEvents.Subscribe(OnKeyEvent));
        _subscriptions.Add(vaultEvents.Subscribe(OnVaultEvent));
        _identities = identities;
        if (identities is not null)
        {
            identities.IdentityDeleted += OnIdentityDeleted;
        }
    }

    public void Dispose()
    {
        foreach (var subscription in _subscriptions)
        {
            subscription.Dispose();
        }

        if (_identities is not null)
        {
            _identities.IdentityDeleted -= OnIdentityDeleted;
        }
    }

    /// <summary>The signal a key event becomes, or null for none.</summary>
    internal static KeyAccessSignal? Translate(KeyEvent keyEvent)
    {
        ArgumentNullException.ThrowIfNull(keyEvent);
        KeyAccessSignalKind? kind = keyEvent.Kind switch
        {
            KeyEventKind.VersionCreated => KeyAccessSignalKind.KeyVersionCreated,
            KeyEventKind.Disabled or KeyEventKind.Expired or KeyEventKind.Deleted or KeyEventKind.Purged or KeyEventKind.Updated => KeyAccessSignalKind.KeyChanged,
            KeyEventKind.Enabled or KeyEventKind.Recovered => KeyAccessSignalKind.KeyRestored,
            KeyEventKind.AccessPolicyRemoved or KeyEventKind.RoleAssignmentRemoved => KeyAccessSignalKind.AccessChanged,
            _ => null,
        };
        return kind is { } k
            ? new KeyAccessSignal(k, keyEvent.Vault, keyEvent.KeyName, keyEvent.KeyVersion, keyEvent.PrincipalId, keyEvent.At)
            : null;
    }

    /// <summary>The signal a vault event becomes, or null for none.</summary>
    internal static KeyAccessSignal? Translate(VaultEvent vaultEvent)
    {
        ArgumentNullException.ThrowIfNull(vaultEvent);
        return vaultEvent.Kind switch
        {
            VaultEventKind.Deleted or VaultEventKind.Purged or VaultEventKind.Recovered =>
                new KeyAccessSignal(KeyAccessSignalKind.VaultChanged, vaultEvent.Vault.Name, null, null, null, vaultEvent.At),
            // Which principal lost what is the access-change bridge's business (it raises key events);
            // here any policy change of the vault re-checks every disk keyed in it.
            VaultEventKind.AccessPolicyChanged or VaultEventKind.Updated =>
                new KeyAccessSignal(KeyAccessSignalKind.AccessChanged, vaultEvent.Vault.Name, null, null, null, vaultEvent.At),
            _ => null,
        };
    }

    private void OnKeyEvent(KeyEvent keyEvent)
    {
        if (Translate(keyEvent) is { } signal)
        {
            _signals.Publish(signal);
        }
    }

    private void OnVaultEvent(VaultEvent vaultEvent)
    {
        if (Translate(vaultEvent) is { } signal)
        {
            _signals.Publish(signal);
        }
    }

    private void OnIdentityDeleted(Guid principalId) =>
        _signals.Publish(new KeyAccessSignal(KeyAccessSignalKind.IdentityDeleted, null, null, null, principalId, _time.GetUtcNow()));
}
