// Microsoft.Compute/images: custom images made of an OS disk and data disks, each taken from a disk
// or a snapshot. Each image disk is its own read-only volume: a storage snapshot of the source that
// shares its DEKs (same encryption), or a re-encrypting copy when the image disk names another set.
// Invariant: an image is immutable once made (only its tags change); a failed PUT leaves no image
// disk volume and no wrapped DEK behind; DELETE crypto-shreds every image disk.
using System.Text.Json;
using System.Text.Json.Nodes;
using Ironclad.Compute.KeyAccess;
using Ironclad.Identity;
using Ironclad.ResourceManager.Ids;
using Ironclad.ResourceManager.Providers;
using Ironclad.Storage;

namespace Ironclad.Compute.Disks;

public sealed class ImagesResourceType : IComputeResourceType
{
    public const string ImagesTypeName = "images";
    public const string ResourceType = ComputeProvider.Namespace + "/" + ImagesTypeName;

    private const int MaxLun = 63;
    private static readonly string[] OsTypes = ["Linux", "Windows"];
    private static readonly string[] OsStates = ["Generalized", "Specialized"];
    private static readonly string[] HyperVGenerations = ["V1", "V2"];

    private readonly DiskServices _services;

    internal ImagesResourceType(DiskServices services)
    {
        _services = services ?? throw new ArgumentNullException(nameof(services));
    }

    public string TypeName => ImagesTypeName;

    public int DeleteOrder => 10;

    public string RequiredAction(ProviderRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return (request.ProviderPath.Count, request.Method) switch
        {
            (1, "GET") or (2, "GET") => $"{ResourceType}/read",
            (2, "PUT") or (2, "PATCH") => $"{ResourceType}/write",
            (2, "DELETE") => $"{ResourceType}/delete",
            (1 or 2, _) => throw new ArmException(405, "MethodNotAllowed", $"{request.Method} is not supported on {ResourceType}."),
            _ => throw new ArmException(404, "InvalidResourceType", $"The resource type '{string.Join('/', request.ProviderPath)}' could not be found in the namespace '{ComputeProvider.Namespace}'."),
        };
    }

    public async Task<ProviderResult> HandleAsync(ProviderRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var path = request.ProviderPath;
        if (path.Count == 1)
        {
            return new ProviderResult(200, ArmPaging.Page([.. List(request.SubscriptionId, request.ResourceGroup)], ListUri(request), request.Query, _services.PageSize));
        }

        var group = request.ResourceGroup ?? throw new ArmException(404, "InvalidResourceType", $"{ResourceType}/{{name}} lives in a resource group.");
        var name = path[1];
        var id = $"/subscriptions/{request.SubscriptionId}/resourceGroups/{group}/providers/{ResourceType}/{name}";
        try
        {
            switch (request.Method)
            {
                case "PUT":
                    return await PutAsync(request, group, name, id, cancellationToken);
                case "PATCH":
                    {
                        var existing = RequireExisting(id, group, name);
                        var body = JsonBody.RequireObject(request.Body);
                        if (JsonBody.HasProperty(body, "tags"))
                        {
                            _services.Store.UpdateImageTags(existing.Id, JsonBody.Tags(body).ToJsonString());
                        }

                        if (JsonBody.OptionalObject(body, "properties", "body") is { } properties && JsonBody.HasProperty(properties, "storageProfile"))
                        {
                            RequireSameSpec(existing, ParseSpecs(properties));
                        }

                        return new ProviderResult(200, Render(RequireExisting(id, group, name)));
                    }

                case "GET":
                    return new ProviderResult(200, Render(RequireExisting(id, group, name)));
                case "DELETE":
                    return Delete(id) ? new ProviderResult(200, null) : new ProviderResult(204, null);
                default:
                    throw new ArmException(405, "MethodNotAllowed", $"{request.Method} is not supported on {ResourceType}.");
            }
        }
        catch (StorageException e)
        {
            throw DiskServices.StorageError(e, $"complete the request on image '{name}'");
        }
    }

    public IReadOnlyList<JsonObject> List(Guid subscriptionId, string? resourceGroup) =>
        [.. _services.Store.ListImages(subscriptionId, resourceGroup).Select(Render)];

