// Reading a virtualMachines PUT/PATCH body: the storage profile (image reference, OS disk, data disks
// at LUNs) checked before anything is made, and the other profiles kept as sent, minus secrets.
// Invariant: every refusal here is a 400 naming the property and the fix, raised before any disk is
// provisioned; adminPassword, customData and secrets never leave this file.
using System.Text.Json;
using System.Text.Json.Nodes;
using Ironclad.Compute.Disks;
using Ironclad.ResourceManager.Providers;

namespace Ironclad.Compute.VirtualMachines;

/// <summary>What the request asks for one disk.</summary>
/// <param name="Lun">Null for the OS disk.</param>
/// <param name="ToBeDetached">A data disk entry marked toBeDetached (PATCH): detach it.</param>
internal sealed record VmDiskRequest(
    int? Lun,
    string CreateOption,
    string? Name,
    long? SizeGb,
    string? ManagedDiskId,
    string? StorageAccountType,
    string? EncryptionSetId,
    string? Caching,
    string? DeleteOption,
    bool ToBeDetached = false)
{
    public string Path => Lun is null ? "properties.storageProfile.osDisk" : $"properties.storageProfile.dataDisks[lun {Lun}]";

    /// <summary>The cloud's defaults: Delete for a disk made with the VM's OS disk, Detach otherwise.</summary>
    public string EffectiveDeleteOption => DeleteOption ?? (Lun is null && CreateOption == "FromImage" ? "Delete" : "Detach");
}

internal static class VmRequest
{
    public const int MaxLun = 63;

    private static readonly string[] SecretOsProfileProperties = ["adminPassword", "customData", "secrets"];
    private static readonly string[] OwnProperties =
        ["hardwareProfile", "osProfile", "storageProfile", "provisioningState", "vmId", "instanceView", "timeCreated"];

    private static readonly string[] OsDiskOptions = ["FromImage", "Attach"];
    private static readonly string[] DataDiskOptions = ["Empty", "Attach", "FromImage"];
    private static readonly string[] DeleteOptions = ["Delete", "Detach"];

    public static JsonElement Properties(JsonElement body) =>
        JsonBody.OptionalObject(body, "properties", "body")
        ?? throw new ArmException(400, "InvalidParameter", "properties is required: a virtual machine needs properties.storageProfile (imageReference and osDisk).");

    /// <summary>osProfile without adminPassword, customData and secrets (never stored, never answered); null when absent.</summary>
    public static string? OsProfileWithoutSecrets(JsonElement properties)
    {
        if (JsonBody.OptionalObject(properties, "osProfile", "properties") is not { } profile)
        {
            return null;
        }

        var node = JsonNode.Parse(profile.GetRawText())!.AsObject();
        foreach (var name in node.Select(p => p.Key).Where(k => SecretOsProfileProperties.Contains(k, StringComparer.OrdinalIgnoreCase)).ToList())
        {
            node.Remove(name);
        }

        return node.ToJsonString();
    }

    public static string? HardwareProfile(JsonElement properties) =>
        JsonBody.OptionalObject(properties, "hardwareProfile", "properties") is { } profile ? profile.GetRawText() : null;

    /// <summary>Every other property (networkProfile, securityProfile, diagnosticsProfile, …) as sent.</summary>
    public static JsonObject ExtraProperties(JsonElement properties)
    {
        var result = new JsonObject();
        foreach (var property in properties.EnumerateObject())
        {
            if (!OwnProperties.Contains(property.Name, StringComparer.OrdinalIgnoreCase) && property.Value.ValueKind != JsonValueKind.Null)
            {
                result[property.Name] = JsonNode.Parse(property.Value.GetRawText());
            }
        }

        return result;
    }

    public static JsonElement? StorageProfile(JsonElement properties) => JsonBody.OptionalObject(properties, "storageProfile", "properties");

    public static JsonElement? ImageReference(JsonElement storageProfile) =>
        JsonBody.OptionalObject(storageProfile, "imageReference", "properties.storageProfile");

    /// <summary>A disk to make (Empty / FromImage) must not name an existing one (an echoed GET body may, for disks the VM has).</summary>
    public static void RequireNoIdForNewDisk(VmDiskRequest request)
    {
        if (request.CreateOption != "Attach" && request.ManagedDiskId is not null)
        {
            throw new ArmException(400, "InvalidParameter",
                $"{request.Path}.managedDisk.id names an existing disk, but createOption is {request.CreateOption}: use createOption Attach for it, or remove the id.");
        }
    }

