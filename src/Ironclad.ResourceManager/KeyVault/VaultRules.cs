// The rules of a vault's management-plane properties (api-compat §2.6, the KeyVault REST spec): which
// fields exist, their defaults, what PUT replaces and PATCH merges, and what can never change. Every
// request body passes through here before anything is stored. Invariants: soft delete is always on;
// purge protection, once on, stays on; the retention is fixed at creation; permission names are known
// ones, in the spec's spelling; read-only fields sent back by a client are ignored.
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Ironclad.ResourceManager.Providers;

namespace Ironclad.ResourceManager.KeyVault;

public static partial class VaultRules
{
    public const string TenantId = "tenantId";
    public const string Sku = "sku";
    public const string SkuFamily = "family";
    public const string SkuName = "name";
    public const string AccessPolicies = "accessPolicies";
    public const string EnabledForDeployment = "enabledForDeployment";
    public const string EnabledForDiskEncryption = "enabledForDiskEncryption";
    public const string EnabledForTemplateDeployment = "enabledForTemplateDeployment";
    public const string EnableSoftDelete = "enableSoftDelete";
    public const string SoftDeleteRetentionInDays = "softDeleteRetentionInDays";
    public const string EnableRbacAuthorization = "enableRbacAuthorization";
    public const string EnablePurgeProtection = "enablePurgeProtection";
    public const string NetworkAcls = "networkAcls";
    public const string PublicNetworkAccess = "publicNetworkAccess";
    public const string CreateMode = "createMode";

    public const int RetentionDaysMin = 7;
    public const int RetentionDaysMax = 90;
    public const int RetentionDaysDefault = 90;
    public const int AccessPoliciesMax = 1024;

    private static readonly JsonNodeOptions CaseInsensitive = new() { PropertyNameCaseInsensitive = true };

    /// <summary>Permission names per category, in the REST spec's spelling (the spelling stored and returned).</summary>
    public static readonly IReadOnlyDictionary<string, IReadOnlyList<string>> Permissions = new Dictionary<string, IReadOnlyList<string>>
    {
        ["keys"] = ["all", "encrypt", "decrypt", "wrapKey", "unwrapKey", "sign", "verify", "get", "list", "create", "update", "import", "delete", "backup", "restore", "recover", "purge", "release", "rotate", "getrotationpolicy", "setrotationpolicy"],
        ["secrets"] = ["all", "get", "list", "set", "delete", "backup", "restore", "recover", "purge"],
        ["certificates"] = ["all", "get", "list", "delete", "create", "import", "update", "managecontacts", "getissuers", "listissuers", "setissuers", "deleteissuers", "manageissuers", "recover", "purge", "backup", "restore"],
        ["storage"] = ["all", "get", "list", "delete", "set", "update", "regeneratekey", "recover", "purge", "backup", "restore", "setsas", "listsas", "getsas", "deletesas"],
    };

    // Azure: 3–24 characters, alphanumerics and hyphens, starts with a letter, ends with a letter or
    // digit, no consecutive hyphens.
    [GeneratedRegex("^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$", RegexOptions.CultureInvariant)]
    private static partial Regex NamePattern();

    public static bool IsValidName(string name) => NamePattern().IsMatch(name);

    public static string NameRuleMessage(string name) =>
        $"The vault name '{name}' is invalid. A vault's name must be between 3-24 alphanumeric characters. " +
        "The name must begin with a letter, end with a letter or digit, and not contain consecutive hyphens.";

    public static void ValidateName(string name)
    {
        if (!IsValidName(name))
        {
            throw new ArmException(400, "VaultNameNotValid", NameRuleMessage(name));
        }
    }

