// Microsoft.Compute/virtualMachineScaleSets: a model (sku, virtualMachineProfile) and sku.capacity
// instances, each a VM with its own disks made, powered and deleted through IVirtualMachineService.
// Invariants: the capacity shown is the number of instances that exist; scale-in removes the highest
// instance ids; a scale-out that fails removes the instances it made (a failed create leaves no set);
// one mutation of a set at a time (create/scale/delete are serialized per set).
using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ironclad.Compute.Disks;
using Ironclad.Compute.EncryptionSets;
using Ironclad.Compute.VirtualMachines;
using Ironclad.Identity;
using Ironclad.ResourceManager.Ids;
using Ironclad.ResourceManager.Providers;
using Ironclad.ResourceManager.Rbac;

namespace Ironclad.Compute.ScaleSets;

public sealed class VirtualMachineScaleSetsResourceType : IComputeResourceType
{
    public const string ScaleSetsTypeName = "virtualMachineScaleSets";
    public const string ResourceType = ComputeProvider.Namespace + "/" + ScaleSetsTypeName;
    public const string InstanceResourceType = ResourceType + "/virtualMachines";
    private const string InstancesSegment = "virtualMachines";

    private static readonly string[] SetActions = ["start", "powerOff", "deallocate", "restart"];
    private static readonly string[] InstanceActions = ["start", "powerOff", "deallocate", "restart", "issueNbdCredentials"];

    private readonly ScaleSetStore _store;
    private readonly Lazy<IVirtualMachineService?> _vms;
    private readonly Lazy<IEncryptionSetDirectory?> _encryptionSets;
    private readonly Authorizer _authorizer;
    private readonly TimeProvider _time;
    private readonly int _pageSize;
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _locks = new(StringComparer.OrdinalIgnoreCase);

