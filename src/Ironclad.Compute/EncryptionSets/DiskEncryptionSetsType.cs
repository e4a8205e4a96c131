// Microsoft.Compute/diskEncryptionSets: GET, PUT (create/replace), PATCH (merge), DELETE, list by group
// and subscription, GET .../associatedResources; and the IEncryptionSetDirectory the rest of Compute
// reads. Invariants: a set's key passed EncryptionSetKeyValidator before it is stored (a brand-new
// system-assigned identity, which cannot have been granted yet, is stored NotVerified and re-checked
// until granted); the acting identity is the single user-assigned one when exactly one is given, else
// the system-assigned one; a set with users cannot be deleted; a key change re-wraps in the background.
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Ironclad.Compute.Disks;
using Ironclad.Compute.KeyAccess;
using Ironclad.Identity;
using Ironclad.Identity.Store;
using Ironclad.ResourceManager.KeyVault;
using Ironclad.ResourceManager.Providers;
using Ironclad.ResourceManager.Storage;

namespace Ironclad.Compute.EncryptionSets;

public sealed partial class DiskEncryptionSetsType : IComputeResourceType, IEncryptionSetDirectory
{
    public const string Name = "diskEncryptionSets";
    public const string ResourceType = ComputeProvider.Namespace + "/" + Name;
    public const string UserAssignedIdentityType = "Microsoft.ManagedIdentity/userAssignedIdentities";
    public const int PageSize = 100;

    private readonly EncryptionSetStore _store;
    private readonly EncryptionSetKeyValidator _validator;
    private readonly EncryptionSetVerifier _verifier;
    private readonly IdentityProvider _identity;
    private readonly IResourceManagerStore _resourceManager;
    private readonly Func<IDiskDirectory?> _disks;
    private readonly EncryptionSetWorkList _queue;
    private readonly TimeProvider _time;

    internal DiskEncryptionSetsType(
        EncryptionSetStore store,
        EncryptionSetKeyValidator validator,
        EncryptionSetVerifier verifier,
        IdentityProvider identity,
        IResourceManagerStore resourceManager,
        Func<IDiskDirectory?> disks,
        EncryptionSetWorkList queue,
        TimeProvider time)
    {
        _store = store ?? throw new ArgumentNullException(nameof(store));
        _validator = validator ?? throw new ArgumentNullException(nameof(validator));
        _verifier = verifier ?? throw new ArgumentNullException(nameof(verifier));
        _identity = identity ?? throw new ArgumentNullException(nameof(identity));
        _resourceManager = resourceManager ?? throw new ArgumentNullException(nameof(resourceManager));
        _disks = disks ?? throw new ArgumentNullException(nameof(disks));
        _queue = queue ?? throw new ArgumentNullException(nameof(queue));
        _time = time ?? throw new ArgumentNullException(nameof(time));
    }

    public string TypeName => Name;

    public int DeleteOrder => 90;

    public string RequiredAction(ProviderRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var path = request.ProviderPath;
        if (path.Count == 3 && path[2].Equals("associatedResources", StringComparison.OrdinalIgnoreCase))
        {
            return request.Method == "GET"
                ? $"{ResourceType}/read"
                : throw new ArmException(405, EncryptionSetErrors.MethodNotAllowed, $"{request.Method} is not supported on {ResourceType}/associatedResources.");
        }

        if (path.Count is not (1 or 2))
        {
            throw new ArmException(404, "InvalidResourceType", $"The resource type '{string.Join('/', path)}' could not be found in the namespace '{ComputeProvider.Namespace}'.");
        }

        return request.Method switch
        {
            "GET" => $"{ResourceType}/read",
            "PUT" or "PATCH" => $"{ResourceType}/write",
            "DELETE" => $"{ResourceType}/delete",
            _ => throw new ArmException(405, EncryptionSetErrors.MethodNotAllowed, $"{request.Method} is not supported on {ResourceType}."),
        };
    }

