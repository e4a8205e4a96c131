// The Microsoft.KeyVault resource provider: vaults (PUT/PATCH/GET/DELETE, lists), access policy
// add/replace/remove, deleted vaults (list, get, purge), recovery (PUT with createMode "recover") and
// checkNameAvailability. Invariants: a vault is never hard-deleted except by purge — DELETE always
// soft-deletes; a soft-deleted vault keeps its name and port until purged; purge is refused while
// purge protection holds and the retention has not passed, and a vault is purged automatically once
// its scheduled purge date passes (on the next access, or by the host's sweep); a rejected request
// changes nothing; events are published only after the change is committed.
using System.Globalization;
using System.Text.Json.Nodes;
using Ironclad.Identity;
using Ironclad.ResourceManager.Providers;

namespace Ironclad.ResourceManager.KeyVault;

public sealed class VaultsProvider : IResourceProvider, IVaultDirectory
{
    public const string Namespace = "Microsoft.KeyVault";

    /// <summary>Page size of list operations when the client sends no $top.</summary>
    public const int PageSizeDefault = 100;

    /// <summary>How many times a read-modify-write is retried when a concurrent request changed the vault in between.</summary>
    private const int ConcurrencyRetriesMax = 16;

    private readonly IVaultStore _store;
    private readonly VaultPortRange _ports;
    private readonly TimeProvider _time;
    private readonly VaultEventHub _events;

