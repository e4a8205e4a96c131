// The scale-set model a PUT (or a PATCH merged onto the stored model) describes: location, sku with
// capacity, and properties.virtualMachineProfile, checked before any instance is made, plus the VM
// body each instance is created from. Invariant: every refusal is a 400 naming the property and the
// fix; what is stored and echoed never holds adminPassword, customData or extension protectedSettings.
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ironclad.Compute.Disks;
using Ironclad.ResourceManager.Ids;
using Ironclad.ResourceManager.Providers;

namespace Ironclad.Compute.ScaleSets;

internal sealed record ScaleSetModel(
    string Location,
    JsonObject Tags,
    string SkuName,
    string? SkuTier,
    long? Capacity,
    string? ZonesJson,
    JsonObject Properties,
    IReadOnlyList<(string Path, string Id)> EncryptionSetIds)
{
    public const int MaxCapacity = 1000;
    private const int MaxLun = 63;
    private const string ProfilePath = "properties.virtualMachineProfile";
    private static readonly string[] OrchestrationModes = ["Uniform", "Flexible"];
    private static readonly string[] UpgradeModes = ["Manual", "Automatic", "Rolling"];
    private static readonly string[] GalleryReferences = ["sharedGalleryImageId", "communityGalleryImageId"];
    private static readonly string[] MarketplaceFields = ["publisher", "offer", "sku"];
    private static readonly string[] UnmanagedDiskFields = ["vhdContainers", "image", "vhd"];
    private static readonly JsonNodeOptions CaseInsensitive = new() { PropertyNameCaseInsensitive = true };
    private static readonly string[] ReadOnlyProperties = ["provisioningState", "uniqueId", "timeCreated"];

    /// <summary>Reads and checks a PUT body (or a PATCH merged onto the stored model).</summary>
    public static ScaleSetModel Parse(JsonElement body)
    {
        var location = JsonBody.RequireLocation(body);
        var tags = JsonBody.Tags(body);
        var zones = JsonBody.Zones(body);
        var sku = JsonBody.OptionalObject(body, "sku", "body")
            ?? throw new ArmException(400, "InvalidParameter", "sku is required: {\"name\": \"<vm size, e.g. Standard_D2s_v3>\", \"capacity\": <0-1000>}.");
        var skuName = JsonBody.OptionalString(sku, "name", "sku") is { Length: > 0 } name
            ? name
            : throw new ArmException(400, "InvalidParameter", "sku.name is required: the VM size of every instance, e.g. Standard_D2s_v3.");
        var skuTier = JsonBody.OptionalString(sku, "tier", "sku");
        var capacity = JsonBody.OptionalInt64(sku, "capacity", "sku");
        if (capacity is < 0 or > MaxCapacity)
        {
            throw new ArmException(400, "InvalidParameter", $"sku.capacity {capacity} is out of range: a scale set here has 0 to {MaxCapacity} instances.");
        }

        var properties = JsonBody.OptionalObject(body, "properties", "body")
            ?? throw new ArmException(400, "InvalidParameter", $"properties is required: a scale set needs {ProfilePath}.storageProfile.");
        var encryptionSets = new List<(string, string)>();
        CheckProperties(properties, encryptionSets);

        var stored = JsonNode.Parse(properties.GetRawText())!.AsObject();
        foreach (var readOnly in ReadOnlyProperties)
        {
            RemoveIgnoringCase(stored, readOnly);
        }

        Sanitize(stored);
        SetDefault(stored, "orchestrationMode", () => "Uniform");
        SetDefault(stored, "upgradePolicy", () => new JsonObject { ["mode"] = "Manual" });
        return new ScaleSetModel(location, tags, skuName, skuTier, capacity, zones, stored, encryptionSets);
    }

    /// <summary>The stored model as a body (what a PATCH is merged onto).</summary>
    public static JsonObject ToBody(ScaleSetRecord set, long capacity)
    {
        ArgumentNullException.ThrowIfNull(set);
        var sku = new JsonObject { ["name"] = set.SkuName, ["capacity"] = capacity };
        if (set.SkuTier is not null)
        {
            sku["tier"] = set.SkuTier;
        }

        var body = new JsonObject
        {
            ["location"] = set.Location,
            ["tags"] = JsonNode.Parse(set.TagsJson),
            ["sku"] = sku,
            ["properties"] = JsonNode.Parse(set.PropertiesJson),
        };
        if (set.ZonesJson is not null)
        {
            body["zones"] = JsonNode.Parse(set.ZonesJson);
        }

        return body;
    }

    /// <summary>RFC 7396 merge: objects merge member by member, null removes, anything else (arrays too) replaces.</summary>
    public static JsonNode? MergePatch(JsonNode? target, JsonNode? patch)
    {
        if (patch is not JsonObject patchObject)
        {
            return patch?.DeepClone();
        }

        var result = target is JsonObject targetObject ? targetObject.DeepClone().AsObject() : [];
        foreach (var (name, value) in patchObject)
        {
            var existing = result.FirstOrDefault(p => p.Key.Equals(name, StringComparison.OrdinalIgnoreCase));
            var key = existing.Key ?? name;
            if (value is null)
            {
                result.Remove(key);
            }
            else
            {
                var merged = MergePatch(existing.Key is null ? null : existing.Value, value);
                result.Remove(key);
                result[key] = merged;
            }
        }

        return result;
    }

    /// <summary>The virtualMachines PUT body of instance <paramref name="instanceId"/>: the profile with the set's VM size, a computer name and disks deleted with the instance.</summary>
    public static JsonObject InstanceBody(ScaleSetRecord set, string instanceId)
    {
        ArgumentNullException.ThrowIfNull(set);
        var profile = JsonNode.Parse(set.PropertiesJson, CaseInsensitive)!.AsObject()["virtualMachineProfile"]?.DeepClone().AsObject()
            ?? throw new InvalidOperationException($"The stored scale set '{set.Id}' has no virtualMachineProfile.");
        var properties = new JsonObject(CaseInsensitive) { ["hardwareProfile"] = new JsonObject { ["vmSize"] = set.SkuName } };
        foreach (var (name, value) in profile)
        {
            properties[name] = value?.DeepClone();
        }

        if (properties["storageProfile"] is JsonObject storage)
        {
            var osDisk = storage["osDisk"] as JsonObject ?? [];
            osDisk["createOption"] = "FromImage";
            osDisk["deleteOption"] = "Delete";
            storage["osDisk"] = osDisk;
            if (storage["dataDisks"] is JsonArray dataDisks)
            {
                foreach (var dataDisk in dataDisks.OfType<JsonObject>())
                {
                    dataDisk["deleteOption"] = "Delete";
                }
            }
        }

        if (properties["osProfile"] is JsonObject osProfile)
        {
            var prefix = osProfile["computerNamePrefix"] is JsonValue value && value.TryGetValue<string>(out var text) ? text : set.Name;
            RemoveIgnoringCase(osProfile, "computerNamePrefix");
            osProfile["computerName"] = ComputerName(prefix, long.Parse(instanceId, CultureInfo.InvariantCulture));
        }

        return new JsonObject { ["location"] = set.Location, ["properties"] = properties };
    }

    /// <summary>The cloud's instance computer name: the prefix and the instance id in base 36, six digits ("web000001", "web00000a").</summary>
    public static string ComputerName(string prefix, long instanceId)
    {
        const string digits = "0123456789abcdefghijklmnopqrstuvwxyz";
        var text = new char[6];
        for (var i = text.Length - 1; i >= 0; i--)
        {
            text[i] = digits[(int)(instanceId % 36)];
            instanceId /= 36;
        }

        return prefix + new string(text);
    }

    private static void CheckProperties(JsonElement properties, List<(string, string)> encryptionSets)
    {
        if (JsonBody.OptionalString(properties, "orchestrationMode", "properties") is { } mode
            && !OrchestrationModes.Any(m => m.Equals(mode, StringComparison.OrdinalIgnoreCase)))
        {
            throw new ArmException(400, "InvalidParameter", $"properties.orchestrationMode '{mode}' is not valid: use Uniform or Flexible.");
        }

        if (JsonBody.OptionalObject(properties, "upgradePolicy", "properties") is { } upgrade
            && JsonBody.OptionalString(upgrade, "mode", "properties.upgradePolicy") is { } upgradeMode
            && !UpgradeModes.Any(m => m.Equals(upgradeMode, StringComparison.OrdinalIgnoreCase)))
        {
            throw new ArmException(400, "InvalidParameter", $"properties.upgradePolicy.mode '{upgradeMode}' is not valid: use Manual, Automatic or Rolling.");
        }

        var profile = JsonBody.OptionalObject(properties, "virtualMachineProfile", "properties")
            ?? throw new ArmException(400, "InvalidParameter",
                $"{ProfilePath} is required: it describes every instance ({{\"storageProfile\": {{\"imageReference\", \"osDisk\", \"dataDisks\"}}, \"osProfile\", \"networkProfile\"}}).");
        var storage = JsonBody.OptionalObject(profile, "storageProfile", ProfilePath)
            ?? throw new ArmException(400, "InvalidParameter", $"{ProfilePath}.storageProfile is required: imageReference and osDisk {{\"createOption\": \"FromImage\"}}.");
        const string storagePath = ProfilePath + ".storageProfile";
        CheckImageReference(JsonBody.OptionalObject(storage, "imageReference", storagePath)
            ?? throw new ArmException(400, "InvalidParameter",
                $"{storagePath}.imageReference is required: {{\"id\": \"<image id>\"}} or {{\"publisher\", \"offer\", \"sku\", \"version\"}} — each instance's OS disk is made from it."));

        if (JsonBody.OptionalObject(storage, "osDisk", storagePath) is { } osDisk)
        {
            const string osPath = storagePath + ".osDisk";
            var createOption = JsonBody.OptionalString(osDisk, "createOption", osPath);
            if (createOption is not null && !createOption.Equals("FromImage", StringComparison.OrdinalIgnoreCase))
            {
                throw new ArmException(400, "InvalidParameter",
                    $"{osPath}.createOption '{createOption}' is not valid for a scale set: each instance's OS disk is made from the image, so use FromImage.");
            }

            CheckDisk(osDisk, osPath, encryptionSets);
        }

        if (JsonBody.Property(storage, "dataDisks") is { } dataDisks)
        {
            if (dataDisks.ValueKind != JsonValueKind.Array)
            {
                throw new ArmException(400, "InvalidParameter", $"{storagePath}.dataDisks must be an array.");
            }

            var luns = new HashSet<long>();
            var index = 0;
            foreach (var dataDisk in dataDisks.EnumerateArray())
            {
                var path = $"{storagePath}.dataDisks[{index++}]";
                if (dataDisk.ValueKind != JsonValueKind.Object)
                {
                    throw new ArmException(400, "InvalidParameter", $"{path} must be an object.");
                }

                var lun = JsonBody.OptionalInt64(dataDisk, "lun", path)
                    ?? throw new ArmException(400, "InvalidParameter", $"{path}.lun is required (0-{MaxLun}).");
                if (lun is < 0 or > MaxLun)
                {
                    throw new ArmException(400, "InvalidParameter", $"{path}.lun {lun} must be between 0 and {MaxLun}.");
                }

                if (!luns.Add(lun))
                {
                    throw new ArmException(400, "InvalidParameter", $"{path}.lun {lun} is used by two data disks: each needs its own lun.");
                }

                var createOption = JsonBody.OptionalString(dataDisk, "createOption", path)
                    ?? throw new ArmException(400, "InvalidParameter", $"{path}.createOption is required: Empty (with diskSizeGB) or FromImage.");
                if (createOption.Equals("Empty", StringComparison.OrdinalIgnoreCase))
                {
                    var size = JsonBody.OptionalInt64(dataDisk, "diskSizeGB", path)
                        ?? throw new ArmException(400, "InvalidParameter", $"{path}.diskSizeGB is required for an Empty data disk.");
                    if (size is < 1 or > DiskServices.MaxDiskSizeGb)
                    {
                        throw new ArmException(400, "InvalidParameter", $"{path}.diskSizeGB {size} must be between 1 and {DiskServices.MaxDiskSizeGb}.");
                    }
                }
                else if (!createOption.Equals("FromImage", StringComparison.OrdinalIgnoreCase))
                {
                    throw new ArmException(400, "InvalidParameter",
                        $"{path}.createOption '{createOption}' is not valid for a scale set: every instance gets its own data disk, so use Empty or FromImage (Attach would share one disk).");
                }

                CheckDisk(dataDisk, path, encryptionSets);
            }
        }
    }

    private static void CheckImageReference(JsonElement reference)
    {
        const string path = ProfilePath + ".storageProfile.imageReference";
        foreach (var gallery in GalleryReferences)
        {
            if (JsonBody.Property(reference, gallery) is not null)
            {
                throw new ArmException(400, "InvalidParameter", $"{path}.{gallery} is not supported: there are no galleries here. Use an image id or a marketplace image.");
            }
        }

        var id = JsonBody.OptionalString(reference, "id", path);
        var marketplace = MarketplaceFields.Select(p => JsonBody.OptionalString(reference, p, path)).ToArray();
        if (id is null && marketplace.Any(p => string.IsNullOrEmpty(p)))
        {
            throw new ArmException(400, "InvalidParameter", $"{path} needs either id (a Microsoft.Compute/images id) or publisher, offer, sku and version.");
        }
    }

    private static void CheckDisk(JsonElement disk, string path, List<(string, string)> encryptionSets)
    {
        if (JsonBody.Property(disk, "name") is not null)
        {
            throw new ArmException(400, "InvalidParameter",
                $"{path}.name is not supported on a scale set: each instance names its own disks ({{set}}_{{instanceId}}_OsDisk_1_{{hex}}, {{set}}_{{instanceId}}_disk{{lun+1}}_{{hex}}). Remove it.");
        }

        foreach (var unmanaged in UnmanagedDiskFields)
        {
            if (JsonBody.Property(disk, unmanaged) is not null)
            {
                throw new ArmException(400, "InvalidParameter", $"{path}.{unmanaged} is not supported: disks here are managed disks (use managedDisk).");
            }
        }

        if (JsonBody.OptionalObject(disk, "managedDisk", path) is not { } managedDisk)
        {
            return;
        }

        if (JsonBody.Property(managedDisk, "id") is not null)
        {
            throw new ArmException(400, "InvalidParameter",
                $"{path}.managedDisk.id is not allowed on a scale set: each instance gets disks of its own. Give storageAccountType and diskEncryptionSet instead.");
        }

        if (JsonBody.OptionalIdReference(managedDisk, "diskEncryptionSet", $"{path}.managedDisk") is { } setId)
        {
            if (!ResourceId.TryParse(setId, out var parsed)
                || !parsed.ResourceType.Equals("Microsoft.Compute/diskEncryptionSets", StringComparison.OrdinalIgnoreCase))
            {
                throw new ArmException(400, "InvalidParameter",
                    $"{path}.managedDisk.diskEncryptionSet.id '{setId}' is not a disk encryption set id (/subscriptions/{{sub}}/resourceGroups/{{rg}}/providers/Microsoft.Compute/diskEncryptionSets/{{name}}).");
            }

            encryptionSets.Add(($"{path}.managedDisk.diskEncryptionSet.id", setId));
        }
    }

    /// <summary>Drops what must never be stored or echoed: the admin password, custom data and extension protected settings.</summary>
    private static void Sanitize(JsonObject properties)
    {
        if (Child(properties, "virtualMachineProfile") is not JsonObject profile)
        {
            return;
        }

        if (Child(profile, "osProfile") is JsonObject osProfile)
        {
            RemoveIgnoringCase(osProfile, "adminPassword");
            RemoveIgnoringCase(osProfile, "customData");
        }

        if (Child(profile, "extensionProfile") is JsonObject extensions && Child(extensions, "extensions") is JsonArray list)
        {
            foreach (var extension in list.OfType<JsonObject>())
            {
                RemoveIgnoringCase(extension, "protectedSettings");
                if (Child(extension, "properties") is JsonObject extensionProperties)
                {
                    RemoveIgnoringCase(extensionProperties, "protectedSettings");
                    RemoveIgnoringCase(extensionProperties, "protectedSettingsFromKeyVault");
                }
            }
        }
    }

    private static JsonNode? Child(JsonObject node, string name) =>
        node.FirstOrDefault(p => p.Key.Equals(name, StringComparison.OrdinalIgnoreCase)).Value;

    private static void RemoveIgnoringCase(JsonObject node, string name)
    {
        foreach (var key in node.Select(p => p.Key).Where(k => k.Equals(name, StringComparison.OrdinalIgnoreCase)).ToList())
        {
            node.Remove(key);
        }
    }

    private static void SetDefault(JsonObject node, string name, Func<JsonNode> value)
    {
        if (Child(node, name) is null)
        {
            RemoveIgnoringCase(node, name);
            node[name] = value();
        }
    }
}