    public async Task<ProviderResult> HandleAsync(ProviderRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        RequiredAction(request);
        var path = request.ProviderPath;
        if (path.Count == 1)
        {
            return request.Method == "GET"
                ? new ProviderResult(200, ArmPaging.Page([.. List(request.SubscriptionId, request.ResourceGroup)], ListUri(request), request.Query, PageSize))
                : throw new ArmException(405, EncryptionSetErrors.MethodNotAllowed, $"{request.Method} is not supported on a list of {ResourceType}.");
        }

        var group = request.ResourceGroup ?? throw new ArmException(404, "InvalidResourceType", $"{ResourceType}/{{name}} lives in a resource group.");
        var name = path[1];
        var id = IdOf(request.SubscriptionId, group, name);
        if (path.Count == 3)
        {
            var set = _store.Find(id) ?? throw NotFound(group, name);
            var users = Users(set.Id).Select(u => u.ResourceId).Distinct(StringComparer.OrdinalIgnoreCase).Order(StringComparer.OrdinalIgnoreCase);
            return new ProviderResult(200, ArmPaging.Page([.. users.Select(u => (JsonNode)JsonValue.Create(u))], AssociatedUri(request), request.Query, PageSize));
        }

        switch (request.Method)
        {
            case "GET":
                {
                    var set = _store.Find(id) ?? throw NotFound(group, name);
                    if (!set.IsVerified)
                    {
                        set = await _verifier.ReverifyAsync(set, cancellationToken).ConfigureAwait(false) ?? throw NotFound(group, name);
                    }
                    else if (set.RotationErrorCode is not null)
                    {
                        // A failed rotation or re-wrap is retried now (the caller may just have fixed the vault access), not only at the next check.
                        _queue.Enqueue(set.Id, checkLatestVersion: set.RotationToLatestKeyVersionEnabled);
                    }

                    return new ProviderResult(200, Render(set));
                }

            case "PUT":
                return await PutAsync(request, id, group, name, cancellationToken).ConfigureAwait(false);
            case "PATCH":
                return await PatchAsync(request, id, group, name, cancellationToken).ConfigureAwait(false);
            default:
                return Delete(id) ? new ProviderResult(200, null) : new ProviderResult(204, null);
        }
    }

    public IReadOnlyList<JsonObject> List(Guid subscriptionId, string? resourceGroup) =>
        [.. _store.List(subscriptionId, resourceGroup).Select(Render)];

    public void DeleteResourceGroupContents(Guid subscriptionId, string resourceGroup, CallerIdentity caller)
    {
        foreach (var set in _store.List(subscriptionId, resourceGroup))
        {
            Delete(set.Id);
        }
    }

    public EncryptionSetInfo? Find(string encryptionSetId)
    {
        ArgumentException.ThrowIfNullOrEmpty(encryptionSetId);
        return _store.Find(encryptionSetId) is { } set ? Info(set) : null;
    }

    public IReadOnlyList<EncryptionSetInfo> All() => [.. _store.All().Select(Info)];

    internal static EncryptionSetInfo Info(EncryptionSetRecord set) =>
        new(set.Id, set.SubscriptionId, set.ResourceGroup, set.Name, set.Location, set.EncryptionType,
            KeyReference.Parse(set.ActiveKeyUrl), set.SourceVaultId, set.ActingPrincipalId, set.RotationToLatestKeyVersionEnabled);

    private async Task<ProviderResult> PutAsync(ProviderRequest request, string id, string group, string name, CancellationToken cancellationToken)
    {
        if (!NamePattern().IsMatch(name))
        {
            throw new ArmException(400, EncryptionSetErrors.InvalidResourceName,
                $"The resource name '{name}' is invalid: use 1-80 letters, digits, underscores, periods and hyphens, starting with a letter or digit and not ending with a period.");
        }

        var body = RequireObject(request.Body);
        var existing = _store.Find(id);
        var desired = Desired.FromPut(body);
        return await ApplyAsync(request, id, group, name, existing, desired, cancellationToken).ConfigureAwait(false);
    }

    private async Task<ProviderResult> PatchAsync(ProviderRequest request, string id, string group, string name, CancellationToken cancellationToken)
    {
        var body = RequireObject(request.Body);
        var existing = _store.Find(id) ?? throw NotFound(group, name);
        var desired = Desired.FromPatch(body, existing);
        var result = await ApplyAsync(request, id, group, name, existing, desired, cancellationToken).ConfigureAwait(false);
        return result with { StatusCode = 200 };
    }