    public VaultsProvider(IVaultStore store, VaultPortRange ports, TimeProvider time, VaultEventHub events)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(ports);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(events);
        _store = store;
        _ports = ports;
        _time = time;
        _events = events;
    }

    public string ProviderNamespace => Namespace;

    public VaultPortRange Ports => _ports;

    private enum RouteKind
    {
        VaultCollection,
        Vault,
        AccessPolicies,
        DeletedVaultCollection,
        DeletedVault,
        PurgeDeletedVault,
        CheckNameAvailability,
    }

    private sealed record Route(RouteKind Kind, string Action, string? Name = null, string? Location = null, string? PolicyKind = null);

    public string RequiredAction(ProviderRequest request) => Resolve(request).Action;

    public ProviderResult Handle(ProviderRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var route = Resolve(request);
        PurgeExpired();
        return route.Kind switch
        {
            RouteKind.VaultCollection => ListVaults(request),
            RouteKind.Vault => request.Method switch
            {
                "GET" => new ProviderResult(200, Render(FindActive(request, route.Name!))),
                "PUT" => PutVault(request, route.Name!),
                "PATCH" => PatchVault(request, route.Name!),
                _ => DeleteVault(request, route.Name!),
            },
            RouteKind.AccessPolicies => UpdateAccessPolicies(request, route.Name!, route.PolicyKind!),
            RouteKind.DeletedVaultCollection => ListDeletedVaults(request),
            RouteKind.DeletedVault => new ProviderResult(200, RenderDeleted(FindDeleted(request, route.Location!, route.Name!))),
            RouteKind.PurgeDeletedVault => PurgeDeletedVault(request, route.Location!, route.Name!),
            _ => CheckNameAvailability(request),
        };
    }

    public IReadOnlyList<JsonObject> List(Guid subscriptionId, string? resourceGroup, string resourceType)
    {
        if (!string.Equals(resourceType, VaultIds.VaultType, StringComparison.OrdinalIgnoreCase))
        {
            return [];
        }

        PurgeExpired();
        return [.. _store.List(subscriptionId, resourceGroup, deleted: false).Select(Render)];
    }

    public void DeleteResourceGroupContents(Guid subscriptionId, string resourceGroup, CallerIdentity caller)
    {
        ArgumentNullException.ThrowIfNull(caller);
        PurgeExpired();
        foreach (var vault in _store.List(subscriptionId, resourceGroup, deleted: false))
        {
            SoftDelete(vault.Name, subscriptionId, resourceGroup, caller);
        }
    }

    /// <summary>Purges every soft-deleted vault whose scheduled purge date has passed; returns how many.</summary>
    public int PurgeExpired()
    {
        var now = _time.GetUtcNow();
        var purged = _store.PurgeExpired(now);
        foreach (var vault in purged)
        {
            _events.Publish(new VaultEvent(VaultEventKind.Purged, vault, now));
        }

        return purged.Count;
    }

    public VaultRecord? FindByPort(int port)
    {
        PurgeExpired();
        return _store.FindByPort(port);
    }

    public VaultRecord? FindByName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        PurgeExpired();
        return _store.Find(name);
    }

    public IReadOnlyList<VaultRecord> ListAll()
    {
        PurgeExpired();
        return [.. _store.List(null, null, deleted: false), .. _store.List(null, null, deleted: true)];
    }

    // ── Routing ─────────────────────────────────────────────────────────────────────────────

    private static Route Resolve(ProviderRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var path = request.ProviderPath;
        var inGroup = request.ResourceGroup is not null;
        var method = request.Method;

        if (Is(path, 1, "vaults"))
        {
            RequireMethod(method, "GET");
            return new Route(RouteKind.VaultCollection, "Microsoft.KeyVault/vaults/read");
        }

        if (Is(path, 2, "vaults") && inGroup)
        {
            var action = method switch
            {
                "GET" => "Microsoft.KeyVault/vaults/read",
                "PUT" or "PATCH" => "Microsoft.KeyVault/vaults/write",
                "DELETE" => "Microsoft.KeyVault/vaults/delete",
                _ => throw MethodNotAllowed(method),
            };
            return new Route(RouteKind.Vault, action, Name: path[1]);
        }

        if (Is(path, 4, "vaults") && inGroup && string.Equals(path[2], "accessPolicies", StringComparison.OrdinalIgnoreCase))
        {
            RequireMethod(method, "PUT");
            var kind = path[3].ToLowerInvariant();
            if (kind is not ("add" or "replace" or "remove"))
            {
                throw new ArmException(400, "BadRequest", $"The access policy update kind '{path[3]}' is invalid: it must be 'add', 'replace' or 'remove'.");
            }

            return new Route(RouteKind.AccessPolicies, "Microsoft.KeyVault/vaults/accessPolicies/write", Name: path[1], PolicyKind: kind);
        }

        if (!inGroup && Is(path, 1, "deletedVaults"))
        {
            RequireMethod(method, "GET");
            return new Route(RouteKind.DeletedVaultCollection, "Microsoft.KeyVault/deletedVaults/read");
        }

        if (!inGroup && Is(path, 4, "locations") && string.Equals(path[2], "deletedVaults", StringComparison.OrdinalIgnoreCase))
        {
            RequireMethod(method, "GET");
            return new Route(RouteKind.DeletedVault, "Microsoft.KeyVault/locations/deletedVaults/read", Name: path[3], Location: path[1]);
        }

        if (!inGroup && Is(path, 5, "locations") && string.Equals(path[2], "deletedVaults", StringComparison.OrdinalIgnoreCase)
            && string.Equals(path[4], "purge", StringComparison.OrdinalIgnoreCase))
        {
            RequireMethod(method, "POST");
            return new Route(RouteKind.PurgeDeletedVault, "Microsoft.KeyVault/locations/deletedVaults/purge/action", Name: path[3], Location: path[1]);
        }

        if (!inGroup && Is(path, 1, "checkNameAvailability"))
        {
            RequireMethod(method, "POST");
            return new Route(RouteKind.CheckNameAvailability, "Microsoft.KeyVault/checkNameAvailability/read");
        }

        throw new ArmException(404, "InvalidResourceType",
            $"The resource type '{string.Join('/', path)}' could not be found in the namespace '{Namespace}'{(inGroup ? " under a resource group" : " at subscription level")}.");
    }

    private static bool Is(IReadOnlyList<string> path, int count, string first) =>
        path.Count == count && string.Equals(path[0], first, StringComparison.OrdinalIgnoreCase);

    private static void RequireMethod(string method, string expected)
    {
        if (method != expected)
        {
            throw MethodNotAllowed(method);
        }
    }

    private static ArmException MethodNotAllowed(string method) =>
        new(405, "MethodNotAllowed", $"The HTTP method '{method}' is not supported for this resource.");

    // ── Vaults ──────────────────────────────────────────────────────────────────────────────

    private ProviderResult PutVault(ProviderRequest request, string name)
    {
        VaultRules.ValidateName(name);
        var body = VaultRules.ParseBody(request.Body);
        if (VaultRules.IsRecover(body))
        {
            return Recover(request, name);
        }

        var location = VaultRules.RequiredLocation(body);
        var tags = VaultRules.Tags(body) ?? [];
        var resourceGroup = request.ResourceGroup!;
        for (var attempt = 0; attempt < ConcurrencyRetriesMax; attempt++)
        {
            var existing = _store.Find(name);
            var now = _time.GetUtcNow();
            var by = Who(request.Caller);
            if (existing is null)
            {
                var properties = VaultRules.ForPut(body, existing: null);
                var draft = new VaultRecord(name, request.SubscriptionId, resourceGroup, location, tags, properties,
                    Port: 0, now, by, now, by, DeletedAt: null, ScheduledPurgeDate: null, Version: 0);
                VaultRecord created;
                try
                {
                    created = _store.Create(draft, _ports);
                }
                catch (VaultNameTakenException)
                {
                    // Another request created this name between our read and our insert: it won.
                    throw AlreadyExists(name);
                }
                catch (VaultPortsExhaustedException)
                {
                    throw new ArmException(409, "VaultPortsExhausted",
                        $"Every port of the vault port range {_ports} is held by a vault (active or soft-deleted). " +
                        "Purge deleted vaults or widen the range (--vault-ports) to create more vaults.");
                }

                _events.Publish(new VaultEvent(VaultEventKind.Created, created, now));
                return new ProviderResult(201, Render(created));
            }

            EnsureOwnedHere(existing, request, name);
            if (!string.Equals(existing.Location, location, StringComparison.Ordinal))
            {
                throw new ArmException(400, "InvalidResourceLocation",
                    $"The resource '{name}' already exists in location '{existing.Location}' in resource group '{existing.ResourceGroup}'. " +
                    $"A resource with the same name cannot be created in location '{location}'.");
            }

            var replaced = existing with
            {
                Tags = tags,
                Properties = VaultRules.ForPut(body, existing),
                UpdatedAt = now,
                UpdatedBy = by,
            };
            if (_store.TryReplace(replaced) is { } stored)
            {
                _events.Publish(new VaultEvent(VaultEventKind.Updated, stored, now, existing));
                return new ProviderResult(200, Render(stored));
            }
        }

        throw ConcurrentChange(name);
    }

    private ProviderResult Recover(ProviderRequest request, string name)
    {
        for (var attempt = 0; attempt < ConcurrencyRetriesMax; attempt++)
        {
            var existing = _store.Find(name);
            if (existing is null || existing.SubscriptionId != request.SubscriptionId)
            {
                throw new ArmException(404, "ResourceNotFound",
                    $"No deleted vault named '{name}' exists in subscription '{request.SubscriptionId:D}' to recover (createMode 'recover').");
            }

            if (!existing.IsDeleted)
            {
                // Recovering a vault that is already active (e.g. a retried request) changes nothing.
                EnsureOwnedHere(existing, request, name);
                return new ProviderResult(200, Render(existing));
            }

            var now = _time.GetUtcNow();
            var recovered = existing with
            {
                ResourceGroup = request.ResourceGroup!,
                DeletedAt = null,
                ScheduledPurgeDate = null,
                UpdatedAt = now,
                UpdatedBy = Who(request.Caller),
            };
            if (_store.TryReplace(recovered) is { } stored)
            {
                _events.Publish(new VaultEvent(VaultEventKind.Recovered, stored, now));
                return new ProviderResult(200, Render(stored));
            }
        }

        throw ConcurrentChange(name);
    }

    private ProviderResult PatchVault(ProviderRequest request, string name)
    {
        var body = VaultRules.ParseBody(request.Body);
        for (var attempt = 0; attempt < ConcurrencyRetriesMax; attempt++)
        {
            var existing = FindActive(request, name);
            var now = _time.GetUtcNow();
            var patched = existing with
            {
                Tags = VaultRules.Tags(body) ?? existing.Tags,
                Properties = VaultRules.ForPatch(body, existing),
                UpdatedAt = now,
                UpdatedBy = Who(request.Caller),
            };
            if (_store.TryReplace(patched) is { } stored)
            {
                _events.Publish(new VaultEvent(VaultEventKind.Updated, stored, now, existing));
                return new ProviderResult(200, Render(stored));
            }
        }

        throw ConcurrentChange(name);
    }

    private ProviderResult DeleteVault(ProviderRequest request, string name) =>
        SoftDelete(name, request.SubscriptionId, request.ResourceGroup!, request.Caller)
            ? new ProviderResult(200, null)
            : new ProviderResult(204, null);

    /// <summary>Soft-deletes the active vault <paramref name="name"/> of that group; false if there is none.</summary>
    private bool SoftDelete(string name, Guid subscriptionId, string resourceGroup, CallerIdentity caller)
    {
        for (var attempt = 0; attempt < ConcurrencyRetriesMax; attempt++)
        {
            var existing = _store.Find(name);
            if (existing is null || existing.IsDeleted || !IsIn(existing, subscriptionId, resourceGroup))
            {
                return false;
            }

            var now = _time.GetUtcNow();
            var deleted = existing with
            {
                DeletedAt = now,
                ScheduledPurgeDate = now.AddDays(existing.SoftDeleteRetentionInDays),
                UpdatedAt = now,
                UpdatedBy = Who(caller),
            };
            if (_store.TryReplace(deleted) is { } stored)
            {
                _events.Publish(new VaultEvent(VaultEventKind.Deleted, stored, now));
                return true;
            }
        }

        throw ConcurrentChange(name);
    }

    private ProviderResult ListVaults(ProviderRequest request)
    {
        var vaults = _store.List(request.SubscriptionId, request.ResourceGroup, deleted: false);
        var path = request.ResourceGroup is { } rg
            ? $"subscriptions/{request.SubscriptionId:D}/resourceGroups/{rg}/providers/{Namespace}/vaults"
            : $"subscriptions/{request.SubscriptionId:D}/providers/{Namespace}/vaults";
        return new ProviderResult(200, Page(request, vaults, Render, path));
    }

    // ── Access policies ─────────────────────────────────────────────────────────────────────

    private ProviderResult UpdateAccessPolicies(ProviderRequest request, string name, string kind)
    {
        var body = VaultRules.ParseBody(request.Body);
        var given = body["properties"] is JsonObject properties
            ? VaultRules.NormalizeAccessPolicies(properties[VaultRules.AccessPolicies], "properties.accessPolicies", requirePermissions: kind != "remove")
            : throw new ArmException(400, "BadRequest", "The parameter 'properties.accessPolicies' is required.");
        for (var attempt = 0; attempt < ConcurrencyRetriesMax; attempt++)
        {
            var existing = FindActive(request, name);
            var policies = Apply((JsonArray)existing.Properties[VaultRules.AccessPolicies]!.DeepClone(), given, kind);
            var updatedProperties = (JsonObject)existing.Properties.DeepClone();
            updatedProperties[VaultRules.AccessPolicies] = policies;
            var now = _time.GetUtcNow();
            var updated = existing with { Properties = updatedProperties, UpdatedAt = now, UpdatedBy = Who(request.Caller) };
            if (_store.TryReplace(updated) is { } stored)
            {
                _events.Publish(new VaultEvent(VaultEventKind.AccessPolicyChanged, stored, now, existing));
                return new ProviderResult(200, new JsonObject
                {
                    ["id"] = $"{stored.Id}/accessPolicies/{kind}",
                    ["name"] = kind,
                    ["type"] = VaultIds.AccessPolicyType,
                    ["location"] = stored.Location,
                    ["properties"] = new JsonObject { [VaultRules.AccessPolicies] = stored.Properties[VaultRules.AccessPolicies]!.DeepClone() },
                });
            }
        }

        throw ConcurrentChange(name);
    }

    /// <summary>
    /// add: union of permissions with the entry of the same (tenant, object, application), or a new
    /// entry; replace: the entry's permissions become the given ones (new entry if none); remove: the
    /// given permissions are taken away, and an entry left with none — or named with no permissions
    /// at all — is removed.
    /// </summary>
    private static JsonArray Apply(JsonArray current, JsonArray given, string kind)
    {
        var entries = current.Select(e => (JsonObject)e!.DeepClone()).ToList();
        foreach (var change in given.Select(e => (JsonObject)e!))
        {
            var key = VaultRules.PolicyKey(change);
            var index = entries.FindIndex(e => VaultRules.PolicyKey(e) == key);
            if (kind == "remove")
            {
                if (index < 0)
                {
                    continue;
                }

                var remaining = (JsonObject)entries[index]["permissions"]!;
                var removeAll = ((JsonObject)change["permissions"]!).All(c => ((JsonArray)c.Value!).Count == 0);
                foreach (var (category, list) in (JsonObject)change["permissions"]!)
                {
                    var removed = ((JsonArray)list!).Select(p => (string)p!).ToHashSet(StringComparer.Ordinal);
                    remaining[category] = new JsonArray([.. ((JsonArray)remaining[category]!).Select(p => (string)p!).Where(p => !removed.Contains(p)).Select(p => (JsonNode)p)]);
                }

                if (removeAll || remaining.All(c => ((JsonArray)c.Value!).Count == 0))
                {
                    entries.RemoveAt(index);
                }

                continue;
            }

            if (index < 0)
            {
                entries.Add((JsonObject)change.DeepClone());
            }
            else if (kind == "replace")
            {
                entries[index]["permissions"] = change["permissions"]!.DeepClone();
            }
            else
            {
                var merged = (JsonObject)entries[index]["permissions"]!;
                foreach (var (category, list) in (JsonObject)change["permissions"]!)
                {
                    var target = (JsonArray)merged[category]!;
                    foreach (var permission in ((JsonArray)list!).Select(p => (string)p!))
                    {
                        if (!target.Any(p => (string)p! == permission))
                        {
                            target.Add(permission);
                        }
                    }
                }
            }
        }

        if (entries.Count > VaultRules.AccessPoliciesMax)
        {
            throw new ArmException(400, "BadRequest", $"A vault can have at most {VaultRules.AccessPoliciesMax} access policies; this change would leave {entries.Count}.");
        }

        return [.. entries];
    }

    // ── Deleted vaults ──────────────────────────────────────────────────────────────────────

    private ProviderResult ListDeletedVaults(ProviderRequest request)
    {
        var deleted = _store.List(request.SubscriptionId, null, deleted: true);
        var path = $"subscriptions/{request.SubscriptionId:D}/providers/{Namespace}/deletedVaults";
        return new ProviderResult(200, Page(request, deleted, RenderDeleted, path));
    }

    private VaultRecord FindDeleted(ProviderRequest request, string location, string name)
    {
        var vault = _store.Find(name);
        if (vault is null || !vault.IsDeleted || vault.SubscriptionId != request.SubscriptionId
            || !string.Equals(vault.Location, VaultRules.NormalizeLocation(location), StringComparison.Ordinal))
        {
            throw new ArmException(404, "ResourceNotFound",
                $"The deleted vault '{name}' was not found in location '{location}' of subscription '{request.SubscriptionId:D}'.");
        }

        return vault;
    }

    private ProviderResult PurgeDeletedVault(ProviderRequest request, string location, string name)
    {
        var vault = FindDeleted(request, location, name);
        var now = _time.GetUtcNow();
        if (vault.EnablePurgeProtection && now < vault.ScheduledPurgeDate)
        {
            throw new ArmException(409, "Conflict",
                $"The vault '{vault.Name}' has purge protection enabled and cannot be purged before its scheduled purge date " +
                $"{Format(vault.ScheduledPurgeDate!.Value)} (deleted {Format(vault.DeletedAt!.Value)}, retention {vault.SoftDeleteRetentionInDays} days).");
        }

        if (!_store.TryPurge(vault.Name, vault.Version))
        {
            throw ConcurrentChange(name);
        }

        _events.Publish(new VaultEvent(VaultEventKind.Purged, vault, now));
        return new ProviderResult(200, null);
    }

    // ── checkNameAvailability ───────────────────────────────────────────────────────────────

    private ProviderResult CheckNameAvailability(ProviderRequest request)
    {
        var body = VaultRules.ParseBody(request.Body);
        var name = body["name"] is JsonValue n && n.TryGetValue<string>(out var s) ? s
            : throw new ArmException(400, "BadRequest", "The parameter 'name' is required.");
        var type = body["type"] is JsonValue t && t.TryGetValue<string>(out var ts) ? ts
            : throw new ArmException(400, "BadRequest", "The parameter 'type' is required.");
        if (!string.Equals(type, VaultIds.VaultType, StringComparison.OrdinalIgnoreCase))
        {
            throw new ArmException(400, "BadRequest", $"The type '{type}' is invalid: it must be '{VaultIds.VaultType}'.");
        }

        JsonObject answer;
        if (!VaultRules.IsValidName(name))
        {
            answer = new JsonObject { ["nameAvailable"] = false, ["reason"] = "AccountNameInvalid", ["message"] = VaultRules.NameRuleMessage(name) };
        }
        else if (_store.Find(name) is { } existing)
        {
            answer = new JsonObject
            {
                ["nameAvailable"] = false,
                ["reason"] = "AlreadyExists",
                ["message"] = existing.IsDeleted
                    ? $"The vault name '{name}' is held by a deleted vault in a recoverable state. Recover it, or purge it before reusing the name."
                    : $"The vault name '{name}' is already in use. Vault names are globally unique so it is possible that the name is already taken.",
            };
        }
        else
        {
            answer = new JsonObject { ["nameAvailable"] = true };
        }

        return new ProviderResult(200, answer);
    }

    // ── Helpers ─────────────────────────────────────────────────────────────────────────────

    private VaultRecord FindActive(ProviderRequest request, string name)
    {
        var vault = _store.Find(name);
        return vault is not null && !vault.IsDeleted && IsIn(vault, request.SubscriptionId, request.ResourceGroup!)
            ? vault
            : throw new ArmException(404, "ResourceNotFound",
                $"The Resource '{VaultIds.VaultType}/{name}' under resource group '{request.ResourceGroup}' was not found.");
    }

    private static bool IsIn(VaultRecord vault, Guid subscriptionId, string resourceGroup) =>
        vault.SubscriptionId == subscriptionId && string.Equals(vault.ResourceGroup, resourceGroup, StringComparison.OrdinalIgnoreCase);

    /// <summary>Throws unless <paramref name="existing"/> is an active vault of the request's subscription and resource group.</summary>
    private static void EnsureOwnedHere(VaultRecord existing, ProviderRequest request, string name)
    {
        if (existing.IsDeleted)
        {
            throw new ArmException(409, "ConflictError",
                $"A vault with the same name '{existing.Name}' already exists in deleted state (in a recoverable state until {Format(existing.ScheduledPurgeDate!.Value)}). " +
                "You need to either recover or purge the existing key vault.");
        }

        if (!IsIn(existing, request.SubscriptionId, request.ResourceGroup!))
        {
            throw AlreadyExists(name);
        }
    }

    private static ArmException AlreadyExists(string name) =>
        new(409, "VaultAlreadyExists",
            $"The vault name '{name}' is already in use. Vault names are globally unique so it is possible that the name is already taken. " +
            "If the vault was recently deleted it is in a recoverable state and must be recovered or purged before the name can be reused.");

    private static ArmException ConcurrentChange(string name) =>
        new(409, "Conflict", $"The vault '{name}' was changed by concurrent requests; retry the operation.");

    private static string Who(CallerIdentity caller) => caller.ObjectId.ToString("D");

    private static string Format(DateTimeOffset time) => time.UtcDateTime.ToString("O", CultureInfo.InvariantCulture);

    private static JsonObject Page(ProviderRequest request, IReadOnlyList<VaultRecord> items, Func<VaultRecord, JsonObject> render, string path)
    {
        var top = PageSizeDefault;
        if (QueryValue(request, "$top") is { } topText)
        {
            if (!int.TryParse(topText, NumberStyles.None, CultureInfo.InvariantCulture, out top) || top < 1)
            {
                throw new ArmException(400, "InvalidParameter", $"The value '{topText}' of query parameter '$top' must be a positive integer.");
            }
        }

        var after = QueryValue(request, "$skiptoken")?.ToLowerInvariant();
        var remaining = items.Where(v => after is null || string.CompareOrdinal(v.Name.ToLowerInvariant(), after) > 0).ToList();
        var page = remaining.Take(top).ToList();
        var result = new JsonObject { ["value"] = new JsonArray([.. page.Select(v => (JsonNode)render(v))]) };
        if (remaining.Count > page.Count)
        {
            var baseUri = request.BaseUri.ToString().TrimEnd('/');
            result["nextLink"] = string.Create(CultureInfo.InvariantCulture,
                $"{baseUri}/{path}?api-version={Uri.EscapeDataString(request.ApiVersion)}&$top={top}&$skiptoken={Uri.EscapeDataString(page[^1].Name.ToLowerInvariant())}");
        }

        return result;
    }

    private static string? QueryValue(ProviderRequest request, string key) =>
        request.Query.FirstOrDefault(q => string.Equals(q.Key, key, StringComparison.OrdinalIgnoreCase)).Value;

    /// <summary>The GET body of a vault: stored properties plus the derived vaultUri and provisioningState.</summary>
    public static JsonObject Render(VaultRecord vault)
    {
        ArgumentNullException.ThrowIfNull(vault);
        var properties = (JsonObject)vault.Properties.DeepClone();
        properties["vaultUri"] = vault.VaultUri.ToString();
        properties["provisioningState"] = "Succeeded";
        properties["hsmPoolResourceId"] = null;
        return new JsonObject
        {
            ["id"] = vault.Id,
            ["name"] = vault.Name,
            ["type"] = VaultIds.VaultType,
            ["location"] = vault.Location,
            ["tags"] = vault.Tags.DeepClone(),
            ["systemData"] = new JsonObject
            {
                ["createdBy"] = vault.CreatedBy,
                ["createdAt"] = Format(vault.CreatedAt),
                ["lastModifiedBy"] = vault.UpdatedBy,
                ["lastModifiedAt"] = Format(vault.UpdatedAt),
            },
            ["properties"] = properties,
        };
    }

    /// <summary>The body of a deleted vault (Microsoft.KeyVault/deletedVaults).</summary>
    public static JsonObject RenderDeleted(VaultRecord vault)
    {
        ArgumentNullException.ThrowIfNull(vault);
        return new JsonObject
        {
            ["id"] = VaultIds.DeletedVaultId(vault.SubscriptionId, vault.Location, vault.Name),
            ["name"] = vault.Name,
            ["type"] = VaultIds.DeletedVaultType,
            ["properties"] = new JsonObject
            {
                ["vaultId"] = vault.Id,
                ["location"] = vault.Location,
                ["deletionDate"] = Format(vault.DeletedAt!.Value),
                ["scheduledPurgeDate"] = Format(vault.ScheduledPurgeDate!.Value),
                ["tags"] = vault.Tags.DeepClone(),
                ["purgeProtectionEnabled"] = vault.EnablePurgeProtection,
            },
        };
    }
}