    public static VmDiskRequest OsDisk(JsonElement storageProfile, bool hasImage)
    {
        const string Path = "properties.storageProfile.osDisk";
        var osDisk = JsonBody.OptionalObject(storageProfile, "osDisk", "properties.storageProfile");
        if (osDisk is null)
        {
            return hasImage
                ? new VmDiskRequest(null, "FromImage", null, null, null, null, null, null, null)
                : throw new ArmException(400, "InvalidParameter",
                    "properties.storageProfile needs an imageReference (marketplace {publisher, offer, sku, version} or {id} of an image) or an osDisk with createOption Attach and managedDisk.id.");
        }

        var option = Canonical(JsonBody.OptionalString(osDisk.Value, "createOption", Path) ?? (hasImage ? "FromImage" : "Attach"), OsDiskOptions, $"{Path}.createOption");
        var request = Disk(osDisk.Value, null, option, Path);
        if (option == "FromImage" && !hasImage)
        {
            throw new ArmException(400, "InvalidParameter", $"{Path}.createOption FromImage needs properties.storageProfile.imageReference.");
        }

        if (option == "Attach")
        {
            if (hasImage)
            {
                throw new ArmException(400, "InvalidParameter", $"{Path}.createOption Attach uses an existing disk: remove properties.storageProfile.imageReference.");
            }

            if (request.ManagedDiskId is null)
            {
                throw new ArmException(400, "InvalidParameter", $"{Path}.managedDisk.id is required for createOption Attach: the id of an Unattached disk.");
            }
        }

        return request;
    }

    /// <summary>The data disks, checked: LUNs 0-63 without duplicates, known create options, ids for Attach, sizes for Empty.</summary>
    public static IReadOnlyList<VmDiskRequest> DataDisks(JsonElement storageProfile)
    {
        if (JsonBody.Property(storageProfile, "dataDisks") is not { } array)
        {
            return [];
        }

        if (array.ValueKind != JsonValueKind.Array)
        {
            throw new ArmException(400, "InvalidParameter", "properties.storageProfile.dataDisks must be an array.");
        }

        var result = new List<VmDiskRequest>();
        var index = 0;
        foreach (var entry in array.EnumerateArray())
        {
            var path = $"properties.storageProfile.dataDisks[{index++}]";
            if (entry.ValueKind != JsonValueKind.Object)
            {
                throw new ArmException(400, "InvalidParameter", $"{path} must be an object.");
            }

            var lun = JsonBody.OptionalInt64(entry, "lun", path)
                ?? throw new ArmException(400, "InvalidParameter", $"{path}.lun is required: a number from 0 to {MaxLun}.");
            if (lun is < 0 or > MaxLun)
            {
                throw new ArmException(400, "InvalidParameter", $"{path}.lun {lun} is out of range: use 0 to {MaxLun}.");
            }

            if (result.Any(d => d.Lun == lun))
            {
                throw new ArmException(400, "InvalidParameter", $"Two data disks use lun {lun}: each data disk needs its own lun (0 to {MaxLun}).");
            }

            var option = Canonical(
                JsonBody.OptionalString(entry, "createOption", path)
                    ?? throw new ArmException(400, "InvalidParameter", $"{path}.createOption is required: Empty, Attach or FromImage."),
                DataDiskOptions, $"{path}.createOption");
            var request = Disk(entry, (int)lun, option, path) with { ToBeDetached = JsonBody.OptionalBool(entry, "toBeDetached", path) ?? false };
            if (option == "Empty" && request.SizeGb is null)
            {
                throw new ArmException(400, "InvalidParameter", $"{path}.diskSizeGB is required for createOption Empty.");
            }

            if (option == "Attach" && request.ManagedDiskId is null)
            {
                throw new ArmException(400, "InvalidParameter", $"{path}.managedDisk.id is required for createOption Attach: the id of an Unattached disk.");
            }

            result.Add(request);
        }

        return result;
    }

    private static VmDiskRequest Disk(JsonElement disk, int? lun, string option, string path)
    {
        var managed = JsonBody.OptionalObject(disk, "managedDisk", path);
        string? managedId = null, storageAccountType = null, setId = null;
        if (managed is { } m)
        {
            managedId = JsonBody.OptionalString(m, "id", $"{path}.managedDisk");
            storageAccountType = JsonBody.OptionalString(m, "storageAccountType", $"{path}.managedDisk");
            setId = JsonBody.OptionalIdReference(m, "diskEncryptionSet", $"{path}.managedDisk");
            if (JsonBody.OptionalObject(m, "securityProfile", $"{path}.managedDisk") is not null)
            {
                throw new ArmException(400, "InvalidParameter",
                    $"{path}.managedDisk.securityProfile (confidential VMs) is not supported: use managedDisk.diskEncryptionSet.id.");
            }
        }

        var deleteOption = JsonBody.OptionalString(disk, "deleteOption", path) is { } d ? Canonical(d, DeleteOptions, $"{path}.deleteOption") : null;
        var sizeGb = JsonBody.OptionalInt64(disk, "diskSizeGB", path);
        if (sizeGb is { } gb && gb is < 1 or > DiskServices.MaxDiskSizeGb)
        {
            throw new ArmException(400, "InvalidParameter", $"{path}.diskSizeGB must be between 1 and {DiskServices.MaxDiskSizeGb} (GiB); it was {gb}.");
        }

        return new VmDiskRequest(lun, option, JsonBody.OptionalString(disk, "name", path), sizeGb, managedId, storageAccountType, setId,
            JsonBody.OptionalString(disk, "caching", path), deleteOption);
    }

    private static string Canonical(string value, string[] allowed, string path) =>
        allowed.FirstOrDefault(a => a.Equals(value, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArmException(400, "InvalidParameter", $"{path} '{value}' is not supported: use {string.Join(", ", allowed)}.");
}
