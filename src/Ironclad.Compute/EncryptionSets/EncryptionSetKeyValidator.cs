// The validation a disk encryption set's key passes before disks may use it: the source vault exists
// in the set's subscription and region with soft delete and purge protection, the key URL belongs to
// it, the key is an enabled, unexpired RSA 2048/3072/4096 key allowing wrap/unwrap, and the set's
// identity can get, wrapKey and unwrapKey it. Invariant: every refusal is a 400 naming the missing piece
// and how to fix it; the key is only ever reached through IVaultKeyClient as the set's identity.
using Ironclad.Compute.KeyAccess;
using Ironclad.ResourceManager.Ids;
using Ironclad.ResourceManager.KeyVault;
using Ironclad.ResourceManager.Providers;

namespace Ironclad.Compute.EncryptionSets;

/// <summary>The outcome of checking a key through the set's identity.</summary>
/// <param name="Key">The versioned kid when <paramref name="Verified"/>; else the key as given.</param>
/// <param name="Message">When not verified: what is missing (names the identity, the key and how to grant).</param>
internal sealed record KeyValidation(KeyReference Key, bool Verified, string? Message);

internal sealed class EncryptionSetKeyValidator
{
    public const string CryptoServiceEncryptionUserRole = "Key Vault Crypto Service Encryption User";
    public const string CryptoServiceEncryptionUserRoleId = "e147488a-f6f5-4113-8e2d-b22465e65bf6";

    private static readonly int[] SupportedKeySizes = [2048, 3072, 4096];

    private readonly IVaultDirectory _vaults;
    private readonly IVaultKeyClient _keys;
    private readonly IVaultKeyClient? _callerKeys;
    private readonly TimeProvider _time;

    /// <param name="keys">The vault client acting as managed identities (the set's identity).</param>
    /// <param name="callerKeys">A vault client acting on behalf of the ARM caller (CallerVaultTokens), used only to GET a key; null = none.</param>
    public EncryptionSetKeyValidator(IVaultDirectory vaults, IVaultKeyClient keys, IVaultKeyClient? callerKeys, TimeProvider time)
    {
        _vaults = vaults ?? throw new ArgumentNullException(nameof(vaults));
        _keys = keys ?? throw new ArgumentNullException(nameof(keys));
        _callerKeys = callerKeys;
        _time = time ?? throw new ArgumentNullException(nameof(time));
    }