    public void DeleteResourceGroupContents(Guid subscriptionId, string resourceGroup, CallerIdentity caller)
    {
        foreach (var image in _services.Store.ListImages(subscriptionId, resourceGroup))
        {
            Delete(image.Id);
        }
    }

    private async Task<ProviderResult> PutAsync(ProviderRequest request, string group, string name, string id, CancellationToken cancellationToken)
    {
        DiskServices.RequireName(name, "image");
        var body = JsonBody.RequireObject(request.Body);
        var location = JsonBody.RequireLocation(body);
        var tags = JsonBody.Tags(body);
        var properties = JsonBody.OptionalObject(body, "properties", "body")
            ?? throw new ArmException(400, "InvalidParameter", "properties is required: an image needs properties.storageProfile.osDisk (or properties.sourceVirtualMachine).");
        List<ImageDiskSpec> specs;
        string? vmHyperV = null;
        if (JsonBody.Property(properties, "sourceVirtualMachine") is not null)
        {
            (specs, vmHyperV) = SpecsOfVirtualMachine(request, properties);
        }
        else
        {
            specs = ParseSpecs(properties);
        }

        var hyperV = Canonical(JsonBody.OptionalString(properties, "hyperVGeneration", "properties") ?? vmHyperV ?? "V1", HyperVGenerations, "properties.hyperVGeneration");
        var zoneResilient = JsonBody.OptionalObject(properties, "storageProfile", "properties") is { } profile
            && (JsonBody.OptionalBool(profile, "zoneResilient", "properties.storageProfile") ?? false);

        if (_services.Store.FindImage(id) is { } existing)
        {
            if (!DiskEncryptionPolicy.SameRegion(existing.Location, location))
            {
                throw new ArmException(400, "InvalidResourceLocation", $"The image '{name}' already exists in location '{existing.Location}'; a resource cannot change its location.");
            }

            RequireSameSpec(existing, specs);
            _services.Store.UpdateImageTags(existing.Id, tags.ToJsonString());
            return new ProviderResult(200, Render(_services.Store.FindImage(id) ?? existing));
        }

        var made = new List<ImageDiskRecord>();
        try
        {
            foreach (var spec in specs)
            {
                made.Add(await MakeImageDiskAsync(request, location, spec, cancellationToken));
            }

            var image = new ImageRecord(id, request.SubscriptionId, group, name, location, tags.ToJsonString(), hyperV, zoneResilient, _services.Time.GetUtcNow(), made);
            if (!_services.Store.TryInsertImage(image))
            {
                throw new ArmException(409, "Conflict", $"The image '{name}' was created by a concurrent request; retry to update it.");
            }

            return new ProviderResult(201, Render(_services.Store.FindImage(id) ?? image));
        }
        catch
        {
            foreach (var disk in made)
            {
                _services.Volumes.DeleteAndShred(disk.VolumeId);
            }

            throw;
        }
    }