    /// <summary>The common path of PUT and PATCH: validate <paramref name="desired"/>, store it, clean up identities, queue re-wraps.</summary>
    private async Task<ProviderResult> ApplyAsync(
        ProviderRequest request, string id, string group, string name, EncryptionSetRecord? existing, Desired desired, CancellationToken cancellationToken)
    {
        if (existing is not null && !string.Equals(VaultRules.NormalizeLocation(existing.Location), desired.Location, StringComparison.Ordinal))
        {
            throw new ArmException(400, EncryptionSetErrors.InvalidResourceLocation,
                $"The disk encryption set '{name}' already exists in location '{existing.Location}'; a resource cannot change its location.");
        }

        var (key, vault) = _validator.ValidateVault(request.SubscriptionId, desired.Location, desired.KeyUrl, desired.SourceVaultId);
        IReadOnlyList<DiskInfo> users = existing is null ? [] : Users(existing.Id);
        if (existing is not null && users.Count > 0 && !string.Equals(existing.EncryptionType, desired.EncryptionType, StringComparison.Ordinal))
        {
            throw new ArmException(409, EncryptionSetErrors.EncryptionTypeChangeNotAllowed,
                $"The disk encryption set '{name}' is used by {Describe(users)}; its encryptionType cannot change from {existing.EncryptionType} to {desired.EncryptionType} while it has users. Create another set instead.");
        }

        var userAssigned = desired.UserAssignedIdentityIds
            .Select(uai => (Id: uai, Principal: _identity.FindManagedIdentity(uai, PrincipalKind.UserAssigned)
                ?? throw new ArmException(400, EncryptionSetErrors.UserAssignedIdentityNotFound,
                    $"The user-assigned identity '{uai}' (identity.userAssignedIdentities) was not found. Create it first (PUT {uai}) or remove it from the set.")))
            .ToList();
        if (!desired.SystemAssigned && userAssigned.Count != 1)
        {
            throw new ArmException(400, EncryptionSetErrors.IdentityRequired,
                userAssigned.Count == 0
                    ? "A disk encryption set needs a managed identity to reach its key: set identity.type to 'SystemAssigned', 'UserAssigned' (with one identity in identity.userAssignedIdentities) or both."
                    : $"identity.userAssignedIdentities names {userAssigned.Count} identities and there is no system-assigned one, so which identity calls the vault is ambiguous: give exactly one user-assigned identity, or add 'SystemAssigned' (it then acts).");
        }

        var tenantId = _resourceManager.GetSubscription(request.SubscriptionId)?.TenantId ?? request.Caller.TenantId;
        var hadSystem = existing is { SystemAssigned: true, SystemPrincipalId: not null };
        ServicePrincipal? system = desired.SystemAssigned ? _identity.EnsureSystemAssignedIdentity(tenantId, id) : null;
        var systemCreatedNow = system is not null && !hadSystem;
        try
        {
            // The acting identity: the user-assigned one when exactly one is given, else the system-assigned one.
            var acting = userAssigned.Count == 1 ? userAssigned[0].Principal.ObjectId : system!.ObjectId;
            var actingIsNew = systemCreatedNow && acting == system!.ObjectId;
            var previousActive = existing is null ? null : KeyReference.Parse(existing.ActiveKeyUrl);
            var keyUnchanged = previousActive is not null && existing is not null
                && previousActive.IsSameKey(key)
                && (key.Version is null || string.Equals(key.Version, previousActive.Version, StringComparison.OrdinalIgnoreCase))
                && string.Equals(existing.SourceVaultId, vault.Id, StringComparison.OrdinalIgnoreCase);
            var unchanged = keyUnchanged && existing!.ActingPrincipalId == acting;
            var keyToCheck = keyUnchanged ? previousActive! : key;

            // A brand-new identity cannot have been granted: the set is stored NotVerified unless it already has users.
            var caller = request.Caller.ObjectId;
            KeyValidation validation;
            if (unchanged)
            {
                // Re-stating the same key and identity never fails (e.g. a tags update): the outcome is reported.
                try
                {
                    validation = await _validator.ValidateKeyAsync(name, acting, false, caller, keyToCheck, vault, allowMissingAccess: true, cancellationToken).ConfigureAwait(false);
                }
                catch (ArmException e)
                {
                    validation = new KeyValidation(keyToCheck, false, e.Message);
                }
            }
            else
            {
                validation = await _validator.ValidateKeyAsync(name, acting, actingIsNew && users.Count == 0, caller, keyToCheck, vault,
                    allowMissingAccess: false, cancellationToken).ConfigureAwait(false);
            }

            var now = _time.GetUtcNow();
            var activeKeyUrl = validation.Key.ToString();
            var activeChanged = existing is not null && !string.Equals(activeKeyUrl, existing.ActiveKeyUrl, StringComparison.OrdinalIgnoreCase);
            var previousKeys = existing?.PreviousKeys.ToList() ?? [];
            if (activeChanged && previousActive is { IsVersioned: true }
                && !previousKeys.Any(p => string.Equals(p.KeyUrl, existing!.ActiveKeyUrl, StringComparison.OrdinalIgnoreCase)))
            {
                previousKeys.Add(new PreviousKey(existing!.ActiveKeyUrl, existing.SourceVaultId));
            }

            previousKeys.RemoveAll(p => string.Equals(p.KeyUrl, activeKeyUrl, StringComparison.OrdinalIgnoreCase));
            var record = new EncryptionSetRecord(
                existing?.Id ?? id,
                request.SubscriptionId,
                existing?.ResourceGroup ?? group,
                existing?.Name ?? name,
                existing?.Location ?? desired.Location,
                desired.Tags,
                desired.SystemAssigned,
                [.. userAssigned.Select(u => u.Id)],
                system?.ObjectId,
                tenantId,
                acting,
                desired.EncryptionType,
                activeKeyUrl,
                vault.Id,
                desired.RotationToLatestKeyVersionEnabled ?? key.Version is null,
                previousKeys,
                activeChanged ? now : existing?.LastKeyRotationTimestamp,
                activeChanged ? null : existing?.RotationErrorCode,
                activeChanged ? null : existing?.RotationErrorMessage,
                validation.Verified ? KeyAccessStates.Verified : KeyAccessStates.NotVerified,
                validation.Message,
                existing?.CreatedAt ?? now,
                existing?.Revision ?? 0);

            var written = existing is null ? _store.TryInsert(record) : _store.TryReplace(record);
            if (!written)
            {
                throw new ArmException(409, EncryptionSetErrors.Conflict,
                    $"The disk encryption set '{name}' was changed by another request meanwhile; read it again and retry.");
            }

            systemCreatedNow = false; // stored: the identity now belongs to the set
            if (hadSystem && !desired.SystemAssigned)
            {
                _identity.DeleteManagedIdentity(existing!.Id, PrincipalKind.SystemAssigned);
            }

            if (activeChanged || validation.Verified != (existing?.IsVerified ?? false) || desired.RotationToLatestKeyVersionEnabled == true)
            {
                _queue.Enqueue(record.Id, checkLatestVersion: record.RotationToLatestKeyVersionEnabled);
            }

            var stored = _store.Find(record.Id) ?? record;
            return new ProviderResult(existing is null ? 201 : 200, Render(stored));
        }
        finally
        {
            if (systemCreatedNow)
            {
                // Validation failed or the write lost a race: the identity made for this request goes again.
                _identity.DeleteManagedIdentity(id, PrincipalKind.SystemAssigned);
            }
        }
    }