    /// <summary>
    /// Parses the key URL and finds its vault (by <paramref name="sourceVaultId"/>, or by the URL's port
    /// when none is given), checking subscription, region, soft delete, purge protection and origin.
    /// </summary>
    public (KeyReference Key, VaultRecord Vault) ValidateVault(Guid subscriptionId, string location, string keyUrl, string? sourceVaultId)
    {
        if (!KeyReference.TryParse(keyUrl, out var key))
        {
            throw new ArmException(400, EncryptionSetErrors.InvalidKeyUrl,
                $"activeKey.keyUrl '{keyUrl}' is not a Key Vault key URL: expected https://{{vault host:port}}/keys/{{name}}[/{{version}}] (the key's 'kid').");
        }

        VaultRecord? vault;
        string described;
        if (string.IsNullOrEmpty(sourceVaultId))
        {
            vault = _vaults.FindByPort(key.VaultUri.Port);
            described = $"serving {key.VaultUri.GetLeftPart(UriPartial.Authority)}";
        }
        else
        {
            if (!ResourceId.TryParse(sourceVaultId, out var vaultId)
                || !string.Equals(vaultId.ResourceType, VaultIds.VaultType, StringComparison.OrdinalIgnoreCase)
                || vaultId.SubscriptionId is null || vaultId.ResourceGroup is null)
            {
                throw new ArmException(400, EncryptionSetErrors.InvalidParameter,
                    $"activeKey.sourceVault.id '{sourceVaultId}' is not a key vault id: expected /subscriptions/{{sub}}/resourceGroups/{{group}}/providers/Microsoft.KeyVault/vaults/{{name}}.");
            }

            vault = _vaults.FindByName(vaultId.Name);
            if (vault is not null && (vault.SubscriptionId != vaultId.SubscriptionId
                || !string.Equals(vault.ResourceGroup, vaultId.ResourceGroup, StringComparison.OrdinalIgnoreCase)))
            {
                vault = null;
            }

            described = $"'{vaultId}'";
        }

        if (vault is null)
        {
            throw new ArmException(400, EncryptionSetErrors.KeyVaultNotFound,
                $"The key vault {described} (activeKey.sourceVault) was not found. Create the vault (with soft delete and purge protection) or give the id of an existing one.");
        }

        if (vault.IsDeleted)
        {
            throw new ArmException(400, EncryptionSetErrors.KeyVaultNotFound,
                $"The key vault '{vault.Name}' (activeKey.sourceVault) is soft-deleted. Recover it (PUT the vault with createMode 'recover') before using its keys.");
        }

        if (vault.SubscriptionId != subscriptionId)
        {
            throw new ArmException(400, EncryptionSetErrors.KeyVaultInDifferentSubscription,
                $"The key vault '{vault.Name}' is in subscription '{vault.SubscriptionId:D}', but the disk encryption set is in '{subscriptionId:D}'. Use a vault of the set's subscription.");
        }

        if (!string.Equals(VaultRules.NormalizeLocation(vault.Location), VaultRules.NormalizeLocation(location), StringComparison.Ordinal))
        {
            throw new ArmException(400, EncryptionSetErrors.KeyVaultInDifferentRegion,
                $"The key vault '{vault.Name}' is in region '{vault.Location}', but the disk encryption set is in '{VaultRules.NormalizeLocation(location)}'. Use a vault of the set's region.");
        }

        if (vault.Properties[VaultRules.EnableSoftDelete] is { } softDelete && !(bool)softDelete)
        {
            throw new ArmException(400, EncryptionSetErrors.KeyVaultSoftDeleteRequired,
                $"The key vault '{vault.Name}' does not have soft delete enabled; disk encryption sets require soft delete and purge protection.");
        }

        if (!vault.EnablePurgeProtection)
        {
            throw new ArmException(400, EncryptionSetErrors.KeyVaultPurgeProtectionRequired,
                $"The key vault '{vault.Name}' does not have purge protection enabled; disk encryption sets require it so the key cannot be purged while disks depend on it. " +
                "Enable it by updating the vault with properties.enablePurgeProtection = true (it cannot be turned off again).");
        }

        if (Uri.Compare(key.VaultUri, vault.VaultUri, UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) != 0)
        {
            throw new ArmException(400, EncryptionSetErrors.KeyUrlNotInSourceVault,
                $"activeKey.keyUrl '{key}' is not a key of the vault '{vault.Name}' (activeKey.sourceVault), whose URI is {vault.VaultUri}. " +
                "Give a key URL of that vault, or the sourceVault that holds the key.");
        }

        return (key, vault);
    }

