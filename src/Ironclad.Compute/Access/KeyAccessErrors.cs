// Turns a vault's refusal (KeyAccessException) into the ARM error a caller of a disk operation sees:
// one code per failure kind, shared by every Compute operation (the disks type maps through CodeOf),
// and the vault client's message, which names the key and what is missing. Invariant: the message never carries a token, a DEK or wrapped bytes — only the key URL,
// the identity and the permission (what KeyAccessException guarantees).
using Ironclad.Compute.KeyAccess;
using Ironclad.ResourceManager.Providers;

namespace Ironclad.Compute.Access;

public static class KeyAccessErrors
{
    /// <summary>The ARM code for a failure kind (see docs/compute/revocation.md).</summary>
    public static (int Status, string Code) CodeOf(KeyAccessFailure failure) => failure switch
    {
        KeyAccessFailure.PermissionDenied => (403, "KeyVaultAccessDenied"),
        KeyAccessFailure.IdentityRejected => (403, "KeyVaultAccessDenied"),
        KeyAccessFailure.KeyDisabled => (409, "KeyDisabled"),
        KeyAccessFailure.KeyNotValidNow => (409, "KeyExpired"),
        KeyAccessFailure.KeyNotFound => (409, "KeyNotFound"),
        KeyAccessFailure.VaultUnavailable => (409, "KeyVaultUnavailable"),
        _ => (409, "KeyVaultOperationFailed"),
    };

    /// <summary>The ARM error for "<paramref name="what"/> is refused because the vault refused the key".</summary>
    public static ArmException ToArmException(KeyAccessException exception, string what)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var (status, code) = CodeOf(exception.Failure);
        return new ArmException(status, code, $"{what} is refused because its key cannot be used: {exception.Message}");
    }
}