    /// <param name="virtualMachines">Called on first use (never while the type is built): the VM service depends on the disk types, which the provider holds.</param>
    public VirtualMachineScaleSetsResourceType(
        Metadata.MetadataDatabase database,
        Func<IVirtualMachineService?> virtualMachines,
        Func<IEncryptionSetDirectory?> encryptionSets,
        Authorizer authorizer,
        TimeProvider time,
        int pageSize)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(virtualMachines);
        ArgumentNullException.ThrowIfNull(encryptionSets);
        ArgumentOutOfRangeException.ThrowIfLessThan(pageSize, 1);
        _store = new ScaleSetStore(database);
        _vms = new Lazy<IVirtualMachineService?>(virtualMachines);
        _encryptionSets = new Lazy<IEncryptionSetDirectory?>(encryptionSets);
        _authorizer = authorizer ?? throw new ArgumentNullException(nameof(authorizer));
        _time = time ?? throw new ArgumentNullException(nameof(time));
        _pageSize = pageSize;
    }

    public string TypeName => ScaleSetsTypeName;

    public int DeleteOrder => 4;

    private IVirtualMachineService Vms => _vms.Value
        ?? throw new ArmException(500, "InternalServerError", "Virtual machines are not available in this server, so scale-set instances cannot be served.");

    public string RequiredAction(ProviderRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var path = request.ProviderPath;
        var method = request.Method;
        return path.Count switch
        {
            1 when method == "GET" => $"{ResourceType}/read",
            2 => method switch
            {
                "GET" => $"{ResourceType}/read",
                "PUT" or "PATCH" => $"{ResourceType}/write",
                "DELETE" => $"{ResourceType}/delete",
                _ => throw MethodNotAllowed(request),
            },
            3 when Is(path[2], InstancesSegment) => method == "GET" ? $"{InstanceResourceType}/read" : throw MethodNotAllowed(request),
            3 when Is(path[2], "instanceView") => method == "GET" ? $"{ResourceType}/instanceView/read" : throw MethodNotAllowed(request),
            3 when Is(path[2], "delete") => method == "POST" ? $"{ResourceType}/delete/action" : throw MethodNotAllowed(request),
            3 when Canonical(path[2], SetActions) is { } action => method == "POST" ? $"{ResourceType}/{action}/action" : throw MethodNotAllowed(request),
            4 when Is(path[2], InstancesSegment) => method switch
            {
                "GET" => $"{InstanceResourceType}/read",
                "DELETE" => $"{InstanceResourceType}/delete",
                "PUT" or "PATCH" => throw new ArmException(405, "MethodNotAllowed",
                    $"{method} on a scale-set instance is not supported here: change the scale set's model (PUT/PATCH the set) and scale instead."),
                _ => throw MethodNotAllowed(request),
            },
            5 when Is(path[2], InstancesSegment) && Is(path[4], "instanceView") =>
                method == "GET" ? $"{InstanceResourceType}/instanceView/read" : throw MethodNotAllowed(request),
            5 when Is(path[2], InstancesSegment) && Canonical(path[4], InstanceActions) is { } action =>
                method == "POST" ? $"{InstanceResourceType}/{action}/action" : throw MethodNotAllowed(request),
            _ => throw new ArmException(404, "InvalidResourceType",
                $"The resource type '{string.Join('/', path)}' could not be found in the namespace '{ComputeProvider.Namespace}'."),
        };
    }

    public async Task<ProviderResult> HandleAsync(ProviderRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var path = request.ProviderPath;
        if (path.Count == 1)
        {
            return new ProviderResult(200, ArmPaging.Page([.. List(request.SubscriptionId, request.ResourceGroup)], ListUri(request), request.Query, _pageSize));
        }

        var group = request.ResourceGroup ?? throw new ArmException(404, "InvalidResourceType", $"{ResourceType}/{{name}} lives in a resource group.");
        var name = path[1];
        var id = $"/subscriptions/{request.SubscriptionId}/resourceGroups/{group}/providers/{ResourceType}/{name}";
        if (path.Count == 2)
        {
            switch (request.Method)
            {
                case "PUT":
                    return await PutAsync(request, group, name, id, JsonBody.RequireObject(request.Body), isPatch: false, cancellationToken);
                case "PATCH":
                    {
                        var existing = RequireExisting(id, group, name);
                        var merged = ScaleSetModel.MergePatch(ScaleSetModel.ToBody(existing, InstanceIdsOf(existing.Id).Count), JsonNode.Parse(JsonBody.RequireObject(request.Body).GetRawText()));
                        using var document = JsonDocument.Parse(merged!.ToJsonString());
                        return await PutAsync(request, group, name, id, document.RootElement.Clone(), isPatch: true, cancellationToken);
                    }

                case "GET":
                    return new ProviderResult(200, Render(RequireExisting(id, group, name)));
                case "DELETE":
                    return await DeleteSetAsync(id, request.Caller, cancellationToken) ? new ProviderResult(200, null) : new ProviderResult(204, null);
                default:
                    throw MethodNotAllowed(request);
            }
        }

        var set = RequireExisting(id, group, name);
        if (path.Count == 3)
        {
            if (Is(path[2], InstancesSegment))
            {
                var expand = WantsInstanceView(request);
                var instances = InstanceIdsOf(set.Id).Select(i => RenderInstance(set, i.ToString(CultureInfo.InvariantCulture), expand)).OfType<JsonNode>().ToList();
                return new ProviderResult(200, ArmPaging.Page(instances, new Uri(request.BaseUri, $"{set.Id.TrimStart('/')}/{InstancesSegment}"), request.Query, _pageSize));
            }

            if (Is(path[2], "instanceView"))
            {
                return new ProviderResult(200, RenderSetInstanceView(set));
            }

            if (Is(path[2], "delete"))
            {
                await DeleteInstancesAsync(set, request, cancellationToken);
                return new ProviderResult(200, null);
            }

            var action = PowerActionOf(path[2]);
            await PowerInstancesAsync(set, action, SelectInstances(set, request.Body, required: false), cancellationToken);
            return new ProviderResult(200, null);
        }

        var instanceId = path[3];
        var vmId = InstanceVmId(set, instanceId);
        if (path.Count == 4 && request.Method == "DELETE")
        {
            return await WithLockAsync(set.Id, async () =>
                IsInstanceId(instanceId) && await Vms.DeleteAsync(vmId, request.Caller, cancellationToken)
                    ? new ProviderResult(200, null)
                    : new ProviderResult(204, null), cancellationToken);
        }

        if (!IsInstanceId(instanceId) || Vms.Render(vmId, withInstanceView: false) is null)
        {
            throw InstanceNotFound(set, instanceId);
        }

        if (path.Count == 4)
        {
            return new ProviderResult(200, RenderInstance(set, instanceId, WantsInstanceView(request)) ?? throw InstanceNotFound(set, instanceId));
        }

        if (Is(path[4], "instanceView"))
        {
            return new ProviderResult(200, Vms.RenderInstanceView(vmId) ?? throw InstanceNotFound(set, instanceId));
        }

        if (Is(path[4], "issueNbdCredentials"))
        {
            return new ProviderResult(200, await Vms.IssueNbdCredentialsAsync(vmId, request.Body, cancellationToken));
        }

        await Vms.PowerAsync(vmId, PowerActionOf(path[4]), cancellationToken);
        return new ProviderResult(200, null);
    }

    public IReadOnlyList<JsonObject> List(Guid subscriptionId, string? resourceGroup) =>
        [.. _store.List(subscriptionId, resourceGroup).Select(Render)];

    public void DeleteResourceGroupContents(Guid subscriptionId, string resourceGroup, CallerIdentity caller)
    {
        foreach (var set in _store.List(subscriptionId, resourceGroup))
        {
            // The provider's group deletion is synchronous; the instances' disks must be gone before the disks type runs.
#pragma warning disable VSTHRD002
            DeleteSetAsync(set.Id, caller, CancellationToken.None).GetAwaiter().GetResult();
#pragma warning restore VSTHRD002
        }
    }

    // ── create, update, scale ─────────────────────────────────────────────────────────────────

    private async Task<ProviderResult> PutAsync(
        ProviderRequest request, string group, string name, string id, JsonElement body, bool isPatch, CancellationToken cancellationToken)
    {
        DiskServices.RequireName(name, "scale set");
        var model = ScaleSetModel.Parse(body);
        RequireEncryptionSets(model, request);
        return await WithLockAsync(id, async () =>
        {
            var existing = _store.Find(id);
            if (existing is null && isPatch)
            {
                throw new ArmException(404, "ResourceNotFound", $"The Resource '{ResourceType}/{name}' under resource group '{group}' was not found.");
            }

            if (existing is null)
            {
                var capacity = model.Capacity
                    ?? throw new ArmException(400, "InvalidParameter", $"sku.capacity is required to create a scale set: how many instances (0-{ScaleSetModel.MaxCapacity}).");
                var created = new ScaleSetRecord(id, request.SubscriptionId, group, name, model.Location, model.Tags.ToJsonString(), model.SkuName, model.SkuTier,
                    model.ZonesJson, model.Properties.ToJsonString(), Guid.NewGuid(), NextInstanceId: 0, _time.GetUtcNow());
                if (!_store.TryInsert(created))
                {
                    throw new ArmException(409, "Conflict", $"The scale set '{name}' was created by a concurrent request; retry to update it.");
                }

                try
                {
                    await ScaleAsync(created, capacity, request, cancellationToken);
                }
                catch
                {
                    _store.Delete(created.Id);
                    throw;
                }

                return new ProviderResult(201, Render(_store.Find(id) ?? created));
            }

            if (!DiskEncryptionPolicy.SameRegion(existing.Location, model.Location))
            {
                throw new ArmException(400, "InvalidResourceLocation",
                    $"The scale set '{name}' already exists in location '{existing.Location}'; a resource cannot change its location.");
            }

            var updated = existing with
            {
                TagsJson = model.Tags.ToJsonString(),
                SkuName = model.SkuName,
                SkuTier = model.SkuTier,
                ZonesJson = model.ZonesJson,
                PropertiesJson = model.Properties.ToJsonString(),
            };
            _store.UpdateModel(updated);
            try
            {
                await ScaleAsync(updated, model.Capacity ?? InstanceIdsOf(existing.Id).Count, request, cancellationToken);
            }
            catch
            {
                _store.UpdateModel(existing);
                throw;
            }

            return new ProviderResult(200, Render(_store.Find(id) ?? updated));
        }, cancellationToken);
    }

    /// <summary>Scales out (new instances at the next ids, all removed again if one fails) or in (highest ids first).</summary>
    private async Task ScaleAsync(ScaleSetRecord set, long capacity, ProviderRequest request, CancellationToken cancellationToken)
    {
        var current = InstanceIdsOf(set.Id);
        if (capacity < current.Count)
        {
            foreach (var instanceId in current.OrderByDescending(i => i).Take(current.Count - (int)capacity))
            {
                await Vms.DeleteAsync(InstanceVmId(set, instanceId.ToString(CultureInfo.InvariantCulture)), request.Caller, cancellationToken);
            }

            return;
        }

        var add = (int)capacity - current.Count;
        if (add == 0)
        {
            return;
        }

        var first = _store.ReserveInstanceIds(set.Id, current.Count == 0 ? 0 : current.Max() + 1, add);
        var made = new List<string>();
        try
        {
            for (var instanceId = first; instanceId < first + add; instanceId++)
            {
                var text = instanceId.ToString(CultureInfo.InvariantCulture);
                var vmId = InstanceVmId(set, text);
                using var document = JsonDocument.Parse(ScaleSetModel.InstanceBody(set, text).ToJsonString());
                // Recorded first: a VM whose start the key refused is kept (stopped) by the VM service, and must go too.
                made.Add(vmId);
                await Vms.CreateAsync(new VmCreateRequest(vmId, set.SubscriptionId, set.ResourceGroup, $"{set.Name}_{text}", document.RootElement.Clone(),
                    request.Caller, request.ApiVersion, request.BaseUri, set.Id, text), cancellationToken);
            }
        }
        catch (Exception failure)
        {
            var rollbackFailures = new List<string>();
            foreach (var vmId in Enumerable.Reverse(made))
            {
                try
                {
                    await Vms.DeleteAsync(vmId, request.Caller, CancellationToken.None);
                }
                catch (ArmException e)
                {
                    rollbackFailures.Add($"{vmId}: {e.Message}");
                }
            }

            if (rollbackFailures.Count == 0)
            {
                throw;
            }

            throw failure is ArmException arm
                ? new ArmException(arm.StatusCode, arm.Code, $"{arm.Message} Removing the instances this request made also failed: {string.Join("; ", rollbackFailures)}")
                : new ArmException(500, "InternalServerError", $"Scaling out failed and removing the instances it made also failed: {string.Join("; ", rollbackFailures)}");
        }
    }

    private async Task<bool> DeleteSetAsync(string id, CallerIdentity caller, CancellationToken cancellationToken) =>
        await WithLockAsync(id, async () =>
        {
            if (_store.Find(id) is not { } set)
            {
                return false;
            }

            foreach (var instanceId in InstanceIdsOf(set.Id).OrderByDescending(i => i))
            {
                await Vms.DeleteAsync(InstanceVmId(set, instanceId.ToString(CultureInfo.InvariantCulture)), caller, cancellationToken);
            }

            return _store.Delete(set.Id);
        }, cancellationToken);

    /// <summary>POST …/delete {"instanceIds": [...]} (arm-compute deleteInstances): those instances and their disks go, capacity drops.</summary>
    private async Task DeleteInstancesAsync(ScaleSetRecord set, ProviderRequest request, CancellationToken cancellationToken)
    {
        var instanceIds = SelectInstances(set, request.Body, required: true);
        await WithLockAsync(set.Id, async () =>
        {
            foreach (var instanceId in instanceIds)
            {
                await Vms.DeleteAsync(InstanceVmId(set, instanceId), request.Caller, cancellationToken);
            }

            return true;
        }, cancellationToken);
    }

    /// <summary>Every selected instance gets the action; the first refusal is answered after all were tried.</summary>
    private async Task PowerInstancesAsync(ScaleSetRecord set, VmPowerAction action, IReadOnlyList<string> instanceIds, CancellationToken cancellationToken)
    {
        ArmException? first = null;
        foreach (var instanceId in instanceIds)
        {
            try
            {
                await Vms.PowerAsync(InstanceVmId(set, instanceId), action, cancellationToken);
            }
            catch (ArmException e) when (first is null)
            {
                first = new ArmException(e.StatusCode, e.Code, $"Instance {instanceId} of scale set '{set.Name}': {e.Message}");
            }
        }

        if (first is not null)
        {
            throw first;
        }
    }

    /// <summary>The instance ids of {"instanceIds": [...]} ("*" = all), checked to exist; all instances when the body names none and <paramref name="required"/> is false.</summary>
    private List<string> SelectInstances(ScaleSetRecord set, JsonElement? body, bool required)
    {
        var all = InstanceIdsOf(set.Id).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToList();
        JsonElement? ids = body is { ValueKind: JsonValueKind.Object } value ? JsonBody.Property(value, "instanceIds") : null;
        if (ids is null)
        {
            return required
                ? throw new ArmException(400, "InvalidParameter", "instanceIds is required: the body is {\"instanceIds\": [\"0\", \"1\"]} (the instances to delete).")
                : all;
        }

        if (ids.Value.ValueKind != JsonValueKind.Array || ids.Value.EnumerateArray().Any(i => i.ValueKind != JsonValueKind.String))
        {
            throw new ArmException(400, "InvalidParameter", "instanceIds must be an array of strings, e.g. [\"0\", \"1\"].");
        }

        var requested = ids.Value.EnumerateArray().Select(i => i.GetString()!).ToList();
        if (requested.Count == 0)
        {
            return required ? throw new ArmException(400, "InvalidParameter", "instanceIds is empty: name at least one instance.") : all;
        }

        if (requested.Contains("*"))
        {
            return all;
        }

        var missing = requested.Where(i => !all.Contains(i, StringComparer.Ordinal)).ToList();
        if (missing.Count > 0)
        {
            throw new ArmException(404, "NotFound",
                $"The scale set '{set.Name}' has no instance {string.Join(", ", missing.Select(m => $"'{m}'"))}; its instances are {(all.Count == 0 ? "none" : string.Join(", ", all))}.");
        }

        return [.. requested.Distinct(StringComparer.Ordinal)];
    }

    /// <summary>Each disk encryption set the profile names: it exists (as far as the caller may read it), in this subscription and region.</summary>
    private void RequireEncryptionSets(ScaleSetModel model, ProviderRequest request)
    {
        foreach (var (path, setId) in model.EncryptionSetIds)
        {
            var parsed = ResourceId.Parse(setId);
            if (parsed.SubscriptionId != request.SubscriptionId)
            {
                throw new ArmException(400, "InvalidParameter",
                    $"{path} '{setId}' is in subscription {parsed.SubscriptionId}; a scale set's disks use sets of its own subscription ({request.SubscriptionId}).");
            }

            const string setRead = "Microsoft.Compute/diskEncryptionSets/read";
            if (!_authorizer.IsActionAllowed(request.Caller.ObjectId, setRead, parsed))
            {
                throw new ArmException(403, "LinkedAuthorizationFailed",
                    $"The client '{request.Caller.ObjectId}' does not have permission to perform action '{setRead}' on the linked resource '{setId}' ({path}): assign it a role that grants it (e.g. Reader) at that scope.");
            }

            var set = _encryptionSets.Value?.Find(setId)
                ?? throw new ArmException(404, "NotFound", $"The disk encryption set '{setId}' ({path}) was not found: create it first, or check the id.");
            if (!DiskEncryptionPolicy.SameRegion(set.Location, model.Location))
            {
                throw new ArmException(400, "InvalidParameter",
                    $"The disk encryption set '{set.Id}' ({path}) is in region '{set.Location}', the scale set in '{model.Location}': a set encrypts only disks of its own region.");
            }
        }
    }

    // ── rendering ─────────────────────────────────────────────────────────────────────────────

    private JsonObject Render(ScaleSetRecord set)
    {
        var sku = new JsonObject { ["name"] = set.SkuName };
        if (set.SkuTier is not null)
        {
            sku["tier"] = set.SkuTier;
        }

        sku["capacity"] = _vms.Value is null ? 0 : InstanceIdsOf(set.Id).Count;
        var properties = JsonNode.Parse(set.PropertiesJson)!.AsObject();
        properties["provisioningState"] = "Succeeded";
        properties["uniqueId"] = set.UniqueId.ToString();
        properties["timeCreated"] = set.TimeCreated.ToString("o", CultureInfo.InvariantCulture);
        var result = new JsonObject
        {
            ["id"] = set.Id,
            ["name"] = set.Name,
            ["type"] = ResourceType,
            ["location"] = set.Location,
            ["tags"] = JsonNode.Parse(set.TagsJson),
            ["sku"] = sku,
            ["properties"] = properties,
        };
        if (set.ZonesJson is not null)
        {
            result["zones"] = JsonNode.Parse(set.ZonesJson);
        }

        return result;
    }

    /// <summary>An instance as the cloud shows it: the VM's body with the instance type, name "{set}_{id}", instanceId and the set's sku.</summary>
    private JsonObject? RenderInstance(ScaleSetRecord set, string instanceId, bool withInstanceView)
    {
        if (Vms.Render(InstanceVmId(set, instanceId), withInstanceView)?.DeepClone() is not JsonObject vm)
        {
            return null;
        }

        vm["id"] = InstanceVmId(set, instanceId);
        vm["name"] = $"{set.Name}_{instanceId}";
        vm["type"] = InstanceResourceType;
        vm["instanceId"] = instanceId;
        var sku = new JsonObject { ["name"] = set.SkuName };
        if (set.SkuTier is not null)
        {
            sku["tier"] = set.SkuTier;
        }

        vm["sku"] = sku;
        if (vm["properties"] is JsonObject properties)
        {
            properties["latestModelApplied"] = true;
        }

        return vm;
    }

    /// <summary>GET …/instanceView of the set: its provisioning status and, per status code of its instances, how many have it.</summary>
    private JsonObject RenderSetInstanceView(ScaleSetRecord set)
    {
        var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var instanceId in InstanceIdsOf(set.Id))
        {
            var view = Vms.RenderInstanceView(InstanceVmId(set, instanceId.ToString(CultureInfo.InvariantCulture)));
            if (view?["statuses"] is not JsonArray statuses)
            {
                continue;
            }

            foreach (var code in statuses.OfType<JsonObject>().Select(s => s["code"]?.GetValue<string>()).OfType<string>())
            {
                counts[code] = counts.GetValueOrDefault(code) + 1;
            }
        }

        var summary = new JsonArray();
        foreach (var (code, count) in counts)
        {
            summary.Add(new JsonObject { ["code"] = code, ["count"] = count });
        }

        return new JsonObject
        {
            ["virtualMachine"] = new JsonObject { ["statusesSummary"] = summary },
            ["statuses"] = new JsonArray(new JsonObject
            {
                ["code"] = "ProvisioningState/succeeded",
                ["level"] = "Info",
                ["displayStatus"] = "Provisioning succeeded",
                ["time"] = set.TimeCreated.ToString("o", CultureInfo.InvariantCulture),
            }),
            ["extensions"] = new JsonArray(),
        };
    }

    // ── helpers ───────────────────────────────────────────────────────────────────────────────

    /// <summary>The set's instance ids (numbers), ascending; the VM store is the only record of them.</summary>
    private List<long> InstanceIdsOf(string setId) =>
        [.. Vms.InstancesOf(setId)
            .Select(i => i[(i.LastIndexOf('/') + 1)..])
            .Select(i => long.TryParse(i, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : -1)
            .Where(n => n >= 0)
            .Order()];

    private static string InstanceVmId(ScaleSetRecord set, string instanceId) => $"{set.Id}/{InstancesSegment}/{instanceId}";

    private static bool IsInstanceId(string text) => text.Length is > 0 and < 10 && text.All(char.IsAsciiDigit) && (text == "0" || text[0] != '0');

    private static bool WantsInstanceView(ProviderRequest request) =>
        request.Query.FirstOrDefault(q => q.Key.Equals("$expand", StringComparison.OrdinalIgnoreCase)).Value is { } expand
        && expand.Equals("instanceView", StringComparison.OrdinalIgnoreCase);

    private static VmPowerAction PowerActionOf(string segment) =>
        Canonical(segment, SetActions) switch
        {
            "start" => VmPowerAction.Start,
            "powerOff" => VmPowerAction.PowerOff,
            "deallocate" => VmPowerAction.Deallocate,
            "restart" => VmPowerAction.Restart,
            _ => throw new ArmException(404, "InvalidResourceType", $"'{segment}' is not an action of {ResourceType}."),
        };

    private async Task<T> WithLockAsync<T>(string setId, Func<Task<T>> work, CancellationToken cancellationToken)
    {
        var gate = _locks.GetOrAdd(setId, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            return await work();
        }
        finally
        {
            gate.Release();
        }
    }

    private ScaleSetRecord RequireExisting(string id, string group, string name) =>
        _store.Find(id)
        ?? throw new ArmException(404, "ResourceNotFound", $"The Resource '{ResourceType}/{name}' under resource group '{group}' was not found.");

    private static ArmException InstanceNotFound(ScaleSetRecord set, string instanceId) =>
        new(404, "NotFound", $"The scale set '{set.Name}' has no instance '{instanceId}': list its instances with GET {set.Id}/{InstancesSegment}.");

    private static ArmException MethodNotAllowed(ProviderRequest request) =>
        new(405, "MethodNotAllowed", $"{request.Method} is not supported on {ResourceType}/{string.Join('/', request.ProviderPath.Skip(1))}.");

    private static bool Is(string segment, string name) => segment.Equals(name, StringComparison.OrdinalIgnoreCase);

    private static string? Canonical(string segment, IReadOnlyList<string> names) => names.FirstOrDefault(n => Is(segment, n));

    private static Uri ListUri(ProviderRequest request) =>
        new(request.BaseUri, request.ResourceGroup is { } rg
            ? $"subscriptions/{request.SubscriptionId}/resourceGroups/{rg}/providers/{ResourceType}"
            : $"subscriptions/{request.SubscriptionId}/providers/{ResourceType}");
}