    /// <summary>One image disk: a snapshot sharing the source's DEKs, or, with another set, a re-encrypting copy.</summary>
    private async Task<ImageDiskRecord> MakeImageDiskAsync(ProviderRequest request, string location, ImageDiskSpec spec, CancellationToken cancellationToken)
    {
        var sourceType = spec.SourceKind == "snapshot" ? ManagedDisksResourceType.SnapshotsTypeName : ManagedDisksResourceType.DisksTypeName;
        if (!ResourceId.TryParse(spec.SourceId, out var parsed)
            || !parsed.ResourceType.Equals($"{ComputeProvider.Namespace}/{sourceType}", StringComparison.OrdinalIgnoreCase))
        {
            throw new ArmException(400, "InvalidParameter", $"{spec.Path}.{spec.SourceKind}.id '{spec.SourceId}' is not the id of a {(spec.SourceKind == "snapshot" ? "snapshot" : "disk")}.");
        }

        _services.Encryption.RequireLinkedAction(request.Caller, $"{ComputeProvider.Namespace}/{sourceType}/read", spec.SourceId);
        var source = _services.Store.Find(spec.SourceId)
            ?? throw new ArmException(404, "NotFound", $"The source '{spec.SourceId}' of {spec.Path} was not found.");
        if (source.DiskState is DiskStates.ReadyToUpload or DiskStates.ActiveUpload)
        {
            throw new ArmException(409, "OperationNotAllowed", $"The source disk '{source.Id}' is waiting for an upload ({source.DiskState}): finish the upload with endGetAccess first.");
        }

        if (!DiskEncryptionPolicy.SameRegion(source.Location, location))
        {
            throw new ArmException(400, "InvalidParameter", $"The source '{source.Id}' is in region '{source.Location}', the image in '{location}': an image is made in its sources' region.");
        }

        var sourceEncryption = new DiskEncryption(source.EncryptionType, source.EncryptionSetId);
        if (sourceEncryption.EncryptionSetId is not null && source.SubscriptionId != request.SubscriptionId)
        {
            throw new ArmException(400, "InvalidParameter",
                $"The source '{source.Id}' is encrypted with a customer key: an image of it must be in the same subscription ({source.SubscriptionId}).");
        }

        var encryption = _services.Encryption.Resolve(
            spec.EncryptionSetId is null ? null : new RequestedEncryption(null, spec.EncryptionSetId),
            sourceEncryption, request.SubscriptionId, location, request.Caller);
        var sizeBytes = source.SizeBytes;
        if (spec.SizeGb is { } gb && gb != DiskServices.SizeGb(source.SizeBytes))
        {
            sizeBytes = DiskServices.RequireSizeGb(gb, $"{spec.Path}.diskSizeGB");
            if (sizeBytes < source.SizeBytes)
            {
                throw new ArmException(400, "BadRequest", $"{spec.Path}.diskSizeGB {gb} is smaller than its source '{source.Id}' ({DiskServices.SizeGb(source.SizeBytes)} GiB).");
            }
        }

        var volumeId = Guid.NewGuid();
        if (encryption.IsSameAs(sourceEncryption))
        {
            _services.Volumes.SnapshotSharingKeys(source.VolumeId, volumeId);
        }
        else
        {
            var plan = await _services.Encryption.PlanAsync(encryption, location, cancellationToken);
            try
            {
                await _services.Volumes.CopyReencryptingAsync(source.VolumeId, volumeId, sizeBytes, plan, asSnapshot: true, cancellationToken);
            }
            catch (KeyAccessException e)
            {
                throw DiskEncryptionPolicy.KeyError(e, $"re-encrypt {spec.Path} ({sourceEncryption.Describe()}) under {encryption.Describe()}");
            }
        }

        return new ImageDiskRecord(volumeId, spec.Lun, spec.OsType, spec.OsState, spec.SourceKind, source.Id, sizeBytes,
            encryption.Type, encryption.EncryptionSetId, spec.Caching, spec.StorageAccountType);
    }

