// One vault as stored: where it lives, its normalised properties (the user-settable ones, in their
// canonical JSON spelling) and, once soft-deleted, when it was deleted and when it will be purged.
// Invariant: Properties has passed VaultRules (tenantId, sku, retention 7–90, soft delete true, valid
// access policies); vaultUri and provisioningState are never stored, they are derived.
using System.Text.Json.Nodes;

namespace Ironclad.ResourceManager.KeyVault;

/// <summary>A vault (active when <see cref="DeletedAt"/> is null, soft-deleted otherwise).</summary>
/// <param name="Version">Optimistic-concurrency counter: a replace succeeds only over this version.</param>
public sealed record VaultRecord(
    string Name,
    Guid SubscriptionId,
    string ResourceGroup,
    string Location,
    JsonObject Tags,
    JsonObject Properties,
    int Port,
    DateTimeOffset CreatedAt,
    string CreatedBy,
    DateTimeOffset UpdatedAt,
    string UpdatedBy,
    DateTimeOffset? DeletedAt,
    DateTimeOffset? ScheduledPurgeDate,
    long Version)
{
    public bool IsDeleted => DeletedAt is not null;

    /// <summary>The canonical ARM id of the (active) vault.</summary>
    public string Id => VaultIds.VaultId(SubscriptionId, ResourceGroup, Name);

    /// <summary>The data-plane origin: one loopback port per vault, kept until purge.</summary>
    public Uri VaultUri => new($"https://127.0.0.1:{Port}/");

    public Guid TenantId => Guid.Parse((string)Properties[VaultRules.TenantId]!);

    public string SkuName => (string)Properties[VaultRules.Sku]![VaultRules.SkuName]!;

    public bool EnableRbacAuthorization => (bool)Properties[VaultRules.EnableRbacAuthorization]!;

    public bool EnablePurgeProtection => (bool)Properties[VaultRules.EnablePurgeProtection]!;

    public int SoftDeleteRetentionInDays => (int)Properties[VaultRules.SoftDeleteRetentionInDays]!;

    public bool EnabledForDiskEncryption => (bool)Properties[VaultRules.EnabledForDiskEncryption]!;

    /// <summary>The access policies, as the data plane evaluates them (permission names lower-cased).</summary>
    public IReadOnlyList<VaultAccessPolicy> AccessPolicies =>
        [.. ((JsonArray)Properties[VaultRules.AccessPolicies]!).Select(node => VaultAccessPolicy.FromJson((JsonObject)node!))];
}

/// <summary>One access policy entry: who (tenant, object, optional compound application) may do what.</summary>
public sealed record VaultAccessPolicy(
    Guid TenantId,
    string ObjectId,
    Guid? ApplicationId,
    IReadOnlySet<string> Keys,
    IReadOnlySet<string> Secrets,
    IReadOnlySet<string> Certificates,
    IReadOnlySet<string> Storage)
{
    internal static VaultAccessPolicy FromJson(JsonObject entry)
    {
        var permissions = (JsonObject)entry["permissions"]!;
        return new VaultAccessPolicy(
            Guid.Parse((string)entry["tenantId"]!),
            (string)entry["objectId"]!,
            entry["applicationId"] is JsonValue app ? Guid.Parse((string)app!) : null,
            Set(permissions["keys"]),
            Set(permissions["secrets"]),
            Set(permissions["certificates"]),
            Set(permissions["storage"]));

        static HashSet<string> Set(JsonNode? list) =>
            list is JsonArray array
                ? array.Select(p => ((string)p!).ToLowerInvariant()).ToHashSet(StringComparer.Ordinal)
                : [];
    }
}
