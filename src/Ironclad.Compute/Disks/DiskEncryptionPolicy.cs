// How a disk, snapshot or image disk is encrypted: the `encryption` {type, diskEncryptionSetId} a
// client asks for, checked against the set (exists, same subscription, same region, the caller may
// read it, its type agrees) and turned into the EncryptionPlan the data-key service wraps under.
// Invariant: a plan is built only for a validated encryption, and a vault refusal becomes an ARM
// error that names the key and what is missing — never a token or key bytes.
using System.Text.Json;
using Ironclad.Compute.Access;
using Ironclad.Compute.DataKeys;
using Ironclad.Compute.EncryptionSets;
using Ironclad.Compute.KeyAccess;
using Ironclad.Compute.Platform;
using Ironclad.Identity;
using Ironclad.ResourceManager.Ids;
using Ironclad.ResourceManager.Providers;
using Ironclad.ResourceManager.Rbac;

namespace Ironclad.Compute.Disks;

/// <summary>The encryption a resource has (or will have): the wire type and, for customer keys, the set.</summary>
internal sealed record DiskEncryption(string Type, string? EncryptionSetId)
{
    public static readonly DiskEncryption Platform = new(EncryptionTypes.PlatformKey, null);

    /// <summary>1 for platform-only or customer-only, 2 for platform and customer keys.</summary>
    public int LayerCount => Type == EncryptionTypes.PlatformAndCustomerKeys ? 2 : 1;

    public bool IsSameAs(DiskEncryption other) =>
        other is not null && Type == other.Type && string.Equals(EncryptionSetId, other.EncryptionSetId, StringComparison.OrdinalIgnoreCase);

    public string Describe() => EncryptionSetId is null ? Type : $"{Type} through {EncryptionSetId}";
}

/// <summary>What the request body said about encryption (either part may be absent).</summary>
internal sealed record RequestedEncryption(string? Type, string? EncryptionSetId);

internal sealed class DiskEncryptionPolicy
{
    public const string SetReadAction = "Microsoft.Compute/diskEncryptionSets/read";

    private static readonly string[] KnownTypes = [EncryptionTypes.PlatformKey, EncryptionTypes.CustomerKey, EncryptionTypes.PlatformAndCustomerKeys];

    private readonly Lazy<IEncryptionSetDirectory?> _sets;
    private readonly Lazy<IPlatformKeys> _platform;
    private readonly Authorizer _authorizer;

    /// <param name="sets">Resolved on first use; null when the server has no disk encryption sets.</param>
    /// <param name="platform">Resolved on first use (it creates platform vaults through Resource Manager).</param>
    public DiskEncryptionPolicy(Func<IEncryptionSetDirectory?> sets, Func<IPlatformKeys> platform, Authorizer authorizer)
    {
        ArgumentNullException.ThrowIfNull(sets);
        ArgumentNullException.ThrowIfNull(platform);
        _sets = new Lazy<IEncryptionSetDirectory?>(sets);
        _platform = new Lazy<IPlatformKeys>(platform);
        _authorizer = authorizer ?? throw new ArgumentNullException(nameof(authorizer));
    }

    /// <summary>Reads `encryption` from a properties object (null when absent); `property` names where it came from, for errors.</summary>
    public static RequestedEncryption? Parse(JsonElement? encryption, string property)
    {
        if (encryption is not { } value || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new ArmException(400, "InvalidParameter", $"{property} must be an object {{\"type\", \"diskEncryptionSetId\"}}.");
        }

        var type = JsonBody.OptionalString(value, "type", property);
        var set = JsonBody.OptionalString(value, "diskEncryptionSetId", property);
        return type is null && set is null ? null : new RequestedEncryption(type, set);
    }

    /// <summary>
    /// The encryption a resource of <paramref name="subscriptionId"/> in <paramref name="location"/> gets:
    /// <paramref name="requested"/> when given, else <paramref name="inherited"/> (its source's), else platform keys.
    /// Validates the set (exists, same subscription and region, the caller may read it, type agrees).
    /// </summary>
    public DiskEncryption Resolve(RequestedEncryption? requested, DiskEncryption? inherited, Guid subscriptionId, string location, CallerIdentity caller)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (requested is null)
        {
            if (inherited?.EncryptionSetId is { } inheritedSet)
            {
                // The source's set must still be usable here (same subscription and region, readable).
                RequireSet(inheritedSet, subscriptionId, location, caller);
            }

            return inherited ?? DiskEncryption.Platform;
        }

        var type = requested.Type is null ? null : CanonicalType(requested.Type);
        if (requested.EncryptionSetId is null)
        {
            return type switch
            {
                null or EncryptionTypes.PlatformKey => DiskEncryption.Platform,
                _ => throw new ArmException(400, "InvalidParameter",
                    $"encryption.type '{type}' needs encryption.diskEncryptionSetId: name the disk encryption set whose key wraps the disk's data key."),
            };
        }

        if (type == EncryptionTypes.PlatformKey)
        {
            throw new ArmException(400, "InvalidParameter",
                $"encryption.type '{EncryptionTypes.PlatformKey}' takes no diskEncryptionSetId: drop the set, or use '{EncryptionTypes.CustomerKey}' or '{EncryptionTypes.PlatformAndCustomerKeys}'.");
        }