    /// <summary>
    /// properties.sourceVirtualMachine: the image takes the VM's OS disk and its data disks at their luns (each a snapshot of
    /// the disk, same encryption). The VM must not be running: a running VM's disks change under the copy.
    /// </summary>
    private (List<ImageDiskSpec> Specs, string? HyperVGeneration) SpecsOfVirtualMachine(ProviderRequest request, JsonElement properties)
    {
        if (JsonBody.HasProperty(properties, "storageProfile"))
        {
            throw new ArmException(400, "InvalidParameter",
                "properties names both sourceVirtualMachine and storageProfile: give one — the VM (its disks are taken as they are) or the disks and snapshots.");
        }

        var vmId = JsonBody.OptionalIdReference(properties, "sourceVirtualMachine", "properties")
            ?? throw new ArmException(400, "InvalidParameter", "properties.sourceVirtualMachine.id is required: the id of a stopped or deallocated virtual machine.");
        const string VmType = ComputeProvider.Namespace + "/virtualMachines";
        if (!ResourceId.TryParse(vmId, out var parsed) || !parsed.ResourceType.Equals(VmType, StringComparison.OrdinalIgnoreCase))
        {
            throw new ArmException(400, "InvalidParameter", $"properties.sourceVirtualMachine.id '{vmId}' is not the id of a virtual machine ({VmType}).");
        }

        var vms = _services.Vms
            ?? throw new ArmException(400, "InvalidParameter",
                "properties.sourceVirtualMachine is not available: this server has no virtual machines. Make the image from a disk or snapshot with storageProfile.osDisk.managedDisk.id or .snapshot.id.");
        _services.Encryption.RequireLinkedAction(request.Caller, $"{VmType}/read", vmId);
        var vm = vms.Find(vmId) ?? throw new ArmException(404, "NotFound", $"The virtual machine '{vmId}' of properties.sourceVirtualMachine was not found.");
        if (_services.Runtime?.Find(vm.VmId) is not null)
        {
            throw new ArmException(409, "OperationNotAllowed",
                $"The virtual machine '{vm.Name}' is running: an image is made of a VM that does not run. Stop it (POST {vm.VmId}/powerOff) or deallocate it, then create the image.");
        }

        var os = vm.Disks.FirstOrDefault(d => d.Lun is null)
            ?? throw new ArmException(400, "InvalidParameter", $"The virtual machine '{vm.Name}' has no OS disk to make an image of.");
        var osRecord = _services.Store.Find(os.DiskId)
            ?? throw new ArmException(409, "OperationNotAllowed", $"The OS disk '{os.DiskId}' of virtual machine '{vm.Name}' no longer exists.");
        var specs = new List<ImageDiskSpec>
        {
            new($"properties.sourceVirtualMachine (OS disk '{os.DiskName}')", null, "managedDisk", os.DiskId, osRecord.OsType ?? "Linux", "Generalized", null, null, null, null),
        };
        foreach (var data in vm.Disks.Where(d => d.Lun is not null).OrderBy(d => d.Lun))
        {
            specs.Add(new ImageDiskSpec($"properties.sourceVirtualMachine (data disk '{data.DiskName}' at lun {data.Lun})", data.Lun, "managedDisk", data.DiskId, null, null, null, null, null, null));
        }

        return (specs, osRecord.HyperVGeneration);
    }

    private bool Delete(string id)
    {
        if (_services.Store.FindImage(id) is not { } image)
        {
            return false;
        }

        foreach (var disk in image.Disks)
        {
            _services.Volumes.DeleteAndShred(disk.VolumeId);
        }

        return _services.Store.DeleteImage(image.Id);
    }

    private static List<ImageDiskSpec> ParseSpecs(JsonElement properties)
    {
        var profile = JsonBody.OptionalObject(properties, "storageProfile", "properties")
            ?? throw new ArmException(400, "InvalidParameter", "properties.storageProfile is required: {\"osDisk\": {\"osType\", \"osState\", \"managedDisk\": {\"id\"} | \"snapshot\": {\"id\"}}, \"dataDisks\": [...]}.");
        var osDisk = JsonBody.OptionalObject(profile, "osDisk", "properties.storageProfile")
            ?? throw new ArmException(400, "InvalidParameter", "properties.storageProfile.osDisk is required.");
        var specs = new List<ImageDiskSpec>
        {
            ParseSpec(osDisk, "properties.storageProfile.osDisk", lun: null,
                Canonical(JsonBody.OptionalString(osDisk, "osType", "properties.storageProfile.osDisk")
                    ?? throw new ArmException(400, "InvalidParameter", "properties.storageProfile.osDisk.osType is required: Linux or Windows."), OsTypes, "properties.storageProfile.osDisk.osType"),
                Canonical(JsonBody.OptionalString(osDisk, "osState", "properties.storageProfile.osDisk")
                    ?? throw new ArmException(400, "InvalidParameter", "properties.storageProfile.osDisk.osState is required: Generalized or Specialized."), OsStates, "properties.storageProfile.osDisk.osState")),
        };
        if (JsonBody.Property(profile, "dataDisks") is { } dataDisks)
        {
            if (dataDisks.ValueKind != JsonValueKind.Array)
            {
                throw new ArmException(400, "InvalidParameter", "properties.storageProfile.dataDisks must be an array.");
            }

            var index = 0;
            foreach (var dataDisk in dataDisks.EnumerateArray())
            {
                var path = $"properties.storageProfile.dataDisks[{index++}]";
                if (dataDisk.ValueKind != JsonValueKind.Object)
                {
                    throw new ArmException(400, "InvalidParameter", $"{path} must be an object.");
                }

                var lun = JsonBody.OptionalInt64(dataDisk, "lun", path)
                    ?? throw new ArmException(400, "InvalidParameter", $"{path}.lun is required.");
                if (lun is < 0 or > MaxLun)
                {
                    throw new ArmException(400, "InvalidParameter", $"{path}.lun {lun} must be between 0 and {MaxLun}.");
                }

                if (specs.Any(s => s.Lun == lun))
                {
                    throw new ArmException(400, "InvalidParameter", $"{path}.lun {lun} is used by two data disks: each needs its own lun.");
                }

                specs.Add(ParseSpec(dataDisk, path, (int)lun, osType: null, osState: null));
            }
        }

        return specs;
    }

