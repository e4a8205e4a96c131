// A VM's disks: made through the disks type (PUT as the caller, so every validation, linked check and
// key rule of disks applies unchanged) or taken over (Attach), then moved Unattached → Attached with
// managedBy = the VM. Invariant: everything a failed request made or attached is listed in Provisioned
// and undone by RollbackAsync, newest first.
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ironclad.Compute.Disks;
using Ironclad.Compute.Marketplace;
using Ironclad.Identity;
using Ironclad.ResourceManager.Ids;
using Ironclad.ResourceManager.Providers;

namespace Ironclad.Compute.VirtualMachines;

public sealed partial class VirtualMachineService
{
    /// <summary>The api-version of the internal disks requests.</summary>
    private const string DiskApiVersion = "2024-03-02";

    private const string DisksResourceType = "Microsoft.Compute/disks";

    /// <summary>What a request acts for: the VM and the caller.</summary>
    private sealed record VmContext(
        string VmId, Guid SubscriptionId, string ResourceGroup, string Name, string Location, CallerIdentity Caller, Uri BaseUri, bool IsScaleSetInstance);

    /// <summary>The disks a request made and attached so far (undone, newest first, when it fails).</summary>
    private sealed class Provisioned
    {
        public List<string> Created { get; } = [];

        public List<string> Attached { get; } = [];
    }

    /// <summary>A resolved imageReference: a custom image id or a platform image id for the disks type, and what the VM answers.</summary>
    private sealed record ResolvedImage(string? CustomImageId, string? PlatformImageId, JsonObject Rendered);

    private ResolvedImage ResolveImage(JsonElement reference, VmContext context)
    {
        const string Path = "properties.storageProfile.imageReference";
        if (JsonBody.OptionalString(reference, "id", Path) is { } id)
        {
            if (!ResourceId.TryParse(id, out var parsed) || !parsed.ResourceType.Equals(ImagesResourceType.ResourceType, StringComparison.OrdinalIgnoreCase))
            {
                throw new ArmException(400, "InvalidParameter",
                    $"{Path}.id '{id}' is not a Microsoft.Compute/images id: use a custom image id, or {{publisher, offer, sku, version}} for a marketplace image (no galleries here).");
            }

            return new ResolvedImage(id, null, new JsonObject { ["id"] = id });
        }

        var publisher = JsonBody.OptionalString(reference, "publisher", Path);
        var offer = JsonBody.OptionalString(reference, "offer", Path);
        var sku = JsonBody.OptionalString(reference, "sku", Path);
        var version = JsonBody.OptionalString(reference, "version", Path) ?? "latest";
        if (publisher is null || offer is null || sku is null)
        {
            throw new ArmException(400, "InvalidParameter",
                $"{Path} needs either id (a custom image) or publisher, offer and sku (a marketplace image; version defaults to latest).");
        }

        var marketplace = _marketplace() ?? throw Unavailable("create VMs from marketplace images", "the server has no marketplace catalog");
        var image = marketplace.Resolve(new MarketplaceImageReference(publisher, offer, sku, version));
        return new ResolvedImage(null, PlatformImageIds.Format(context.SubscriptionId, context.Location, image), new JsonObject
        {
            ["publisher"] = publisher,
            ["offer"] = offer,
            ["sku"] = sku,
            ["version"] = version,
            ["exactVersion"] = image.Version,
        });
    }

    /// <summary>Makes (Empty / FromImage) or takes over (Attach) one disk and marks it Attached to the VM.</summary>
    private async Task<VmDiskRecord> ProvisionAsync(VmContext context, VmDiskRequest request, ResolvedImage? image, Provisioned made, CancellationToken cancellationToken)
    {
        return request.CreateOption == "Attach"
            ? await AttachExistingAsync(context, request, made, cancellationToken)
            : await CreateDiskAsync(context, request, image, made, cancellationToken);
    }

