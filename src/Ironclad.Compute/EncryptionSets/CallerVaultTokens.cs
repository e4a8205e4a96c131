// On-behalf-of vault tokens for the caller of a disk encryption set write: used only to GET the key's
// public properties (exists, type, size, enabled, expiry, current version) when the set's own identity
// cannot yet — a system-assigned identity is created with the set, before anyone could grant it.
// Invariant: only the read-only GET key path uses these tokens (never wrap/unwrap), so the caller
// learns nothing its own vault permissions would not show it; tokens are never logged or kept.
using Ironclad.Compute.KeyAccess;
using Ironclad.Identity;

namespace Ironclad.Compute.EncryptionSets;

public sealed class CallerVaultTokens : IVaultAccessTokens
{
    private readonly IdentityProvider _identity;

    public CallerVaultTokens(IdentityProvider identity)
    {
        _identity = identity ?? throw new ArgumentNullException(nameof(identity));
    }

    public ValueTask<string> GetTokenAsync(Guid principalId, bool forceRefresh, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var principal = _identity.FindPrincipal(principalId)
            ?? throw new KeyAccessException(KeyAccessFailure.IdentityRejected, "", $"The caller {principalId:D} no longer exists.");
        return ValueTask.FromResult(_identity.IssueToken(principal, ManagedIdentityVaultTokens.VaultResource).AccessToken);
    }
}