    private static ImageDiskSpec ParseSpec(JsonElement disk, string path, int? lun, string? osType, string? osState)
    {
        if (JsonBody.Property(disk, "blobUri") is not null)
        {
            throw new ArmException(400, "InvalidParameter", $"{path}.blobUri is not supported: there are no storage accounts here. Use managedDisk.id or snapshot.id.");
        }

        var managedDisk = JsonBody.OptionalIdReference(disk, "managedDisk", path);
        var snapshot = JsonBody.OptionalIdReference(disk, "snapshot", path);
        var (kind, sourceId) = (managedDisk, snapshot) switch
        {
            ({ } m, null) => ("managedDisk", m),
            (null, { } s) => ("snapshot", s),
            (null, null) => throw new ArmException(400, "InvalidParameter", $"{path} needs a source: managedDisk.id (a disk) or snapshot.id (a snapshot)."),
            _ => throw new ArmException(400, "InvalidParameter", $"{path} names both managedDisk.id and snapshot.id: give one source."),
        };
        return new ImageDiskSpec(path, lun, kind, sourceId, osType, osState,
            JsonBody.OptionalInt64(disk, "diskSizeGB", path),
            JsonBody.OptionalIdReference(disk, "diskEncryptionSet", path),
            JsonBody.OptionalString(disk, "caching", path),
            JsonBody.OptionalString(disk, "storageAccountType", path));
    }

    private static void RequireSameSpec(ImageRecord existing, IReadOnlyList<ImageDiskSpec> specs)
    {
        var same = specs.Count == existing.Disks.Count && specs.All(spec =>
            existing.Disks.FirstOrDefault(d => d.Lun == spec.Lun) is { } disk
            && disk.SourceId.Equals(spec.SourceId, StringComparison.OrdinalIgnoreCase)
            && (spec.EncryptionSetId is null || spec.EncryptionSetId.Equals(disk.EncryptionSetId, StringComparison.OrdinalIgnoreCase)));
        if (!same)
        {
            throw new ArmException(409, "PropertyChangeNotAllowed",
                $"Changing property 'storageProfile' is not allowed: the image '{existing.Name}' is immutable once made (only its tags change). Make a new image instead.");
        }
    }

