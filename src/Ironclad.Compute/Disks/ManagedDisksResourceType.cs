// Microsoft.Compute/disks and Microsoft.Compute/snapshots (one class, two instances: they share the
// wire shape, the create options, encryption changes and SAS access). Create options: Empty, Copy
// (disk or snapshot), FromImage (custom or platform image), Upload for disks; Copy for snapshots. Invariant: every disk and
// snapshot has exactly one volume whose DEKs are wrapped as its `encryption` says; a failed request
// leaves no volume and no wrapped DEK behind; DELETE destroys the wrapped DEKs (crypto-shredding).
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ironclad.Compute.Access;
using Ironclad.Compute.DataKeys;
using Ironclad.Compute.KeyAccess;
using Ironclad.Compute.Marketplace;
using Ironclad.Identity;
using Ironclad.ResourceManager.Ids;
using Ironclad.ResourceManager.Providers;
using Ironclad.Storage;

namespace Ironclad.Compute.Disks;

public sealed class ManagedDisksResourceType : IComputeResourceType
{
    public const string DisksTypeName = "disks";
    public const string SnapshotsTypeName = "snapshots";

    /// <summary>The smallest and largest uploadSizeBytes the cloud takes (20 MiB and 32 TiB, plus the 512-byte VHD footer).</summary>
    public const long MinUploadSizeBytes = (20L << 20) + 512;

    /// <summary>The storage engine's largest volume (32 TiB).</summary>
    public const long MaxUploadSizeBytes = 32L << 40;

    private static readonly string[] DiskSkus = ["Standard_LRS", "Premium_LRS", "StandardSSD_LRS", "UltraSSD_LRS", "Premium_ZRS", "StandardSSD_ZRS", "PremiumV2_LRS"];
    private static readonly string[] SnapshotSkus = ["Standard_LRS", "Premium_LRS", "Standard_ZRS"];
    private static readonly string[] SupportedDiskOptions = ["Empty", "Copy", "FromImage", "Upload"];
    private static readonly string[] KnownUnsupportedOptions = ["Import", "Attach", "Restore", "CopyStart", "ImportSecure", "UploadPreparedSecure", "CopyFromSanSnapshot"];
    private static readonly string[] UnattachedOnly = [DiskStates.Unattached];
    private static readonly string[] DeletableDiskStates = [DiskStates.Unattached, DiskStates.ReadyToUpload];

    private readonly DiskServices _services;
    private readonly DiskResourceKind _kind;

    private ManagedDisksResourceType(DiskServices services, DiskResourceKind kind)
    {
        _services = services;
        _kind = kind;
    }

    public string TypeName => _kind == DiskResourceKind.Disk ? DisksTypeName : SnapshotsTypeName;

    public int DeleteOrder => _kind == DiskResourceKind.Disk ? 30 : 20;

    private string ResourceType => $"{ComputeProvider.Namespace}/{TypeName}";

    private string Noun => _kind == DiskResourceKind.Disk ? "disk" : "snapshot";

    internal static ManagedDisksResourceType Disks(DiskServices services) => new(services ?? throw new ArgumentNullException(nameof(services)), DiskResourceKind.Disk);

    internal static ManagedDisksResourceType Snapshots(DiskServices services) => new(services ?? throw new ArgumentNullException(nameof(services)), DiskResourceKind.Snapshot);

