// Re-checks a disk encryption set that is not verified yet (typically: a system-assigned identity
// created with the set, before the vault admin granted it) — on GET, on an access-change signal and
// periodically. Invariant: a set becomes Verified only after its vault, key and identity passed the
// same validation a write gets, and its active key is then pinned to the versioned kid the vault names.
using Ironclad.Compute.KeyAccess;
using Ironclad.ResourceManager.Providers;

namespace Ironclad.Compute.EncryptionSets;

internal sealed class EncryptionSetVerifier
{
    private readonly EncryptionSetStore _store;
    private readonly EncryptionSetKeyValidator _validator;
    private readonly EncryptionSetWorkList _queue;

    public EncryptionSetVerifier(EncryptionSetStore store, EncryptionSetKeyValidator validator, EncryptionSetWorkList queue)
    {
        _store = store ?? throw new ArgumentNullException(nameof(store));
        _validator = validator ?? throw new ArgumentNullException(nameof(validator));
        _queue = queue ?? throw new ArgumentNullException(nameof(queue));
    }

    /// <summary>Validates again and stores the outcome; returns the set as stored afterwards (null if it is gone).</summary>
    public async Task<EncryptionSetRecord?> ReverifyAsync(EncryptionSetRecord set, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(set);
        KeyValidation outcome;
        try
        {
            var (key, vault) = _validator.ValidateVault(set.SubscriptionId, set.Location, set.ActiveKeyUrl, set.SourceVaultId);
            outcome = await _validator.ValidateKeyAsync(set.Name, set.ActingPrincipalId, principalIsNew: false, callerObjectId: null, key, vault, allowMissingAccess: true, cancellationToken).ConfigureAwait(false);
        }
        catch (ArmException e)
        {
            outcome = new KeyValidation(KeyReference.Parse(set.ActiveKeyUrl), false, e.Message);
        }

        var stored = _store.Update(set.Id, current =>
        {
            // Only the state validated: a concurrent write of another key or identity wins.
            if (!string.Equals(current.ActiveKeyUrl, set.ActiveKeyUrl, StringComparison.Ordinal) || current.ActingPrincipalId != set.ActingPrincipalId)
            {
                return null;
            }

            return outcome.Verified
                ? current with { ActiveKeyUrl = outcome.Key.ToString(), KeyAccessState = KeyAccessStates.Verified, KeyAccessMessage = null }
                : current with { KeyAccessState = KeyAccessStates.NotVerified, KeyAccessMessage = outcome.Message };
        });
        if (stored is { IsVerified: true } && !set.IsVerified)
        {
            _queue.Enqueue(set.Id);
        }

        return stored ?? _store.Find(set.Id);
    }
}