    private bool Delete(string id)
    {
        if (_store.Find(id) is not { } set)
        {
            return false;
        }

        var users = Users(set.Id);
        if (users.Count > 0)
        {
            throw new ArmException(409, EncryptionSetErrors.InUse,
                $"The disk encryption set '{set.Name}' is in use by {Describe(users)}. Delete those resources or move them to another set (PATCH their encryption) first.");
        }

        if (!_store.Delete(set.Id))
        {
            return false;
        }

        if (set.SystemAssigned)
        {
            _identity.DeleteManagedIdentity(set.Id, PrincipalKind.SystemAssigned);
        }

        return true;
    }

    private IReadOnlyList<DiskInfo> Users(string setId) => _disks()?.UsingEncryptionSet(setId) ?? [];

    private static string Describe(IReadOnlyList<DiskInfo> users)
    {
        var ids = users.Select(u => u.ResourceId).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        const int Shown = 20;
        var listed = string.Join(", ", ids.Take(Shown));
        return ids.Count > Shown ? $"{ids.Count} resources ({listed}, and {ids.Count - Shown} more)" : $"{ids.Count} resource(s): {listed}";
    }

    private JsonObject Render(EncryptionSetRecord set)
    {
        var identity = new JsonObject { ["type"] = set.IdentityType };
        if (set.SystemAssigned && set.SystemPrincipalId is { } principal)
        {
            identity["principalId"] = principal.ToString("D");
            identity["tenantId"] = set.TenantId.ToString("D");
        }

        if (set.UserAssignedIdentityIds.Count > 0)
        {
            var map = new JsonObject();
            foreach (var uai in set.UserAssignedIdentityIds)
            {
                map[uai] = _identity.FindManagedIdentity(uai, PrincipalKind.UserAssigned) is { } p
                    ? new JsonObject { ["principalId"] = p.ObjectId.ToString("D"), ["clientId"] = p.AppId.ToString("D") }
                    : new JsonObject();
            }

            identity["userAssignedIdentities"] = map;
        }

        var properties = new JsonObject
        {
            ["encryptionType"] = set.EncryptionType,
            ["activeKey"] = KeyJson(set.ActiveKeyUrl, set.SourceVaultId),
            ["previousKeys"] = new JsonArray([.. set.PreviousKeys.Select(p => (JsonNode)KeyJson(p.KeyUrl, p.SourceVaultId))]),
            ["provisioningState"] = "Succeeded",
            ["rotationToLatestKeyVersionEnabled"] = set.RotationToLatestKeyVersionEnabled,
        };
        if (set.LastKeyRotationTimestamp is { } last)
        {
            properties["lastKeyRotationTimestamp"] = last.UtcDateTime.ToString("O", System.Globalization.CultureInfo.InvariantCulture);
        }

        if (set.RotationErrorCode is not null)
        {
            properties["autoKeyRotationError"] = new JsonObject { ["code"] = set.RotationErrorCode, ["message"] = set.RotationErrorMessage };
        }

        // Ironclad's own (documented) addition: whether the identity was seen able to use the key.
        properties["keyAccessStatus"] = set.KeyAccessMessage is null
            ? new JsonObject { ["state"] = set.KeyAccessState }
            : new JsonObject { ["state"] = set.KeyAccessState, ["message"] = set.KeyAccessMessage };

        return new JsonObject
        {
            ["id"] = set.Id,
            ["name"] = set.Name,
            ["type"] = ResourceType,
            ["location"] = set.Location,
            ["tags"] = set.Tags.DeepClone(),
            ["identity"] = identity,
            ["properties"] = properties,
        };

        static JsonObject KeyJson(string keyUrl, string vaultId) =>
            new() { ["sourceVault"] = new JsonObject { ["id"] = vaultId }, ["keyUrl"] = keyUrl };
    }