    public string RequiredAction(ProviderRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var path = request.ProviderPath;
        return (path.Count, request.Method) switch
        {
            (1, "GET") or (2, "GET") => $"{ResourceType}/read",
            (2, "PUT") or (2, "PATCH") => $"{ResourceType}/write",
            (2, "DELETE") => $"{ResourceType}/delete",
            (3, "POST") when IsAccessAction(path[2]) => $"{ResourceType}/{Canonical(path[2])}/action",
            (1 or 2, _) => throw new ArmException(405, "MethodNotAllowed", $"{request.Method} is not supported on {ResourceType}."),
            _ => throw new ArmException(404, "InvalidResourceType", $"The resource type '{string.Join('/', path)}' could not be found in the namespace '{ComputeProvider.Namespace}'."),
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
        var id = IdOf(request.SubscriptionId, group, path[1]);
        try
        {
            return (path.Count, request.Method) switch
            {
                (2, "PUT") => await PutAsync(request, group, path[1], id, cancellationToken),
                (2, "PATCH") => new ProviderResult(200, Render(await UpdateAsync(request, RequireExisting(id, group, path[1]), JsonBody.RequireObject(request.Body), replace: false, cancellationToken))),
                (2, "GET") => new ProviderResult(200, Render(RequireExisting(id, group, path[1]))),
                (2, "DELETE") => await DeleteAsync(id, cancellationToken) ? new ProviderResult(200, null) : new ProviderResult(204, null),
                (3, "POST") when Canonical(path[2]) == "beginGetAccess" => await BeginGetAccessAsync(request, RequireExisting(id, group, path[1]), cancellationToken),
                (3, "POST") when Canonical(path[2]) == "endGetAccess" => await EndGetAccessAsync(RequireExisting(id, group, path[1]), cancellationToken),
                _ => throw new ArmException(405, "MethodNotAllowed", $"{request.Method} is not supported on {ResourceType}."),
            };
        }
        catch (StorageException e)
        {
            throw DiskServices.StorageError(e, $"complete the request on {Noun} '{path[1]}'");
        }
    }

    public IReadOnlyList<JsonObject> List(Guid subscriptionId, string? resourceGroup) =>
        [.. _services.Store.List(_kind, subscriptionId, resourceGroup).Select(Render)];

    public void DeleteResourceGroupContents(Guid subscriptionId, string resourceGroup, CallerIdentity caller)
    {
        foreach (var disk in _services.Store.List(_kind, subscriptionId, resourceGroup))
        {
            if (disk.DiskState is DiskStates.ActiveSas or DiskStates.ActiveUpload && _services.Grants is { } grants)
            {
                // The resource-group contract is synchronous; the server has no synchronization context to deadlock.
#pragma warning disable VSTHRD002
                grants.EndAsync(disk.ToInfo(), CancellationToken.None).GetAwaiter().GetResult();
#pragma warning restore VSTHRD002
            }

            _services.Volumes.DeleteAndShred(disk.VolumeId);
            _services.Store.Delete(disk.Id);
        }
    }

    // ── PUT ─────────────────────────────────────────────────────────────────────────────────

    private async Task<ProviderResult> PutAsync(ProviderRequest request, string group, string name, string id, CancellationToken cancellationToken)
    {
        DiskServices.RequireName(name, Noun);
        var body = JsonBody.RequireObject(request.Body);
        if (_services.Store.Find(id) is { } existing)
        {
            return new ProviderResult(200, Render(await UpdateAsync(request, existing, body, replace: true, cancellationToken)));
        }

        var created = await CreateAsync(request, group, name, id, body, cancellationToken);
        return new ProviderResult(201, Render(created));
    }

    private async Task<DiskRecord> CreateAsync(ProviderRequest request, string group, string name, string id, JsonElement body, CancellationToken cancellationToken)
    {
        var location = JsonBody.RequireLocation(body);
        var tags = JsonBody.Tags(body);
        var sku = DiskServices.CanonicalSku(SkuName(body), _kind == DiskResourceKind.Disk ? DiskSkus : SnapshotSkus, Noun);
        var zones = JsonBody.Zones(body);
        var properties = JsonBody.OptionalObject(body, "properties", "body")
            ?? throw new ArmException(400, "InvalidParameter", $"properties is required: a {Noun} needs properties.creationData.createOption.");
        var creationData = JsonBody.OptionalObject(properties, "creationData", "properties")
            ?? throw new ArmException(400, "InvalidParameter", "properties.creationData is required: give its createOption (Empty, Copy, FromImage or Upload).");
        var createOption = JsonBody.OptionalString(creationData, "createOption", "properties.creationData")
            ?? throw new ArmException(400, "InvalidParameter", "properties.creationData.createOption is required: Empty, Copy, FromImage or Upload.");
        createOption = CanonicalCreateOption(createOption);
        var requested = DiskEncryptionPolicy.Parse(JsonBody.Property(properties, "encryption"), "properties.encryption");
        var sizeGb = JsonBody.OptionalInt64(properties, "diskSizeGB", "properties");
        var incremental = _kind == DiskResourceKind.Snapshot && (JsonBody.OptionalBool(properties, "incremental", "properties") ?? false);
        var requestedOsType = JsonBody.OptionalString(properties, "osType", "properties");
        var requestedHyperV = JsonBody.OptionalString(properties, "hyperVGeneration", "properties");

        var volumeId = Guid.NewGuid();
        var context = new CreateContext(request, location, volumeId, requested, sizeGb, incremental);
        var made = createOption switch
        {
            "Empty" => await CreateEmptyAsync(context, cancellationToken),
            "Upload" => await CreateForUploadAsync(context, creationData, cancellationToken),
            "Copy" => await CreateCopyAsync(context, creationData, cancellationToken),
            "FromImage" => await CreateFromImageAsync(context, creationData, cancellationToken),
            _ => throw new InvalidOperationException(createOption),
        };

        var record = new DiskRecord(
            id, _kind, request.SubscriptionId, group, name, location, tags.ToJsonString(), sku, zones, volumeId, made.SizeBytes, made.State,
            ManagedBy: null, made.Encryption.Type, made.Encryption.EncryptionSetId, createOption, made.CreationData.ToJsonString(), incremental,
            made.OsType ?? requestedOsType, made.HyperVGeneration ?? requestedHyperV, _services.Time.GetUtcNow());
        bool inserted;
        try
        {
            inserted = _services.Store.TryInsert(record);
        }
        catch
        {
            _services.Volumes.DeleteAndShred(volumeId);
            throw;
        }

        if (!inserted)
        {
            // A concurrent PUT created the same resource first: ours is discarded entirely.
            _services.Volumes.DeleteAndShred(volumeId);
            throw new ArmException(409, "Conflict", $"The {Noun} '{name}' was created by a concurrent request; retry to update it.");
        }

        return record;
    }

    private async Task<Made> CreateEmptyAsync(CreateContext context, CancellationToken cancellationToken)
    {
        RequireDiskOption("Empty");
        var sizeBytes = DiskServices.RequireSizeGb(
            context.SizeGb ?? throw new ArmException(400, "InvalidParameter", "properties.diskSizeGB is required for createOption Empty."),
            "properties.diskSizeGB");
        var encryption = Resolve(context, inherited: null);
        await CreateVolumeAsync(context, encryption, sizeBytes, cancellationToken);
        return new Made(sizeBytes, DiskStates.Unattached, encryption, new JsonObject { ["createOption"] = "Empty" });
    }

    private async Task<Made> CreateForUploadAsync(CreateContext context, JsonElement creationData, CancellationToken cancellationToken)
    {
        RequireDiskOption("Upload");
        var uploadSize = JsonBody.OptionalInt64(creationData, "uploadSizeBytes", "properties.creationData")
            ?? throw new ArmException(400, "InvalidParameter", "properties.creationData.uploadSizeBytes is required for createOption Upload: the size of the VHD to upload, footer included.");
        if (uploadSize < MinUploadSizeBytes || uploadSize > MaxUploadSizeBytes || uploadSize % 512 != 0)
        {
            throw new ArmException(400, "InvalidParameter",
                $"properties.creationData.uploadSizeBytes {uploadSize} must be a multiple of 512 between {MinUploadSizeBytes} (20 MiB + 512-byte footer) and {MaxUploadSizeBytes} bytes.");
        }

        var encryption = Resolve(context, inherited: null);
        await CreateVolumeAsync(context, encryption, uploadSize, cancellationToken);
        return new Made(uploadSize, DiskStates.ReadyToUpload, encryption, new JsonObject { ["createOption"] = "Upload", ["uploadSizeBytes"] = uploadSize });
    }

    private async Task<Made> CreateCopyAsync(CreateContext context, JsonElement creationData, CancellationToken cancellationToken)
    {
        var sourceId = JsonBody.OptionalString(creationData, "sourceResourceId", "properties.creationData")
            ?? throw new ArmException(400, "InvalidParameter", "properties.creationData.sourceResourceId is required for createOption Copy: the id of a disk or snapshot.");
        if (!ResourceId.TryParse(sourceId, out var parsed)
            || !(parsed.ResourceType.Equals($"{ComputeProvider.Namespace}/{DisksTypeName}", StringComparison.OrdinalIgnoreCase)
                || parsed.ResourceType.Equals($"{ComputeProvider.Namespace}/{SnapshotsTypeName}", StringComparison.OrdinalIgnoreCase)))
        {
            throw new ArmException(400, "InvalidParameter", $"sourceResourceId '{sourceId}' is not the id of a disk or a snapshot.");
        }

        _services.Encryption.RequireLinkedAction(context.Request.Caller, $"{parsed.ResourceType}/read", sourceId);
        var source = _services.Store.Find(sourceId)
            ?? throw new ArmException(404, "NotFound", $"The source '{sourceId}' was not found.");
        if (source.DiskState is DiskStates.ReadyToUpload or DiskStates.ActiveUpload)
        {
            throw new ArmException(409, "OperationNotAllowed", $"The source disk '{source.Id}' is waiting for an upload ({source.DiskState}): finish the upload with endGetAccess first.");
        }

        RequireSameRegion(source.Location, source.Id, context.Location);
        var sourceEncryption = new DiskEncryption(source.EncryptionType, source.EncryptionSetId);
        RequireSameSubscriptionForCustomerKey(sourceEncryption, source.SubscriptionId, source.Id, context.Request.SubscriptionId);
        var encryption = Resolve(context, sourceEncryption);
        var shared = encryption.IsSameAs(sourceEncryption);
        if (!shared && context.Incremental)
        {
            throw new ArmException(400, "InvalidParameter",
                $"An incremental snapshot keeps the encryption of its source ({sourceEncryption.Describe()}); it was asked for {encryption.Describe()}. " +
                "Take a full snapshot (incremental: false) to re-encrypt under another key, or omit encryption.");
        }

        if (!shared && source.Kind == DiskResourceKind.Snapshot && source.Incremental)
        {
            throw new ArmException(400, "InvalidParameter",
                $"The snapshot '{source.Id}' is incremental, so what is made from it keeps its encryption ({sourceEncryption.Describe()}); it was asked for {encryption.Describe()}. " +
                "Make a disk with the snapshot's encryption first, or use a full snapshot.");
        }

        var sizeBytes = _kind == DiskResourceKind.Snapshot ? source.SizeBytes : TargetSize(context.SizeGb, source.SizeBytes, source.Id);
        var creation = new JsonObject { ["createOption"] = "Copy", ["sourceResourceId"] = source.Id, ["sourceUniqueId"] = source.VolumeId.ToString() };
        await MakeFromSourceAsync(context, source.VolumeId, sourceEncryption, encryption, sizeBytes, cancellationToken);
        return new Made(sizeBytes, DiskStates.Unattached, encryption, creation, source.OsType, source.HyperVGeneration);
    }

    private async Task<Made> CreateFromImageAsync(CreateContext context, JsonElement creationData, CancellationToken cancellationToken)
    {
        RequireDiskOption("FromImage");
        if (JsonBody.Property(creationData, "galleryImageReference") is not null)
        {
            throw new ArmException(400, "InvalidParameter", "galleryImageReference is not supported: there are no galleries here. Use imageReference.id with a Microsoft.Compute/images id.");
        }

        var reference = JsonBody.OptionalObject(creationData, "imageReference", "properties.creationData")
            ?? throw new ArmException(400, "InvalidParameter",
                "properties.creationData.imageReference is required for createOption FromImage: {\"id\": \"<image id>\", \"lun\": <data disk lun, omit for the OS disk>} " +
                "with a Microsoft.Compute/images id or a platform image id (/Subscriptions/{sub}/Providers/Microsoft.Compute/Locations/{loc}/Publishers/{p}/ArtifactTypes/VMImage/Offers/{o}/Skus/{s}/Versions/{v}).");
        var imageId = JsonBody.OptionalString(reference, "id", "properties.creationData.imageReference")
            ?? throw new ArmException(400, "InvalidParameter", "properties.creationData.imageReference.id is required: the id of a Microsoft.Compute/images resource or of a platform (marketplace) image version.");
        var lun = JsonBody.OptionalInt64(reference, "lun", "properties.creationData.imageReference");
        if (PlatformImageIds.TryParse(imageId, out _, out var imageLocation, out var platformReference))
        {
            return await CreateFromPlatformImageAsync(context, imageId, imageLocation, platformReference, lun, cancellationToken);
        }

        if (!ResourceId.TryParse(imageId, out var parsed) || !parsed.ResourceType.Equals(ImagesResourceType.ResourceType, StringComparison.OrdinalIgnoreCase))
        {
            throw new ArmException(400, "InvalidParameter",
                $"imageReference.id '{imageId}' is neither a Microsoft.Compute/images id nor a platform image id " +
                "(/Subscriptions/{sub}/Providers/Microsoft.Compute/Locations/{loc}/Publishers/{p}/ArtifactTypes/VMImage/Offers/{o}/Skus/{s}/Versions/{v}); gallery images are not available here.");
        }

        _services.Encryption.RequireLinkedAction(context.Request.Caller, $"{ImagesResourceType.ResourceType}/read", imageId);
        var image = _services.Store.FindImage(imageId) ?? throw new ArmException(404, "NotFound", $"The image '{imageId}' was not found.");
        var imageDisk = lun is null
            ? image.OsDisk ?? throw new ArmException(400, "InvalidParameter", $"The image '{image.Id}' has no OS disk.")
            : image.DataDisks.FirstOrDefault(d => d.Lun == lun)
              ?? throw new ArmException(400, "InvalidParameter",
                  $"The image '{image.Id}' has no data disk at lun {lun}; its data disks are at luns [{string.Join(", ", image.DataDisks.Select(d => d.Lun))}].");
        RequireSameRegion(image.Location, image.Id, context.Location);
        var imageEncryption = new DiskEncryption(imageDisk.EncryptionType, imageDisk.EncryptionSetId);
        RequireSameSubscriptionForCustomerKey(imageEncryption, image.SubscriptionId, image.Id, context.Request.SubscriptionId);
        var encryption = Resolve(context, imageEncryption);
        var sizeBytes = TargetSize(context.SizeGb, imageDisk.SizeBytes, image.Id);
        var imageReference = new JsonObject { ["id"] = image.Id };
        if (lun is not null)
        {
            imageReference["lun"] = lun;
        }

        await MakeFromSourceAsync(context, imageDisk.VolumeId, imageEncryption, encryption, sizeBytes, cancellationToken);
        return new Made(sizeBytes, DiskStates.Unattached, encryption,
            new JsonObject { ["createOption"] = "FromImage", ["imageReference"] = imageReference, ["sourceUniqueId"] = imageDisk.VolumeId.ToString() },
            lun is null ? imageDisk.OsType : null, image.HyperVGeneration);
    }

    /// <summary>
    /// A disk from a built-in marketplace image: the image's volume in this region (generated on first use) is copied
    /// re-encrypting under fresh DEKs and the requested encryption — never a clone, so no customer disk shares a DEK
    /// with the public image.
    /// </summary>
    private async Task<Made> CreateFromPlatformImageAsync(
        CreateContext context, string imageId, string imageLocation, MarketplaceImageReference reference, long? lun, CancellationToken cancellationToken)
    {
        var marketplace = _services.Marketplace
            ?? throw new ArmException(400, "InvalidParameter", $"imageReference.id '{imageId}' is a platform image, but this server has no marketplace images; use a Microsoft.Compute/images id.");
        if (lun is not null)
        {
            throw new ArmException(400, "InvalidParameter",
                $"The platform image '{imageId}' has no data disks (lun {lun}); omit imageReference.lun to make its OS disk.");
        }

        RequireSameRegion(imageLocation, imageId, context.Location);
        var image = marketplace.Resolve(reference);
        var encryption = Resolve(context, inherited: null);
        var sizeBytes = TargetSize(context.SizeGb, image.SizeBytes, imageId);
        MarketplaceVolume volume;
        try
        {
            volume = await marketplace.GetVolumeAsync(image, context.Location, cancellationToken);
        }
        catch (KeyAccessException e)
        {
            throw DiskEncryptionPolicy.KeyError(e, $"generate the platform image '{image.Publisher}/{image.Offer}/{image.Sku}/{image.Version}' in region '{context.Location}'");
        }

        await MakeFromSourceAsync(context, volume.VolumeId, DiskEncryption.Platform, encryption, sizeBytes, cancellationToken, alwaysCopy: true);
        var creation = new JsonObject
        {
            ["createOption"] = "FromImage",
            ["imageReference"] = new JsonObject { ["id"] = PlatformImageIds.Format(context.Request.SubscriptionId, DiskEncryptionPolicy.Region(context.Location), image) },
        };
        return new Made(sizeBytes, DiskStates.Unattached, encryption, creation, image.OsType, image.HyperVGeneration);
    }

    /// <summary>Same encryption: an O(1) snapshot or clone sharing the source's DEKs. Another one (or <paramref name="alwaysCopy"/>): a re-encrypting copy.</summary>
    private async Task MakeFromSourceAsync(
        CreateContext context, Guid sourceVolumeId, DiskEncryption sourceEncryption, DiskEncryption encryption, long sizeBytes, CancellationToken cancellationToken,
        bool alwaysCopy = false)
    {
        if (encryption.IsSameAs(sourceEncryption) && !alwaysCopy)
        {
            if (_kind == DiskResourceKind.Snapshot)
            {
                _services.Volumes.SnapshotSharingKeys(sourceVolumeId, context.VolumeId);
            }
            else
            {
                _services.Volumes.CloneSharingKeys(sourceVolumeId, context.VolumeId, sizeBytes);
            }

            return;
        }

        var plan = await _services.Encryption.PlanAsync(encryption, context.Location, cancellationToken);
        try
        {
            await _services.Volumes.CopyReencryptingAsync(sourceVolumeId, context.VolumeId, sizeBytes, plan, asSnapshot: _kind == DiskResourceKind.Snapshot, cancellationToken);
        }
        catch (KeyAccessException e)
        {
            // Either the source's key (unwrap) or the new one (wrap) was refused; the message names which.
            throw DiskEncryptionPolicy.KeyError(e, $"re-encrypt the source ({sourceEncryption.Describe()}) under {encryption.Describe()}");
        }
    }

    private async Task CreateVolumeAsync(CreateContext context, DiskEncryption encryption, long sizeBytes, CancellationToken cancellationToken)
    {
        var plan = await _services.Encryption.PlanAsync(encryption, context.Location, cancellationToken);
        try
        {
            await _services.Volumes.CreateEmptyAsync(context.VolumeId, sizeBytes, plan, cancellationToken);
        }
        catch (KeyAccessException e)
        {
            throw DiskEncryptionPolicy.KeyError(e, $"wrap the new {Noun}'s data key under {encryption.Describe()}");
        }
    }

    // ── PATCH (and PUT of an existing resource) ─────────────────────────────────────────────

    private async Task<DiskRecord> UpdateAsync(ProviderRequest request, DiskRecord existing, JsonElement body, bool replace, CancellationToken cancellationToken)
    {
        var properties = JsonBody.OptionalObject(body, "properties", "body");
        if (replace)
        {
            var location = JsonBody.RequireLocation(body);
            if (!DiskEncryptionPolicy.SameRegion(location, existing.Location))
            {
                throw new ArmException(400, "InvalidResourceLocation",
                    $"The {Noun} '{existing.Name}' already exists in location '{existing.Location}'; a resource cannot change its location.");
            }

            var createOption = properties is { } p && JsonBody.OptionalObject(p, "creationData", "properties") is { } creation
                ? JsonBody.OptionalString(creation, "createOption", "properties.creationData")
                : null;
            if (createOption is not null && !createOption.Equals(existing.CreateOption, StringComparison.OrdinalIgnoreCase))
            {
                throw new ArmException(409, "PropertyChangeNotAllowed",
                    $"Changing property 'creationData.createOption' is not allowed: the {Noun} '{existing.Name}' was created with '{existing.CreateOption}'.");
            }
        }

        var tags = replace || JsonBody.HasProperty(body, "tags") ? JsonBody.Tags(body).ToJsonString() : existing.TagsJson;
        var sku = JsonBody.OptionalObject(body, "sku", "body") is not null
            ? DiskServices.CanonicalSku(SkuName(body), _kind == DiskResourceKind.Disk ? DiskSkus : SnapshotSkus, Noun)
            : existing.SkuName;
        var sizeGb = properties is { } props1 ? JsonBody.OptionalInt64(props1, "diskSizeGB", "properties") : null;
        var requested = properties is { } props2 ? DiskEncryptionPolicy.Parse(JsonBody.Property(props2, "encryption"), "properties.encryption") : null;

        var currentEncryption = new DiskEncryption(existing.EncryptionType, existing.EncryptionSetId);
        var encryption = requested is null ? currentEncryption : _services.Encryption.Resolve(requested, currentEncryption, request.SubscriptionId, existing.Location, request.Caller);
        var newSize = NewSize(existing, sizeGb);
        var updated = existing with { TagsJson = tags, SkuName = sku };
        var changesEncryption = !encryption.IsSameAs(currentEncryption);
        if (newSize != existing.SizeBytes || changesEncryption)
        {
            using var claim = Claim(existing, changesEncryption ? "change its encryption" : "grow it");
            if (newSize != existing.SizeBytes)
            {
                _services.Volumes.Resize(existing.VolumeId, newSize);
                updated = updated with { SizeBytes = newSize };
            }

            if (changesEncryption)
            {
                await RewrapAsync(existing, currentEncryption, encryption, cancellationToken);
                updated = updated with { EncryptionType = encryption.Type, EncryptionSetId = encryption.EncryptionSetId };
            }

            _services.Store.Update(updated);
        }
        else
        {
            _services.Store.Update(updated);
        }

        return _services.Store.Find(existing.Id) ?? updated;
    }

    private long NewSize(DiskRecord existing, long? sizeGb)
    {
        if (sizeGb is not { } gb || gb == DiskServices.SizeGb(existing.SizeBytes))
        {
            return existing.SizeBytes;
        }

        var bytes = DiskServices.RequireSizeGb(gb, "properties.diskSizeGB");
        if (_kind == DiskResourceKind.Snapshot)
        {
            throw new ArmException(400, "BadRequest", $"A snapshot cannot be resized: '{existing.Name}' is {DiskServices.SizeGb(existing.SizeBytes)} GiB; make a disk from it with the size you need.");
        }

        if (existing.DiskState is DiskStates.ReadyToUpload or DiskStates.ActiveUpload)
        {
            throw new ArmException(409, "OperationNotAllowed", $"The disk '{existing.Name}' is waiting for an upload ({existing.DiskState}); resize it after the upload ends.");
        }

        return bytes < existing.SizeBytes
            ? throw new ArmException(400, "BadRequest",
                $"Disk size reduction is not supported: '{existing.Name}' is {DiskServices.SizeGb(existing.SizeBytes)} GiB and {gb} GiB was requested. A disk can only grow.")
            : bytes;
    }

    /// <summary>
    /// Platform ↔ customer key and set → set: the DEK is re-wrapped under the new key; no data is rewritten.
    /// The number of layers cannot change (that would rewrite the data): use Copy to a new disk instead.
    /// </summary>
    private async Task RewrapAsync(DiskRecord disk, DiskEncryption from, DiskEncryption to, CancellationToken cancellationToken)
    {
        if (disk.Incremental)
        {
            throw new ArmException(400, "OperationNotAllowed",
                $"The snapshot '{disk.Name}' is incremental: it keeps the encryption of its disk ({from.Describe()}). Copy it to a full snapshot to change the key.");
        }

        if (from.LayerCount != to.LayerCount)
        {
            throw new ArmException(409, "OperationNotAllowed",
                $"Changing the {Noun} '{disk.Name}' from {from.Type} ({from.LayerCount} layer(s)) to {to.Type} ({to.LayerCount} layer(s)) would rewrite its data, which an update does not do. " +
                $"Create a new {Noun} with createOption Copy from this one and the encryption you want (a re-encrypting copy), then delete this one.");
        }

        var target = await _services.Encryption.InnerTargetAsync(to, disk.Location, cancellationToken);
        try
        {
            await _services.DataKeys.RewrapAsync(disk.VolumeId, KeyLayer.Inner, target, cancellationToken);
        }
        catch (KeyAccessException e)
        {
            throw DiskEncryptionPolicy.KeyError(e, $"re-wrap the data key of {Noun} '{disk.Name}' from {from.Describe()} to {to.Describe()}");
        }
    }

    // ── DELETE ─────────────────────────────────────────────────────────────────────────────

    private Task<bool> DeleteAsync(string id, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (_services.Store.Find(id) is not { } disk)
        {
            return Task.FromResult(false);
        }

        using (Claim(disk, "delete it", _kind == DiskResourceKind.Disk ? DeletableDiskStates : UnattachedOnly))
        {
            // Volume first (the engine refuses while it is open), then the wrapped DEKs, then the row.
            _services.Volumes.DeleteAndShred(disk.VolumeId);
            _services.Store.Delete(disk.Id);
        }

        return Task.FromResult(true);
    }

    // ── SAS access ─────────────────────────────────────────────────────────────────────────

    private async Task<ProviderResult> BeginGetAccessAsync(ProviderRequest request, DiskRecord disk, CancellationToken cancellationToken)
    {
        var body = JsonBody.RequireObject(request.Body);
        var accessText = JsonBody.OptionalString(body, "access", "body")
            ?? throw new ArmException(400, "InvalidParameter", "access is required: \"Read\" (or \"Write\" for an Upload disk).");
        var access = accessText.ToUpperInvariant() switch
        {
            "READ" => DiskAccessLevel.Read,
            "WRITE" => DiskAccessLevel.Write,
            _ => throw new ArmException(400, "InvalidParameter", $"access '{accessText}' is not supported: use \"Read\" (or \"Write\" for an Upload disk)."),
        };
        var seconds = JsonBody.OptionalInt64(body, "durationInSeconds", "body") ?? 3600;
        if (seconds is < 1 or > 5 * 24 * 3600)
        {
            throw new ArmException(400, "InvalidParameter", $"durationInSeconds must be between 1 and 432000 (5 days); it was {seconds}.");
        }

        if (access == DiskAccessLevel.Write && (_kind != DiskResourceKind.Disk || disk.DiskState is not (DiskStates.ReadyToUpload or DiskStates.ActiveUpload)))
        {
            throw new ArmException(409, "OperationNotAllowed",
                $"Write access is granted only to a disk created with createOption Upload, before its upload ends; '{disk.Name}' is {disk.DiskState}. Ask for Read access.");
        }

        if (access == DiskAccessLevel.Read && disk.DiskState is DiskStates.ReadyToUpload or DiskStates.ActiveUpload)
        {
            throw new ArmException(409, "OperationNotAllowed",
                $"The disk '{disk.Name}' is waiting for an upload ({disk.DiskState}): ask for Write access to upload, then endGetAccess.");
        }

        var grants = RequireGrants();
        Uri sas;
        try
        {
            sas = await grants.GrantAsync(disk.ToInfo(), access, TimeSpan.FromSeconds(seconds), request.BaseUri, cancellationToken);
        }
        catch (KeyAccessException e)
        {
            throw DiskEncryptionPolicy.KeyError(e, $"open {Noun} '{disk.Name}' ({disk.EncryptionType}) for SAS access");
        }

        return new ProviderResult(200, new JsonObject { ["accessSAS"] = sas.AbsoluteUri });
    }

    private async Task<ProviderResult> EndGetAccessAsync(DiskRecord disk, CancellationToken cancellationToken)
    {
        await RequireGrants().EndAsync(disk.ToInfo(), cancellationToken);
        return new ProviderResult(200, null);
    }

    private IDiskAccessGrants RequireGrants() =>
        _services.Grants ?? throw new ArmException(503, "ServiceUnavailable", "SAS access to disks is not available in this server.");

    // ── helpers ────────────────────────────────────────────────────────────────────────────

    private DiskDirectory.DiskClaim Claim(DiskRecord disk, string doing, IReadOnlyCollection<string>? allowedStates = null)
    {
        var claim = _services.Directory.TryClaim(disk.Id, doing, allowedStates ?? UnattachedOnly, out var state, out var busyWith);
        if (claim is not null)
        {
            return claim;
        }

        var why = busyWith is not null ? $"another operation is running on it ({busyWith})"
            : state == DiskStates.Attached ? $"it is attached to '{disk.ManagedBy}': detach it first"
            : state is DiskStates.ActiveSas or DiskStates.ActiveUpload ? $"it has an active SAS ({state}): call endGetAccess first"
            : state is null ? "it was deleted meanwhile"
            : $"it is {state}";
        throw new ArmException(409, "OperationNotAllowed", $"Cannot {doing} for {Noun} '{disk.Name}': {why}.");
    }

    private DiskEncryption Resolve(CreateContext context, DiskEncryption? inherited) =>
        _services.Encryption.Resolve(context.Requested, inherited, context.Request.SubscriptionId, context.Location, context.Request.Caller);

    private void RequireDiskOption(string option)
    {
        if (_kind != DiskResourceKind.Disk)
        {
            throw new ArmException(400, "InvalidParameter", $"createOption '{option}' is not supported for snapshots: a snapshot is made with createOption Copy from a disk or snapshot.");
        }
    }

    private static void RequireSameRegion(string sourceLocation, string sourceId, string location)
    {
        if (!DiskEncryptionPolicy.SameRegion(sourceLocation, location))
        {
            throw new ArmException(400, "InvalidParameter",
                $"The source '{sourceId}' is in region '{sourceLocation}', the new resource in '{location}': copies stay in their source's region.");
        }
    }

    private static void RequireSameSubscriptionForCustomerKey(DiskEncryption sourceEncryption, Guid sourceSubscription, string sourceId, Guid subscriptionId)
    {
        if (sourceEncryption.EncryptionSetId is not null && sourceSubscription != subscriptionId)
        {
            throw new ArmException(400, "InvalidParameter",
                $"The source '{sourceId}' is encrypted with a customer key ({sourceEncryption.Describe()}): what is made from it must be in the same subscription ({sourceSubscription}).");
        }
    }

    private static long TargetSize(long? sizeGb, long sourceBytes, string sourceId)
    {
        if (sizeGb is not { } gb)
        {
            return sourceBytes;
        }

        var bytes = DiskServices.RequireSizeGb(gb, "properties.diskSizeGB");
        if (gb == DiskServices.SizeGb(sourceBytes))
        {
            return sourceBytes;
        }

        return bytes < sourceBytes
            ? throw new ArmException(400, "BadRequest", $"properties.diskSizeGB {gb} is smaller than the source '{sourceId}' ({DiskServices.SizeGb(sourceBytes)} GiB): a copy can only be the same size or larger.")
            : bytes;
    }

    private string CanonicalCreateOption(string option)
    {
        if (SupportedDiskOptions.FirstOrDefault(o => o.Equals(option, StringComparison.OrdinalIgnoreCase)) is { } supported)
        {
            return supported;
        }

        var known = KnownUnsupportedOptions.FirstOrDefault(o => o.Equals(option, StringComparison.OrdinalIgnoreCase));
        throw new ArmException(400, "InvalidParameter", known is not null
            ? $"createOption '{known}' is not supported here: there are no storage accounts, galleries or restore points. Use {(_kind == DiskResourceKind.Disk ? "Empty, Copy, FromImage or Upload" : "Copy")}."
            : $"createOption '{option}' is not a known create option. Use {(_kind == DiskResourceKind.Disk ? "Empty, Copy, FromImage or Upload" : "Copy")}.");
    }

    private static string? SkuName(JsonElement body) =>
        JsonBody.OptionalObject(body, "sku", "body") is { } sku ? JsonBody.OptionalString(sku, "name", "sku") : null;

    private DiskRecord RequireExisting(string id, string group, string name) =>
        _services.Store.Find(id) is { } disk && disk.Kind == _kind
            ? disk
            : throw new ArmException(404, "ResourceNotFound", $"The Resource '{ResourceType}/{name}' under resource group '{group}' was not found.");

    private string IdOf(Guid subscriptionId, string group, string name) =>
        $"/subscriptions/{subscriptionId}/resourceGroups/{group}/providers/{ResourceType}/{name}";

    private Uri ListUri(ProviderRequest request) =>
        new(request.BaseUri, request.ResourceGroup is { } rg
            ? $"subscriptions/{request.SubscriptionId}/resourceGroups/{rg}/providers/{ResourceType}"
            : $"subscriptions/{request.SubscriptionId}/providers/{ResourceType}");

    private static bool IsAccessAction(string segment) => Canonical(segment) is "beginGetAccess" or "endGetAccess";

    private static string Canonical(string segment) =>
        segment.Equals("beginGetAccess", StringComparison.OrdinalIgnoreCase) ? "beginGetAccess"
        : segment.Equals("endGetAccess", StringComparison.OrdinalIgnoreCase) ? "endGetAccess"
        : segment;

    internal JsonObject Render(DiskRecord disk)
    {
        var encryption = new JsonObject { ["type"] = disk.EncryptionType };
        if (disk.EncryptionSetId is not null)
        {
            encryption["diskEncryptionSetId"] = disk.EncryptionSetId;
        }

        var properties = new JsonObject
        {
            ["creationData"] = JsonNode.Parse(disk.CreationDataJson),
            ["diskSizeGB"] = DiskServices.SizeGb(disk.SizeBytes),
            ["diskSizeBytes"] = disk.SizeBytes,
            ["uniqueId"] = disk.VolumeId.ToString(),
            ["timeCreated"] = disk.TimeCreated.ToString("o", CultureInfo.InvariantCulture),
            ["provisioningState"] = "Succeeded",
            ["diskState"] = disk.DiskState,
            ["encryption"] = encryption,
            ["networkAccessPolicy"] = "AllowAll",
            ["publicNetworkAccess"] = "Enabled",
        };
        if (disk.OsType is not null)
        {
            properties["osType"] = disk.OsType;
        }

        if (disk.HyperVGeneration is not null)
        {
            properties["hyperVGeneration"] = disk.HyperVGeneration;
        }

        if (_kind == DiskResourceKind.Snapshot)
        {
            properties["incremental"] = disk.Incremental;
        }

        var result = new JsonObject
        {
            ["id"] = disk.Id,
            ["name"] = disk.Name,
            ["type"] = ResourceType,
            ["location"] = disk.Location,
            ["tags"] = JsonNode.Parse(disk.TagsJson),
            ["sku"] = new JsonObject { ["name"] = disk.SkuName, ["tier"] = DiskServices.SkuTier(disk.SkuName) },
        };
        if (disk.ZonesJson is not null)
        {
            result["zones"] = JsonNode.Parse(disk.ZonesJson);
        }

        if (disk.ManagedBy is not null)
        {
            result["managedBy"] = disk.ManagedBy;
        }

        result["properties"] = properties;
        return result;
    }

    private sealed record CreateContext(ProviderRequest Request, string Location, Guid VolumeId, RequestedEncryption? Requested, long? SizeGb, bool Incremental);

    private sealed record Made(long SizeBytes, string State, DiskEncryption Encryption, JsonObject CreationData, string? OsType = null, string? HyperVGeneration = null);
}