        var set = RequireSet(requested.EncryptionSetId, subscriptionId, location, caller);
        if (type is not null && type != set.EncryptionType)
        {
            throw new ArmException(400, "InvalidParameter",
                $"encryption.type '{type}' does not match the disk encryption set '{set.Id}', whose encryptionType is '{set.EncryptionType}': use '{set.EncryptionType}' (or omit encryption.type), or name a set of that type.");
        }

        return new DiskEncryption(set.EncryptionType, set.Id);
    }

    /// <summary>The layers a new volume with <paramref name="encryption"/> is wrapped under (platform key of the region created on first use).</summary>
    public async Task<EncryptionPlan> PlanAsync(DiskEncryption encryption, string location, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(encryption);
        var region = Region(location);
        if (encryption.EncryptionSetId is null)
        {
            return new EncryptionPlan(await PlatformTargetAsync(region, cancellationToken), Outer: null);
        }

        var set = FindSet(encryption.EncryptionSetId)
            ?? throw new ArmException(404, "NotFound", $"The disk encryption set '{encryption.EncryptionSetId}' does not exist (any more).");
        return set.IsDoubleEncryption
            ? new EncryptionPlan(set.Target(), await PlatformTargetAsync(region, cancellationToken))
            : new EncryptionPlan(set.Target(), Outer: null);
    }

    /// <summary>The target for re-wrapping the single (or, for double encryption, the inner) layer under <paramref name="encryption"/>.</summary>
    public async Task<KeyEncryptionTarget> InnerTargetAsync(DiskEncryption encryption, string location, CancellationToken cancellationToken) =>
        (await PlanAsync(encryption, location, cancellationToken)).Inner;

    /// <summary>Lower case without spaces: "East US" and "eastus" are one region.</summary>
    public static string Region(string location) => location.Replace(" ", "", StringComparison.Ordinal).ToLowerInvariant();

    public static bool SameRegion(string a, string b) => Region(a) == Region(b);

    /// <summary>403 LinkedAuthorizationFailed unless the caller may do <paramref name="action"/> on <paramref name="resourceId"/>.</summary>
    public void RequireLinkedAction(CallerIdentity caller, string action, string resourceId)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (!ResourceId.TryParse(resourceId, out var scope) || !_authorizer.IsActionAllowed(caller.ObjectId, action, scope))
        {
            throw new ArmException(403, "LinkedAuthorizationFailed",
                $"The client '{caller.ObjectId}' does not have permission to perform action '{action}' on the linked resource '{resourceId}': assign it a role that grants it (e.g. Reader) at that scope.");
        }
    }

    /// <summary>
    /// The ARM error for a vault refusal while wrapping or unwrapping a disk's data key; <paramref name="doing"/> says what
    /// we were doing (and under which encryption); the vault client's message names the identity and the missing permission.
    /// </summary>
    public static ArmException KeyError(KeyAccessException exception, string doing)
    {
        ArgumentNullException.ThrowIfNull(exception);
        // One table of codes for every key refusal of a disk operation (shared with SAS access and revocation).
        var (status, code) = KeyAccessErrors.CodeOf(exception.Failure);
        return new ArmException(status, code,
            $"Could not {doing}: the key {exception.KeyUrl} cannot be used ({exception.Failure}): {exception.Message}");
    }

    private static string CanonicalType(string type) =>
        KnownTypes.FirstOrDefault(t => t.Equals(type, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArmException(400, "InvalidParameter",
            $"encryption.type '{type}' is not supported: use {string.Join(", ", KnownTypes.Select(t => $"'{t}'"))}.");

    private EncryptionSetInfo? FindSet(string id) => _sets.Value?.Find(id);

    private EncryptionSetInfo RequireSet(string encryptionSetId, Guid subscriptionId, string location, CallerIdentity caller)
    {
        if (!ResourceId.TryParse(encryptionSetId, out var parsed)
            || !parsed.ResourceType.Equals("Microsoft.Compute/diskEncryptionSets", StringComparison.OrdinalIgnoreCase))
        {
            throw new ArmException(400, "InvalidParameter",
                $"diskEncryptionSetId '{encryptionSetId}' is not a disk encryption set id (/subscriptions/{{sub}}/resourceGroups/{{rg}}/providers/Microsoft.Compute/diskEncryptionSets/{{name}}).");
        }

        if (parsed.SubscriptionId != subscriptionId)
        {
            throw new ArmException(400, "InvalidParameter",
                $"The disk encryption set '{encryptionSetId}' is in subscription {parsed.SubscriptionId}; a disk must use a set of its own subscription ({subscriptionId}).");
        }

        // Linked authorization first, so a caller without read on the set learns nothing about it.
        RequireLinkedAction(caller, SetReadAction, encryptionSetId);
        var set = FindSet(encryptionSetId)
            ?? throw new ArmException(404, "NotFound", $"The disk encryption set '{encryptionSetId}' was not found: create it first, or check the id.");
        if (!SameRegion(set.Location, location))
        {
            throw new ArmException(400, "InvalidParameter",
                $"The disk encryption set '{set.Id}' is in region '{set.Location}', the resource in '{location}': a set encrypts only resources of its own region.");
        }

        return set;
    }

    private async Task<KeyEncryptionTarget> PlatformTargetAsync(string region, CancellationToken cancellationToken)
    {
        try
        {
            return await _platform.Value.CurrentAsync(region, cancellationToken);
        }
        catch (KeyAccessException e)
        {
            throw KeyError(e, $"get the platform key of region '{region}'");
        }
    }
}