    private static string IdOf(Guid subscriptionId, string group, string name) =>
        $"/subscriptions/{subscriptionId:D}/resourceGroups/{group}/providers/{ResourceType}/{name}";

    private static Uri ListUri(ProviderRequest request) =>
        new(request.BaseUri, request.ResourceGroup is { } rg
            ? $"subscriptions/{request.SubscriptionId:D}/resourceGroups/{rg}/providers/{ResourceType}"
            : $"subscriptions/{request.SubscriptionId:D}/providers/{ResourceType}");

    private static Uri AssociatedUri(ProviderRequest request) =>
        new(request.BaseUri, $"subscriptions/{request.SubscriptionId:D}/resourceGroups/{request.ResourceGroup}/providers/{ResourceType}/{request.ProviderPath[1]}/associatedResources");

    private static ArmException NotFound(string group, string name) =>
        new(404, EncryptionSetErrors.ResourceNotFound, $"The Resource '{ResourceType}/{name}' under resource group '{group}' was not found.");

    private static JsonObject RequireObject(JsonElement? body) =>
        body is { ValueKind: JsonValueKind.Object } value
            ? JsonNode.Parse(value.GetRawText())!.AsObject()
            : throw new ArmException(400, EncryptionSetErrors.InvalidRequestContent, "The request content was invalid: a JSON object is required.");

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}(?<!\\.)$")]
    private static partial Regex NamePattern();
}
