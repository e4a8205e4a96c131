// The desired state a PUT or PATCH of a disk encryption set asks for, parsed from the wire (api-compat
// §2.6). Invariant: read-only fields a client echoes back (principalId, previousKeys, provisioningState,
// ...) are ignored; everything else that is malformed or unsupported is refused with a 400 naming it.
using System.Text.Json.Nodes;
using Ironclad.ResourceManager.Ids;
using Ironclad.ResourceManager.KeyVault;
using Ironclad.ResourceManager.Providers;

namespace Ironclad.Compute.EncryptionSets;

/// <param name="Location">Normalised (lower case, no spaces).</param>
/// <param name="UserAssignedIdentityIds">Canonical ids.</param>
/// <param name="SourceVaultId">Null when the request gives none (the vault is then found by the key URL's port).</param>
/// <param name="RotationToLatestKeyVersionEnabled">Null when not given: a PUT then defaults it to "the keyUrl is versionless".</param>
internal sealed record Desired(
    string Location,
    JsonObject Tags,
    bool SystemAssigned,
    IReadOnlyList<string> UserAssignedIdentityIds,
    string EncryptionType,
    string KeyUrl,
    string? SourceVaultId,
    bool? RotationToLatestKeyVersionEnabled)
{
    public const string ConfidentialVmEncryptedWithCustomerKey = "ConfidentialVmEncryptedWithCustomerKey";

    public static Desired FromPut(JsonObject body)
    {
        ArgumentNullException.ThrowIfNull(body);
        var location = VaultRules.RequiredLocation(body);
        var properties = Properties(body);
        var (system, userAssigned) = Identity(body["identity"], null);
        var activeKey = properties["activeKey"] as JsonObject
            ?? throw new ArmException(400, EncryptionSetErrors.InvalidParameter,
                "properties.activeKey is required: {\"keyUrl\": \"https://{vault}/keys/{name}[/{version}]\", \"sourceVault\": {\"id\": \"<vault id>\"}}.");
        var (keyUrl, vaultId) = ActiveKey(activeKey, null);
        RefuseFederatedClientId(properties);
        return new Desired(location, ParseTags(body) ?? [], system, userAssigned, ParseEncryptionType(properties["encryptionType"]) ?? EncryptionTypes.CustomerKey,
            keyUrl!, vaultId, Rotation(properties));
    }

    public static Desired FromPatch(JsonObject body, EncryptionSetRecord existing)
    {
        ArgumentNullException.ThrowIfNull(body);
        ArgumentNullException.ThrowIfNull(existing);
        var properties = Properties(body);
        var (system, userAssigned) = body["identity"] is { } identity
            ? Identity(identity, existing)
            : (existing.SystemAssigned, existing.UserAssignedIdentityIds);
        var keyUrl = existing.ActiveKeyUrl;
        string? vaultId = existing.SourceVaultId;
        if (properties["activeKey"] is JsonObject activeKey)
        {
            var (url, vault) = ActiveKey(activeKey, existing);
            keyUrl = url ?? existing.ActiveKeyUrl;
            // A new key URL without a vault: the vault is found again from the URL.
            vaultId = vault ?? (url is null ? existing.SourceVaultId : null);
        }

        RefuseFederatedClientId(properties);
        var location = body["location"] is JsonValue ? VaultRules.RequiredLocation(body) : VaultRules.NormalizeLocation(existing.Location);
        return new Desired(location, ParseTags(body) ?? existing.Tags, system, userAssigned,
            ParseEncryptionType(properties["encryptionType"]) ?? existing.EncryptionType,
            keyUrl, vaultId, Rotation(properties) ?? existing.RotationToLatestKeyVersionEnabled);
    }

    private static JsonObject Properties(JsonObject body) => body["properties"] switch
    {
        null => [],
        JsonObject properties => properties,
        _ => throw new ArmException(400, EncryptionSetErrors.InvalidRequestContent, "properties must be a JSON object."),
    };

    private static JsonObject? ParseTags(JsonObject body)
    {
        var tags = VaultRules.Tags(body);
        return tags is null ? null : JsonNode.Parse(tags.ToJsonString())!.AsObject();
    }

    private static string? ParseEncryptionType(JsonNode? node)
    {
        if (node is null)
        {
            return null;
        }

        var value = node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
        if (string.Equals(value, ConfidentialVmEncryptedWithCustomerKey, StringComparison.OrdinalIgnoreCase))
        {
            throw new ArmException(400, EncryptionSetErrors.EncryptionTypeNotSupported,
                $"encryptionType '{ConfidentialVmEncryptedWithCustomerKey}' is not supported: there are no confidential VMs here. " +
                $"Use '{EncryptionTypes.CustomerKey}' or '{EncryptionTypes.PlatformAndCustomerKeys}'.");
        }

        foreach (var known in new[] { EncryptionTypes.CustomerKey, EncryptionTypes.PlatformAndCustomerKeys })
        {
            if (string.Equals(value, known, StringComparison.OrdinalIgnoreCase))
            {
                return known;
            }
        }

        throw new ArmException(400, EncryptionSetErrors.InvalidParameter,
            $"properties.encryptionType '{value ?? node.ToJsonString()}' is not valid: use '{EncryptionTypes.CustomerKey}' or '{EncryptionTypes.PlatformAndCustomerKeys}'.");
    }

    private static bool? Rotation(JsonObject properties) => properties["rotationToLatestKeyVersionEnabled"] switch
    {
        null => null,
        JsonValue v when v.TryGetValue<bool>(out var b) => b,
        _ => throw new ArmException(400, EncryptionSetErrors.InvalidParameter, "properties.rotationToLatestKeyVersionEnabled must be true or false."),
    };

    private static void RefuseFederatedClientId(JsonObject properties)
    {
        if (properties["federatedClientId"] is JsonValue v && v.TryGetValue<string>(out var s) && s.Length > 0 && s != "None")
        {
            throw new ArmException(400, EncryptionSetErrors.FederatedClientIdNotSupported,
                "properties.federatedClientId (keys in another tenant through a federated application) is not supported; use a vault of the set's own tenant.");
        }
    }

    /// <summary>keyUrl (required on PUT) and sourceVault.id (optional) of activeKey.</summary>
    private static (string? KeyUrl, string? SourceVaultId) ActiveKey(JsonObject activeKey, EncryptionSetRecord? existing)
    {
        var keyUrl = activeKey["keyUrl"] is JsonValue k && k.TryGetValue<string>(out var u) && u.Length > 0 ? u : null;
        if (keyUrl is null && existing is null)
        {
            throw new ArmException(400, EncryptionSetErrors.InvalidParameter,
                "properties.activeKey.keyUrl is required: the URL of a key (https://{vault}/keys/{name}) or of one of its versions.");
        }

        string? vaultId = null;
        if (activeKey["sourceVault"] is JsonObject sourceVault)
        {
            vaultId = sourceVault["id"] is JsonValue id && id.TryGetValue<string>(out var s) && s.Length > 0 ? s : null;
        }
        else if (activeKey["sourceVault"] is not null)
        {
            throw new ArmException(400, EncryptionSetErrors.InvalidParameter, "properties.activeKey.sourceVault must be an object {\"id\": \"<vault id>\"}.");
        }

        return (keyUrl, vaultId);
    }

    /// <summary>identity.type and identity.userAssignedIdentities; on PATCH a null entry removes that identity.</summary>
    private static (bool SystemAssigned, IReadOnlyList<string> UserAssigned) Identity(JsonNode? node, EncryptionSetRecord? existing)
    {
        if (node is null)
        {
            throw new ArmException(400, EncryptionSetErrors.IdentityRequired,
                "identity is required: a disk encryption set reaches its key as a managed identity. Set identity.type to 'SystemAssigned', 'UserAssigned' (with identity.userAssignedIdentities) or 'SystemAssigned, UserAssigned'.");
        }

        if (node is not JsonObject identity || identity["type"] is not JsonValue typeValue || !typeValue.TryGetValue<string>(out var type))
        {
            throw new ArmException(400, EncryptionSetErrors.InvalidParameter, "identity must be an object with a string 'type'.");
        }

        var system = false;
        var user = false;
        foreach (var part in type.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (part.Equals("SystemAssigned", StringComparison.OrdinalIgnoreCase))
            {
                system = true;
            }
            else if (part.Equals("UserAssigned", StringComparison.OrdinalIgnoreCase))
            {
                user = true;
            }
            else if (!part.Equals("None", StringComparison.OrdinalIgnoreCase))
            {
                throw new ArmException(400, EncryptionSetErrors.InvalidParameter,
                    $"identity.type '{type}' is not valid: use 'SystemAssigned', 'UserAssigned', 'SystemAssigned, UserAssigned' or 'None'.");
            }
        }

        var ids = new List<string>(user && existing is not null ? existing.UserAssignedIdentityIds : []);
        if (identity["userAssignedIdentities"] is JsonObject map)
        {
            foreach (var (rawId, value) in map)
            {
                if (!ResourceId.TryParse(rawId, out var parsed) || !string.Equals(parsed.ResourceType, DiskEncryptionSetsType.UserAssignedIdentityType, StringComparison.OrdinalIgnoreCase)
                    || parsed.ResourceGroup is null)
                {
                    throw new ArmException(400, EncryptionSetErrors.InvalidParameter,
                        $"'{rawId}' in identity.userAssignedIdentities is not a user-assigned identity id (/subscriptions/{{sub}}/resourceGroups/{{group}}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{{name}}).");
                }

                var canonical = parsed.ToString();
                ids.RemoveAll(i => string.Equals(i, canonical, StringComparison.OrdinalIgnoreCase));
                if (value is not null)
                {
                    ids.Add(canonical);
                }
            }
        }
        else if (identity["userAssignedIdentities"] is not null)
        {
            throw new ArmException(400, EncryptionSetErrors.InvalidParameter, "identity.userAssignedIdentities must be an object {\"<identity id>\": {}}.");
        }

        if (user && ids.Count == 0)
        {
            throw new ArmException(400, EncryptionSetErrors.IdentityRequired,
                "identity.type includes 'UserAssigned' but identity.userAssignedIdentities names no identity: add {\"<user-assigned identity id>\": {}}.");
        }

        if (!user && ids.Count > 0 && identity["userAssignedIdentities"] is JsonObject { Count: > 0 })
        {
            throw new ArmException(400, EncryptionSetErrors.InvalidParameter,
                $"identity.userAssignedIdentities is given but identity.type '{type}' does not include 'UserAssigned'.");
        }

        return (system, user ? ids : []);
    }
}