    private static string Canonical(string value, IReadOnlyList<string> allowed, string property) =>
        allowed.FirstOrDefault(a => a.Equals(value, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArmException(400, "InvalidParameter", $"{property} '{value}' is not valid: use {string.Join(" or ", allowed)}.");

    private ImageRecord RequireExisting(string id, string group, string name) =>
        _services.Store.FindImage(id)
        ?? throw new ArmException(404, "ResourceNotFound", $"The Resource '{ResourceType}/{name}' under resource group '{group}' was not found.");

    private static Uri ListUri(ProviderRequest request) =>
        new(request.BaseUri, request.ResourceGroup is { } rg
            ? $"subscriptions/{request.SubscriptionId}/resourceGroups/{rg}/providers/{ResourceType}"
            : $"subscriptions/{request.SubscriptionId}/providers/{ResourceType}");

    private static JsonObject Render(ImageRecord image)
    {
        var dataDisks = new JsonArray();
        foreach (var disk in image.DataDisks)
        {
            var node = RenderDisk(disk);
            node["lun"] = disk.Lun;
            dataDisks.Add(node);
        }

        var osDisk = image.OsDisk is { } os ? RenderDisk(os) : null;
        if (osDisk is not null && image.OsDisk is { } osRecord)
        {
            osDisk["osType"] = osRecord.OsType;
            osDisk["osState"] = osRecord.OsState;
        }

        return new JsonObject
        {
            ["id"] = image.Id,
            ["name"] = image.Name,
            ["type"] = ResourceType,
            ["location"] = image.Location,
            ["tags"] = JsonNode.Parse(image.TagsJson),
            ["properties"] = new JsonObject
            {
                ["storageProfile"] = new JsonObject { ["osDisk"] = osDisk, ["dataDisks"] = dataDisks, ["zoneResilient"] = image.ZoneResilient },
                ["provisioningState"] = "Succeeded",
                ["hyperVGeneration"] = image.HyperVGeneration,
            },
        };
    }

    private static JsonObject RenderDisk(ImageDiskRecord disk)
    {
        var node = new JsonObject
        {
            [disk.SourceKind] = new JsonObject { ["id"] = disk.SourceId },
            ["diskSizeGB"] = DiskServices.SizeGb(disk.SizeBytes),
        };
        if (disk.Caching is not null)
        {
            node["caching"] = disk.Caching;
        }

        if (disk.StorageAccountType is not null)
        {
            node["storageAccountType"] = disk.StorageAccountType;
        }

        if (disk.EncryptionSetId is not null)
        {
            node["diskEncryptionSet"] = new JsonObject { ["id"] = disk.EncryptionSetId };
        }

        return node;
    }

    private sealed record ImageDiskSpec(
        string Path, int? Lun, string SourceKind, string SourceId, string? OsType, string? OsState, long? SizeGb, string? EncryptionSetId, string? Caching, string? StorageAccountType);
}

/// <summary>What the host wires: the disk directory (no dependencies but the database) and the three types over it.</summary>
public static class DiskResourceTypes
{
    public static IDiskDirectory CreateDirectory(Ironclad.Metadata.MetadataDatabase database) => new DiskDirectory(new DiskStore(database));

    /// <param name="directory">The one returned by <see cref="CreateDirectory"/>.</param>
    /// <param name="dataKeys">This and the other functions are called on first use, never while the types are built (no construction cycles).</param>
    /// <param name="grants">Resolved on first SAS request; null when the server has no SAS access.</param>
    /// <param name="marketplace">Resolved on the first disk made from a platform image; null (or absent) when there is no marketplace.</param>
    /// <param name="vms">Resolved on the first image made from a VM (properties.sourceVirtualMachine); null when there are no VMs.</param>
    /// <param name="runtime">Resolved with <paramref name="vms"/>: a running VM is refused as an image source.</param>
    public static IReadOnlyList<IComputeResourceType> Create(
        IDiskDirectory directory,
        VolumeStore volumes,
        Func<DataKeys.IDataKeyService> dataKeys,
        Func<Platform.IPlatformKeys> platformKeys,
        Func<EncryptionSets.IEncryptionSetDirectory?> encryptionSets,
        Func<Access.IDiskAccessGrants?> grants,
        ResourceManager.Rbac.Authorizer authorizer,
        TimeProvider time,
        int pageSize,
        Func<Marketplace.IMarketplaceImages?>? marketplace = null,
        Func<VirtualMachines.IVmDirectory?>? vms = null,
        Func<VirtualMachines.IVmRuntime?>? runtime = null)
    {
        var disks = directory as DiskDirectory ?? throw new ArgumentException($"Use the directory {nameof(CreateDirectory)} made.", nameof(directory));
        var services = new DiskServices(
            disks, new DiskVolumes(volumes, dataKeys), new DiskEncryptionPolicy(encryptionSets, platformKeys, authorizer), dataKeys, grants, time, pageSize, marketplace, vms, runtime);
        return [new ImagesResourceType(services), ManagedDisksResourceType.Snapshots(services), ManagedDisksResourceType.Disks(services)];
    }
}