    /// <summary>
    /// Checks the key and the identity's access through the vault. With <paramref name="allowMissingAccess"/>
    /// a missing permission is reported (not thrown); anything wrong with the key itself always throws.
    /// <paramref name="principalIsNew"/>: the identity was created by this request (it cannot have access
    /// yet): the key is then checked as the caller only, and the access reported as missing.
    /// </summary>
    public async Task<KeyValidation> ValidateKeyAsync(
        string setName, Guid principalId, bool principalIsNew, Guid? callerObjectId, KeyReference key, VaultRecord vault, bool allowMissingAccess,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(vault);
        if (principalIsNew)
        {
            var asCaller = await ReadAsCallerAsync(callerObjectId, key, setName, vault, cancellationToken).ConfigureAwait(false);
            if (asCaller is not null)
            {
                CheckKeyProperties(asCaller);
            }

            var resolved = asCaller?.Kid ?? key;
            return new KeyValidation(resolved, false,
                "The system-assigned identity was created with the set, so it has no access to the key yet. " +
                AccessMessage(setName, principalId, resolved, vault, ["get", "wrapKey", "unwrapKey"]) +
                (asCaller is null ? " The key itself could not be checked yet either: the caller may not get it." : "") +
                " Disks cannot use the set until then; the set is checked again when vault access changes, periodically and on every GET.");
        }

        KeyAccessProbe probe;
        try
        {
            probe = await _keys.ProbeAsync(principalId, key, cancellationToken).ConfigureAwait(false);
        }
        catch (KeyAccessException e) when (allowMissingAccess && e.Failure is KeyAccessFailure.PermissionDenied or KeyAccessFailure.IdentityRejected)
        {
            return new KeyValidation(key, false, AccessMessage(setName, principalId, key, vault, e.MissingPermission is { } m ? [m] : ["get", "wrapKey", "unwrapKey"]));
        }
        catch (KeyAccessException e)
        {
            // A refusal about the key itself (e.g. key_ops without wrapKey) is named from its properties when they can be read.
            var known = await TryGetAsync(principalId, key, cancellationToken).ConfigureAwait(false)
                ?? await ReadAsCallerAsync(callerObjectId, key, setName, vault, cancellationToken).ConfigureAwait(false);
            if (known is not null)
            {
                CheckKeyProperties(known);
            }

            throw Translate(e, setName, principalId, key, vault);
        }

        var properties = probe.Key ?? await ReadAsCallerAsync(callerObjectId, key, setName, vault, cancellationToken).ConfigureAwait(false);
        if (properties is not null)
        {
            CheckKeyProperties(properties);
        }

        if (!probe.IsSufficient || probe.Key is null)
        {
            var missing = probe.Missing.Count > 0 ? probe.Missing : ["get"];
            var message = AccessMessage(setName, principalId, properties?.Kid ?? key, vault, missing);
            return allowMissingAccess
                ? new KeyValidation(properties?.Kid ?? key, false, message)
                : throw new ArmException(400, EncryptionSetErrors.KeyVaultAccessDenied, message);
        }

        return new KeyValidation(probe.Key.Kid, true, null);
    }

    private async Task<VaultKeyProperties?> TryGetAsync(Guid principalId, KeyReference key, CancellationToken cancellationToken)
    {
        try
        {
            return await _keys.GetKeyAsync(principalId, key, cancellationToken).ConfigureAwait(false);
        }
        catch (KeyAccessException)
        {
            return null;
        }
    }

    /// <summary>The key's public properties read on behalf of the ARM caller; null when the caller may not get it (or there is no caller).</summary>
    private async Task<VaultKeyProperties?> ReadAsCallerAsync(Guid? callerObjectId, KeyReference key, string setName, VaultRecord vault, CancellationToken cancellationToken)
    {
        if (_callerKeys is null || callerObjectId is not { } caller)
        {
            return null;
        }

        try
        {
            return await _callerKeys.GetKeyAsync(caller, key, cancellationToken).ConfigureAwait(false);
        }
        catch (KeyAccessException e) when (e.Failure is KeyAccessFailure.PermissionDenied or KeyAccessFailure.IdentityRejected)
        {
            return null;
        }
        catch (KeyAccessException e)
        {
            throw Translate(e, setName, caller, key, vault);
        }
    }

    /// <summary>The current (latest) version of <paramref name="key"/> as the identity sees it.</summary>
    public async Task<VaultKeyProperties> CurrentVersionAsync(Guid principalId, KeyReference key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        var properties = await _keys.GetKeyAsync(principalId, key.Versionless(), cancellationToken).ConfigureAwait(false);
        CheckKeyProperties(properties);
        return properties;
    }

    /// <summary>The message that names the identity, the key, the missing permissions and the two ways to grant them.</summary>
    public static string AccessMessage(string setName, Guid principalId, KeyReference key, VaultRecord vault, IReadOnlyList<string> missing)
    {
        ArgumentNullException.ThrowIfNull(vault);
        var grant = vault.EnableRbacAuthorization
            ? $"The vault uses RBAC authorization: assign the role '{CryptoServiceEncryptionUserRole}' ({CryptoServiceEncryptionUserRoleId}) to principal {principalId:D} at the vault's scope ({vault.Id})."
            : $"Add an access policy to vault '{vault.Name}' for object id {principalId:D} with key permissions get, wrapKey and unwrapKey " +
              $"(PUT {vault.Id}/accessPolicies/add), or, on a vault with RBAC authorization, assign the role '{CryptoServiceEncryptionUserRole}'.";
        return $"The identity {principalId:D} of disk encryption set '{setName}' lacks the key permission(s) {string.Join(", ", missing)} on key {key}. {grant}";
    }