    /// <summary>The request body as a JSON object whose property lookups ignore case (ARM matches names case-insensitively).</summary>
    public static JsonObject ParseBody(JsonElement? body, bool required = true)
    {
        if (body is not { ValueKind: not JsonValueKind.Undefined and not JsonValueKind.Null } element)
        {
            return required
                ? throw new ArmException(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized: a JSON object body is required.")
                : new JsonObject(CaseInsensitive);
        }

        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new ArmException(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized: the body must be a JSON object.");
        }

        try
        {
            return JsonObject.Create(element, CaseInsensitive)!;
        }
        catch (ArgumentException e)
        {
            throw new ArmException(400, "InvalidRequestContent", $"The request content was invalid and could not be deserialized: {e.Message}");
        }
    }

    /// <summary>ARM's normal form of a location: lower case, no spaces ("East US" → "eastus").</summary>
    public static string NormalizeLocation(string location) =>
        location.Replace(" ", string.Empty, StringComparison.Ordinal).ToLowerInvariant();

    /// <summary>The location of a PUT body (required).</summary>
    public static string RequiredLocation(JsonObject body) =>
        body["location"] is JsonValue value && value.TryGetValue<string>(out var location) && !string.IsNullOrWhiteSpace(location)
            ? NormalizeLocation(location)
            : throw new ArmException(400, "LocationRequired", "The location property is required for this definition.");

    /// <summary>Tags of a body: a JSON object of strings; null when absent.</summary>
    public static JsonObject? Tags(JsonObject body)
    {
        var node = body["tags"];
        if (node is null)
        {
            return null;
        }

        if (node is not JsonObject tags)
        {
            throw new ArmException(400, "InvalidRequestContent", "The property 'tags' must be an object of string values.");
        }

        var result = new JsonObject();
        foreach (var (key, value) in tags)
        {
            if (value is not JsonValue v || !v.TryGetValue<string>(out var text))
            {
                throw new ArmException(400, "InvalidTagValue", $"The value of tag '{key}' must be a string.");
            }

            result[key] = text;
        }

        return result;
    }

    /// <summary>createMode of a PUT: "default" (also when absent) or "recover".</summary>
    public static bool IsRecover(JsonObject body)
    {
        if (body["properties"] is not JsonObject properties || properties[CreateMode] is null)
        {
            return false;
        }

        var mode = String(properties, CreateMode);
        return mode.ToUpperInvariant() switch
        {
            "DEFAULT" => false,
            "RECOVER" => true,
            _ => throw new ArmException(400, "BadRequest", $"The value '{mode}' of property 'createMode' is invalid: it must be 'default' or 'recover'."),
        };
    }

    /// <summary>
    /// The stored properties after a PUT (full replace): defaults, overlaid by the body; tenantId and sku
    /// required. Over an existing vault, purge protection and the retention carry over when omitted.
    /// </summary>
    public static JsonObject ForPut(JsonObject body, VaultRecord? existing)
    {
        if (body["properties"] is not JsonObject given)
        {
            throw new ArmException(400, "BadRequest", "The parameter 'properties' is required: a vault needs at least 'tenantId' and 'sku'.");
        }

        if (given[TenantId] is null)
        {
            throw new ArmException(400, "BadRequest", "The parameter 'properties.tenantId' is required.");
        }

        if (given[Sku] is null)
        {
            throw new ArmException(400, "BadRequest", "The parameter 'properties.sku' is required.");
        }

        var target = new JsonObject
        {
            [Sku] = null,
            [TenantId] = null,
            [AccessPolicies] = new JsonArray(),
            [EnabledForDeployment] = false,
            [EnabledForDiskEncryption] = false,
            [EnabledForTemplateDeployment] = false,
            [EnableSoftDelete] = true,
            [SoftDeleteRetentionInDays] = existing?.SoftDeleteRetentionInDays ?? RetentionDaysDefault,
            [EnableRbacAuthorization] = false,
            [EnablePurgeProtection] = existing?.EnablePurgeProtection ?? false,
            [PublicNetworkAccess] = "Enabled",
        };
        Apply(target, given, existing);
        return target;
    }

    /// <summary>The stored properties after a PATCH: the existing ones with the supplied fields merged in.</summary>
    public static JsonObject ForPatch(JsonObject body, VaultRecord existing)
    {
        var target = (JsonObject)existing.Properties.DeepClone();
        if (body["properties"] is null)
        {
            return target;
        }

        if (body["properties"] is not JsonObject given)
        {
            throw new ArmException(400, "InvalidRequestContent", "The property 'properties' must be an object.");
        }

        Apply(target, given, existing);
        return target;
    }

    private static void Apply(JsonObject target, JsonObject given, VaultRecord? existing)
    {
        if (given[TenantId] is not null)
        {
            var text = String(given, TenantId);
            target[TenantId] = Guid.TryParse(text, out var tenant)
                ? tenant.ToString("D")
                : throw new ArmException(400, "BadRequest", $"The property 'tenantId' must be a GUID; '{text}' is not.");
        }

        if (given[Sku] is not null)
        {
            target[Sku] = NormalizeSku(given[Sku]);
        }

        if (given[AccessPolicies] is not null)
        {
            target[AccessPolicies] = NormalizeAccessPolicies(given[AccessPolicies], "accessPolicies", requirePermissions: true);
        }

        foreach (var flag in (string[])[EnabledForDeployment, EnabledForDiskEncryption, EnabledForTemplateDeployment, EnableRbacAuthorization])
        {
            if (given[flag] is not null)
            {
                target[flag] = Bool(given, flag);
            }
        }

        if (given[EnableSoftDelete] is not null && !Bool(given, EnableSoftDelete))
        {
            throw new ArmException(400, "BadRequest",
                "The property \"enableSoftDelete\" cannot be set to false. Soft delete is always on in this service (and cannot be disabled in Azure either once enabled).");
        }

        if (given[SoftDeleteRetentionInDays] is not null)
        {
            var days = Int(given, SoftDeleteRetentionInDays);
            if (days is < RetentionDaysMin or > RetentionDaysMax)
            {
                throw new ArmException(400, "BadRequest",
                    $"The property \"softDeleteRetentionInDays\" must be between {RetentionDaysMin} and {RetentionDaysMax} (days); {days} is not.");
            }

            if (existing is not null && existing.SoftDeleteRetentionInDays != days)
            {
                throw new ArmException(400, "BadRequest",
                    $"The property \"softDeleteRetentionInDays\" has been set already ({existing.SoftDeleteRetentionInDays} days) and it can't be modified.");
            }

            target[SoftDeleteRetentionInDays] = days;
        }

        if (given[EnablePurgeProtection] is not null)
        {
            var on = Bool(given, EnablePurgeProtection);
            if (!on && existing is { EnablePurgeProtection: true })
            {
                throw new ArmException(400, "BadRequest",
                    "The property \"enablePurgeProtection\" cannot be set to false. Enabling the purge protection for a vault is an irreversible action.");
            }

            target[EnablePurgeProtection] = on;
        }

        if (given[PublicNetworkAccess] is not null)
        {
            var access = String(given, PublicNetworkAccess);
            target[PublicNetworkAccess] = access.ToUpperInvariant() switch
            {
                "ENABLED" => "Enabled",
                "DISABLED" => "Disabled",
                _ => throw new ArmException(400, "BadRequest", $"The property 'publicNetworkAccess' must be 'Enabled' or 'Disabled'; '{access}' is not."),
            };
        }

        if (given[NetworkAcls] is { } acls)
        {
            target[NetworkAcls] = acls is JsonObject
                ? JsonNode.Parse(acls.ToJsonString())
                : throw new ArmException(400, "BadRequest", "The property 'networkAcls' must be an object.");
        }
    }

    private static JsonObject NormalizeSku(JsonNode? node)
    {
        if (node is not JsonObject sku)
        {
            throw new ArmException(400, "BadRequest", "The property 'sku' must be an object {\"family\":\"A\",\"name\":\"standard|premium\"}.");
        }

        var family = sku[SkuFamily] is null ? "A" : String(sku, SkuFamily, "sku.family");
        if (!string.Equals(family, "A", StringComparison.OrdinalIgnoreCase))
        {
            throw new ArmException(400, "BadRequest", $"The property 'sku.family' must be 'A'; '{family}' is not.");
        }

        if (sku[SkuName] is null)
        {
            throw new ArmException(400, "BadRequest", "The parameter 'properties.sku.name' is required.");
        }

        var name = String(sku, SkuName, "sku.name").ToLowerInvariant();
        return name is "standard" or "premium"
            ? new JsonObject { [SkuFamily] = "A", [SkuName] = name }
            : throw new ArmException(400, "BadRequest", $"The property 'sku.name' must be 'standard' or 'premium'; '{name}' is not.");
    }

    /// <summary>
    /// Validates access policy entries and returns them in canonical form: GUIDs lower-case, permission
    /// names in the spec's spelling (matched case-insensitively), duplicates removed, all four lists present.
    /// </summary>
    public static JsonArray NormalizeAccessPolicies(JsonNode? node, string path, bool requirePermissions)
    {
        if (node is not JsonArray entries)
        {
            throw new ArmException(400, "BadRequest", $"The property '{path}' must be an array.");
        }

        if (entries.Count > AccessPoliciesMax)
        {
            throw new ArmException(400, "BadRequest", $"The property '{path}' has {entries.Count} entries; at most {AccessPoliciesMax} are allowed.");
        }

        var result = new JsonArray();
        for (var i = 0; i < entries.Count; i++)
        {
            var at = string.Create(CultureInfo.InvariantCulture, $"{path}[{i}]");
            if (entries[i] is not JsonObject entry)
            {
                throw new ArmException(400, "BadRequest", $"The entry '{at}' must be an object.");
            }

            var normalized = new JsonObject
            {
                ["tenantId"] = RequiredGuid(entry, "tenantId", at),
                ["objectId"] = RequiredGuid(entry, "objectId", at),
            };
            if (entry["applicationId"] is not null)
            {
                normalized["applicationId"] = RequiredGuid(entry, "applicationId", at);
            }

            if (entry["permissions"] is not JsonObject permissions)
            {
                if (requirePermissions || entry["permissions"] is not null)
                {
                    throw new ArmException(400, "BadRequest", $"The property '{at}.permissions' is required and must be an object.");
                }

                permissions = [];
            }

            var canonical = new JsonObject();
            foreach (var (category, known) in Permissions)
            {
                var list = new JsonArray();
                if (permissions[category] is { } given)
                {
                    if (given is not JsonArray names)
                    {
                        throw new ArmException(400, "BadRequest", $"The property '{at}.permissions.{category}' must be an array of strings.");
                    }

                    foreach (var nameNode in names)
                    {
                        var name = nameNode is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
                        var match = name is null ? null : known.FirstOrDefault(k => string.Equals(k, name, StringComparison.OrdinalIgnoreCase));
                        if (match is null)
                        {
                            throw new ArmException(400, "BadRequest",
                                $"The permission '{name ?? nameNode?.ToJsonString()}' in '{at}.permissions.{category}' is not valid. Valid {category} permissions: {string.Join(", ", known)}.");
                        }

                        if (!list.Any(existing => (string)existing! == match))
                        {
                            list.Add(match);
                        }
                    }
                }

                canonical[category] = list;
            }

            normalized["permissions"] = canonical;
            result.Add(normalized);
        }

        return result;
    }

    /// <summary>The identity of an access policy entry: tenant, object and optional application.</summary>
    public static string PolicyKey(JsonObject entry) =>
        $"{(string)entry["tenantId"]!}|{(string)entry["objectId"]!}|{(string?)entry["applicationId"] ?? string.Empty}";

    private static string RequiredGuid(JsonObject entry, string property, string at)
    {
        if (entry[property] is null)
        {
            throw new ArmException(400, "BadRequest", $"The property '{at}.{property}' is required.");
        }

        var text = String(entry, property, $"{at}.{property}");
        return Guid.TryParse(text, out var guid)
            ? guid.ToString("D")
            : throw new ArmException(400, "BadRequest", $"The property '{at}.{property}' must be a GUID; '{text}' is not.");
    }

    private static string String(JsonObject obj, string property, string? path = null) =>
        obj[property] is JsonValue value && value.TryGetValue<string>(out var text)
            ? text
            : throw new ArmException(400, "BadRequest", $"The property '{path ?? property}' must be a string.");

    private static bool Bool(JsonObject obj, string property) =>
        obj[property] is JsonValue value && value.TryGetValue<bool>(out var flag)
            ? flag
            : throw new ArmException(400, "BadRequest", $"The property '{property}' must be true or false.");

    private static int Int(JsonObject obj, string property) =>
        obj[property] is JsonValue value && value.TryGetValue<int>(out var number)
            ? number
            : throw new ArmException(400, "BadRequest", $"The property '{property}' must be an integer.");
}
