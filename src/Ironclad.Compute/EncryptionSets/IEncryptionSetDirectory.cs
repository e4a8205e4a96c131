// What the rest of Compute may ask about disk encryption sets (the sets handler implements it).
// Invariant: ActiveKey is always a versioned kid — a versionless keyUrl is resolved when the set is
// written — and KeyAccessPrincipalId is the identity that calls the vault for every disk of the set.
using Ironclad.Compute.DataKeys;
using Ironclad.Compute.KeyAccess;

namespace Ironclad.Compute.EncryptionSets;

/// <param name="Id">Canonical ARM id.</param>
/// <param name="EncryptionType">EncryptionAtRestWithCustomerKey or EncryptionAtRestWithPlatformAndCustomerKeys.</param>
/// <param name="ActiveKey">The current key version (versioned kid).</param>
/// <param name="SourceVaultId">ARM id of the vault holding the key.</param>
/// <param name="KeyAccessPrincipalId">The identity used for the vault: the user-assigned one when set, else the system-assigned one.</param>
public sealed record EncryptionSetInfo(
    string Id,
    Guid SubscriptionId,
    string ResourceGroup,
    string Name,
    string Location,
    string EncryptionType,
    KeyReference ActiveKey,
    string SourceVaultId,
    Guid KeyAccessPrincipalId,
    bool RotationToLatestKeyVersionEnabled)
{
    /// <summary>How a layer wrapped through this set is targeted now.</summary>
    public KeyEncryptionTarget Target() =>
        new(KeyEncryptionKind.Customer, KeyAccessPrincipalId, ActiveKey, Id, PlatformRegion: null);

    public bool IsDoubleEncryption => EncryptionType == EncryptionTypes.PlatformAndCustomerKeys;
}

public interface IEncryptionSetDirectory
{
    /// <summary>The set with this id (case-insensitive), or null.</summary>
    EncryptionSetInfo? Find(string encryptionSetId);

    IReadOnlyList<EncryptionSetInfo> All();
}

/// <summary>The wire spellings of encryption types (disks, snapshots, sets).</summary>
public static class EncryptionTypes
{
    public const string PlatformKey = "EncryptionAtRestWithPlatformKey";
    public const string CustomerKey = "EncryptionAtRestWithCustomerKey";
    public const string PlatformAndCustomerKeys = "EncryptionAtRestWithPlatformAndCustomerKeys";
}