    private void CheckKeyProperties(VaultKeyProperties properties)
    {
        if (properties.KeyType is not ("RSA" or "RSA-HSM") || !SupportedKeySizes.Contains(properties.KeySizeBits))
        {
            throw new ArmException(400, EncryptionSetErrors.KeyTypeNotSupported,
                $"The key {properties.Kid} is {properties.KeyType} {properties.KeySizeBits}-bit; disk encryption sets need an RSA or RSA-HSM key of 2048, 3072 or 4096 bits.");
        }

        if (properties.KeyOperations.Count > 0
            && (!properties.KeyOperations.Contains("wrapKey", StringComparer.OrdinalIgnoreCase) || !properties.KeyOperations.Contains("unwrapKey", StringComparer.OrdinalIgnoreCase)))
        {
            throw new ArmException(400, EncryptionSetErrors.KeyTypeNotSupported,
                $"The key {properties.Kid} does not allow wrapKey and unwrapKey (its key_ops are {string.Join(", ", properties.KeyOperations)}); create a key whose key_ops include both.");
        }

        if (!properties.Enabled)
        {
            throw new ArmException(400, EncryptionSetErrors.KeyDisabled,
                $"The key {properties.Kid} is disabled. Enable it (update its attributes with enabled = true) or use another key version.");
        }

        var now = _time.GetUtcNow();
        if (properties.Expires is { } expires && expires <= now)
        {
            throw new ArmException(400, EncryptionSetErrors.KeyExpired,
                $"The key {properties.Kid} expired at {expires:O}. Extend its expiry or rotate to a new version.");
        }

        if (properties.NotBefore is { } notBefore && notBefore > now)
        {
            throw new ArmException(400, EncryptionSetErrors.KeyNotYetValid,
                $"The key {properties.Kid} is not valid before {notBefore:O}. Use a version that is valid now.");
        }
    }

    private static ArmException Translate(KeyAccessException e, string setName, Guid principalId, KeyReference key, VaultRecord vault) => e.Failure switch
    {
        KeyAccessFailure.KeyNotFound => new ArmException(400, EncryptionSetErrors.KeyNotFound,
            $"The key {key} was not found in vault '{vault.Name}' (it does not exist, the version does not exist, or it was deleted). Create the key or give the URL of an existing version."),
        KeyAccessFailure.KeyDisabled => new ArmException(400, EncryptionSetErrors.KeyDisabled,
            $"The key {key} is disabled. Enable it (update its attributes with enabled = true) or use another key version."),
        KeyAccessFailure.KeyNotValidNow => new ArmException(400, EncryptionSetErrors.KeyExpired,
            $"The key {key} is expired or not yet valid. Adjust its activation/expiry dates or rotate to a new version."),
        KeyAccessFailure.PermissionDenied => new ArmException(400, EncryptionSetErrors.KeyVaultAccessDenied,
            AccessMessage(setName, principalId, key, vault, e.MissingPermission is { } m ? [m] : ["get", "wrapKey", "unwrapKey"])),
        KeyAccessFailure.IdentityRejected => new ArmException(400, EncryptionSetErrors.KeyVaultAccessDenied,
            $"The vault '{vault.Name}' refused the token of identity {principalId:D} of disk encryption set '{setName}' (the identity was deleted, or belongs to another tenant than the vault's {vault.TenantId:D})."),
        KeyAccessFailure.VaultUnavailable => new ArmException(400, EncryptionSetErrors.KeyVaultUnavailable,
            $"The key vault '{vault.Name}' at {vault.VaultUri} did not answer for key {key}: {e.Message}"),
        _ => new ArmException(400, EncryptionSetErrors.KeyVaultUnavailable,
            $"The key vault '{vault.Name}' refused an operation on key {key}: {e.Message}"),
    };
}
