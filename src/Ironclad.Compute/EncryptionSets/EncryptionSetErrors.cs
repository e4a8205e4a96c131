// The ARM error codes of Microsoft.Compute/diskEncryptionSets (listed in docs/error-codes.md). Invariant:
// every refusal names what is wrong and how to fix it, and never carries a token or key material.
namespace Ironclad.Compute.EncryptionSets;

internal static class EncryptionSetErrors
{
    public const string InvalidParameter = "InvalidParameter";
    public const string InvalidRequestContent = "InvalidRequestContent";
    public const string InvalidResourceName = "InvalidResourceName";
    public const string LocationRequired = "LocationRequired";
    public const string InvalidResourceLocation = "InvalidResourceLocation";
    public const string ResourceNotFound = "ResourceNotFound";
    public const string MethodNotAllowed = "MethodNotAllowed";
    public const string Conflict = "Conflict";

    public const string EncryptionTypeNotSupported = "DiskEncryptionSetEncryptionTypeNotSupported";
    public const string IdentityRequired = "DiskEncryptionSetIdentityRequired";
    public const string UserAssignedIdentityNotFound = "UserAssignedIdentityNotFound";
    public const string FederatedClientIdNotSupported = "FederatedClientIdNotSupported";
    public const string InvalidKeyUrl = "InvalidKeyUrl";
    public const string KeyVaultNotFound = "KeyVaultNotFound";
    public const string KeyVaultInDifferentSubscription = "KeyVaultInDifferentSubscription";
    public const string KeyVaultInDifferentRegion = "KeyVaultInDifferentRegion";
    public const string KeyVaultSoftDeleteRequired = "KeyVaultSoftDeleteRequired";
    public const string KeyVaultPurgeProtectionRequired = "KeyVaultPurgeProtectionRequired";
    public const string KeyUrlNotInSourceVault = "KeyUrlNotInSourceVault";
    public const string KeyNotFound = "KeyNotFound";
    public const string KeyTypeNotSupported = "KeyTypeNotSupported";
    public const string KeyDisabled = "KeyDisabled";
    public const string KeyExpired = "KeyExpired";
    public const string KeyNotYetValid = "KeyNotYetValid";
    public const string KeyVaultAccessDenied = "KeyVaultAccessDenied";
    public const string KeyVaultUnavailable = "KeyVaultUnavailable";
    public const string InUse = "DiskEncryptionSetInUse";
    public const string EncryptionTypeChangeNotAllowed = "DiskEncryptionSetEncryptionTypeChangeNotAllowed";
}