    private async Task<VmDiskRecord> AttachExistingAsync(VmContext context, VmDiskRequest request, Provisioned made, CancellationToken cancellationToken)
    {
        var id = request.ManagedDiskId!;
        if (!ResourceId.TryParse(id, out var parsed) || !parsed.ResourceType.Equals(DisksResourceType, StringComparison.OrdinalIgnoreCase))
        {
            throw new ArmException(400, "InvalidParameter", $"{request.Path}.managedDisk.id '{id}' is not a disk id (/subscriptions/{{sub}}/resourceGroups/{{rg}}/providers/Microsoft.Compute/disks/{{name}}).");
        }

        RequireLinkedAction(context.Caller, $"{DisksResourceType}/write", id);
        var disk = _disks.Find(id) is { Kind: DiskResourceKind.Disk } found
            ? found
            : throw new ArmException(404, "NotFound", $"The disk '{id}' ({request.Path}) was not found: create it first, or check the id.");
        if (disk.SubscriptionId != context.SubscriptionId)
        {
            throw new ArmException(400, "InvalidParameter",
                $"The disk '{disk.ResourceId}' is in subscription {disk.SubscriptionId}; a VM attaches only disks of its own subscription ({context.SubscriptionId}).");
        }

        if (!DiskEncryptionPolicy.SameRegion(disk.Location, context.Location))
        {
            throw new ArmException(400, "InvalidParameter",
                $"The disk '{disk.ResourceId}' is in region '{disk.Location}', the VM '{context.Name}' in '{context.Location}': a VM attaches only disks of its own region.");
        }

        if (!_disks.TrySetDiskState(disk.ResourceId, DiskStates.Unattached, DiskStates.Attached, context.VmId))
        {
            var now = _disks.Find(disk.ResourceId);
            var why = now?.DiskState == DiskStates.Attached ? $"it is attached to '{now.ManagedBy}': detach it there first"
                : now is null ? "it was deleted meanwhile"
                : now.DiskState == DiskStates.Unattached ? "another operation is running on it; retry"
                : $"it is {now.DiskState} (only an Unattached disk can be attached)";
            throw new ArmException(409, "OperationNotAllowed", $"Cannot attach the disk '{disk.Name}' to '{context.Name}' ({request.Path}): {why}.");
        }

        made.Attached.Add(disk.ResourceId);
        var rendered = await GetDiskAsync(context, disk.ResourceId, cancellationToken);
        return new VmDiskRecord(request.Lun, disk.ResourceId, disk.Name, disk.VolumeId, "Attach", request.Caching ?? DefaultCaching(request.Lun),
            request.EffectiveDeleteOption, SkuOf(rendered), request.Lun is null ? OsTypeOf(rendered) : null);
    }

    private async Task<VmDiskRecord> CreateDiskAsync(VmContext context, VmDiskRequest request, ResolvedImage? image, Provisioned made, CancellationToken cancellationToken)
    {
        var suffix = Guid.NewGuid().ToString("N");
        var name = request.Name ?? (request.Lun is { } lun
            ? string.Create(CultureInfo.InvariantCulture, $"{context.Name}_disk{lun + 1}_{suffix}")
            : $"{context.Name}_OsDisk_1_{suffix}");
        var diskId = $"/subscriptions/{context.SubscriptionId}/resourceGroups/{context.ResourceGroup}/providers/{DisksResourceType}/{name}";
        if (_disks.Find(diskId) is not null)
        {
            throw new ArmException(409, "Conflict",
                $"A disk named '{name}' exists already in resource group '{context.ResourceGroup}' ({request.Path}.name): choose another name, or attach that disk with createOption Attach.");
        }

        RequireLinkedAction(context.Caller, $"{DisksResourceType}/write", diskId);
        var creationData = new JsonObject { ["createOption"] = request.CreateOption };
        if (request.CreateOption == "FromImage")
        {
            var reference = new JsonObject { ["id"] = image?.CustomImageId ?? image?.PlatformImageId };
            if (request.Lun is { } dataLun)
            {
                reference["lun"] = dataLun;
            }

            creationData["imageReference"] = reference;
        }

        var properties = new JsonObject { ["creationData"] = creationData };
        if (request.SizeGb is { } size)
        {
            properties["diskSizeGB"] = size;
        }

        if (request.EncryptionSetId is { } setId)
        {
            properties["encryption"] = new JsonObject { ["diskEncryptionSetId"] = setId };
        }

        var body = new JsonObject { ["location"] = context.Location, ["properties"] = properties };
        if (request.StorageAccountType is { } sku)
        {
            body["sku"] = new JsonObject { ["name"] = sku };
        }

        ProviderResult result;
        try
        {
            result = await RequireProvider().HandleAsync(DiskRequest(context.SubscriptionId, context.Caller, "PUT", diskId, body), cancellationToken);
        }
        catch (ArmException e)
        {
            throw new ArmException(e.StatusCode, e.Code, $"Could not create the disk '{name}' for {request.Path} of '{context.Name}': {e.Message}");
        }

        made.Created.Add(diskId);
        var rendered = result.Body as JsonObject ?? throw new InvalidOperationException("The disks type answered a PUT without a body.");
        var volumeId = Guid.Parse(rendered["properties"]!["uniqueId"]!.GetValue<string>());
        if (!_disks.TrySetDiskState(diskId, DiskStates.Unattached, DiskStates.Attached, context.VmId))
        {
            throw new ArmException(409, "Conflict", $"The new disk '{name}' was taken by a concurrent request before '{context.Name}' could attach it; retry.");
        }

        made.Attached.Add(diskId);
        return new VmDiskRecord(request.Lun, diskId, name, volumeId, request.CreateOption, request.Caching ?? DefaultCaching(request.Lun),
            request.EffectiveDeleteOption, SkuOf(rendered), request.Lun is null ? OsTypeOf(rendered) : null);
    }

    /// <summary>Undoes a failed request: attached disks back to Unattached, made disks deleted (newest first).</summary>
    private async Task RollbackAsync(VmContext context, Provisioned made)
    {
        foreach (var id in Enumerable.Reverse(made.Attached))
        {
            _disks.TrySetDiskState(id, DiskStates.Attached, DiskStates.Unattached, null);
        }

        foreach (var id in Enumerable.Reverse(made.Created))
        {
            try
            {
                await DeleteDiskAsync(context.SubscriptionId, context.Caller, id, CancellationToken.None);
            }
#pragma warning disable CA1031 // The request's own failure is what the caller sees; a rollback failure is logged with the disk it left.
            catch (Exception e)
#pragma warning restore CA1031
            {
                LogRollbackFailed(_logger, id, context.VmId, e);
            }
        }
    }

    private async Task DeleteDiskAsync(Guid subscriptionId, CallerIdentity caller, string diskId, CancellationToken cancellationToken) =>
        await RequireProvider().HandleAsync(DiskRequest(subscriptionId, caller, "DELETE", diskId, null), cancellationToken);

    private async Task<JsonObject> GetDiskAsync(VmContext context, string diskId, CancellationToken cancellationToken)
    {
        var result = await RequireProvider().HandleAsync(DiskRequest(context.SubscriptionId, context.Caller, "GET", diskId, null), cancellationToken);
        return result.Body as JsonObject ?? throw new InvalidOperationException("The disks type answered a GET without a body.");
    }

    private static ProviderRequest DiskRequest(Guid subscriptionId, CallerIdentity caller, string method, string diskId, JsonObject? body)
    {
        var parsed = ResourceId.Parse(diskId);
        return new ProviderRequest(method, subscriptionId, parsed.ResourceGroup, ["disks", parsed.Name], parsed.ToString(),
            new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["api-version"] = DiskApiVersion },
            body is null ? null : JsonSerializer.SerializeToElement(body), caller, DiskApiVersion, new Uri("https://127.0.0.1/"));
    }

    private static string DefaultCaching(int? lun) => lun is null ? "ReadWrite" : "None";

    private static string? SkuOf(JsonObject disk) => disk["sku"]?["name"]?.GetValue<string>();

    private static string? OsTypeOf(JsonObject disk) => disk["properties"]?["osType"]?.GetValue<string>();
}
