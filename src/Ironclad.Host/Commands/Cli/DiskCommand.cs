// `ironclad disk|snapshot|image ...`: Microsoft.Compute disks, snapshots and images over ARM (HTTP
// only). Encryption is the server's business: no --disk-encryption-set = the platform key; a set (id
// or name in the same resource group) = the customer key through it. grant-access prints the SAS URL
// once, to stdout, for the caller to use — it is never written anywhere else.
using System.CommandLine;
using System.Text.Json.Nodes;
using Ironclad.Host.Cli;
using static Ironclad.Host.Commands.Cli.CliCommand;
using static Ironclad.Host.Commands.Cli.DiskEncryptionSetCommand;

namespace Ironclad.Host.Commands.Cli;

internal static class DiskCommand
{
    private static readonly Column[] DiskColumns =
    [
        Column.Path("Name", "name"), Column.Path("Location", "location"), Column.Path("SizeGb", "properties.diskSizeGB"),
        Column.Path("State", "properties.diskState"), Column.Path("Encryption", "properties.encryption.type"),
        Column.Path("DiskEncryptionSet", "properties.encryption.diskEncryptionSetId"), Column.Path("UniqueId", "properties.uniqueId"),
    ];

    private static readonly Column[] SnapshotColumns =
    [
        Column.Path("Name", "name"), Column.Path("Location", "location"), Column.Path("SizeGb", "properties.diskSizeGB"),
        Column.Path("Incremental", "properties.incremental"), Column.Path("Encryption", "properties.encryption.type"),
        Column.Path("DiskEncryptionSet", "properties.encryption.diskEncryptionSetId"), Column.Path("Source", "properties.creationData.sourceResourceId"),
    ];

    private static readonly Column[] ImageColumns =
    [
        Column.Path("Name", "name"), Column.Path("Location", "location"), Column.Path("OsType", "properties.storageProfile.osDisk.osType"),
        Column.Path("Source", "properties.storageProfile.osDisk.managedDisk.id"), Column.Path("State", "properties.provisioningState"),
    ];

    private static readonly Column[] AccessColumns = [Column.Path("AccessSas", "accessSAS")];

    public static Command CreateDisk() => Group("disk", "Manage managed disks (encrypted at rest with a platform or customer key).",
        CreateDiskLeaf(), Show("disks", DiskColumns), List("disks", DiskColumns), UpdateDisk(), Delete("disks", DiskColumns),
        GrantAccess("disks"), RevokeAccess("disks"));

    public static Command CreateSnapshot() => Group("snapshot", "Manage snapshots of managed disks.",
        CreateSnapshotLeaf(), Show("snapshots", SnapshotColumns), List("snapshots", SnapshotColumns), Delete("snapshots", SnapshotColumns),
        GrantAccess("snapshots"), RevokeAccess("snapshots"));

    public static Command CreateImage() => Group("image", "Manage images made from disks or snapshots.",
        CreateImageLeaf(), Show("images", ImageColumns), List("images", ImageColumns), Delete("images", ImageColumns));

    private static Command CreateDiskLeaf()
    {
        var (name, group, location) = NameGroupLocation("Disk");
        var size = new Option<long?>("--size-gb", "-z") { Description = "Size in GiB (Empty disks; a copy may grow)." };
        var sku = Optional("--sku", "Standard_LRS, Premium_LRS, StandardSSD_LRS, ...");
        var source = Optional("--source", "Copy from this disk or snapshot (resource id, or a snapshot's name in the same resource group).");
        var image = Optional("--image-reference", "Create from this image (resource id); --image-lun picks a data disk.");
        var imageLun = new Option<int?>("--image-lun") { Description = "The image's data disk to create from (default: its OS disk)." };
        var upload = new Option<long?>("--upload-size-bytes") { Description = "Create an empty disk to upload into (VHD size, footer included); then grant-access --access Write." };
        var (encryptionType, set) = EncryptionOptions();
        var tags = Tags();
        return Leaf("create", "Create a disk: empty (--size-gb), a copy (--source), from an image (--image-reference) or for upload (--upload-size-bytes).",
            [name, group, location, size, sku, source, image, imageLun, upload, encryptionType, set, tags], DiskColumns, (call, ct) =>
            {
                var rg = call.Value(group);
                var creation = (call.Value(source), call.Value(image), call.Value(upload)) switch
                {
                    ({ Length: > 0 } s, null, null) => new JsonObject { ["createOption"] = "Copy", ["sourceResourceId"] = IdOf(call, rg, "Microsoft.Compute", "snapshots", s) },
                    (null, { Length: > 0 } i, null) => new JsonObject
                    {
                        ["createOption"] = "FromImage",
                        ["imageReference"] = call.Value(imageLun) is { } lun ? new JsonObject { ["id"] = i, ["lun"] = lun } : new JsonObject { ["id"] = i },
                    },
                    (null, null, { } bytes) => new JsonObject { ["createOption"] = "Upload", ["uploadSizeBytes"] = bytes },
                    (null, null, null) => new JsonObject { ["createOption"] = "Empty" },
                    _ => throw new CliException("InvalidArgument", "Give at most one of --source, --image-reference and --upload-size-bytes."),
                };
                var properties = new JsonObject { ["creationData"] = creation };
                if (call.Value(size) is { } gb)
                {
                    properties["diskSizeGB"] = gb;
                }

                AddEncryption(call, rg, properties, call.Value(encryptionType), call.Value(set));
                var body = new JsonObject { ["location"] = call.Value(location), ["tags"] = TagsObject(call.Value(tags)), ["properties"] = properties };
                if (call.Value(sku) is { Length: > 0 } skuName)
                {
                    body["sku"] = new JsonObject { ["name"] = skuName };
                }

                return call.Connection.SendAsync(HttpMethod.Put, ResourcePath(call, rg, "disks", call.Value(name)), ComputeApiVersion, body, ct);
            });
    }

    private static Command UpdateDisk()
    {
        var name = Required("--name", "-n", "Disk name.");
        var group = Required("--resource-group", "-g", "Resource group.");
        var size = new Option<long?>("--size-gb", "-z") { Description = "A larger size in GiB (disks only grow)." };
        var sku = Optional("--sku", "A new SKU.");
        var (encryptionType, set) = EncryptionOptions();
        var tags = Tags();
        return Leaf("update", "Update a disk (PATCH): grow it, or change its encryption while unattached (a re-wrap of its DEK, no data rewrite).",
            [name, group, size, sku, encryptionType, set, tags], DiskColumns, (call, ct) =>
            {
                var properties = new JsonObject();
                if (call.Value(size) is { } gb)
                {
                    properties["diskSizeGB"] = gb;
                }

                if (call.Value(encryptionType) is { Length: > 0 } || call.Value(set) is { Length: > 0 })
                {
                    AddEncryption(call, call.Value(group), properties, call.Value(encryptionType), call.Value(set));
                }

                var body = new JsonObject { ["properties"] = properties };
                if (call.Value(sku) is { Length: > 0 } skuName)
                {
                    body["sku"] = new JsonObject { ["name"] = skuName };
                }

                if (call.ParseResult.GetResult(tags) is not null)
                {
                    body["tags"] = TagsObject(call.Value(tags));
                }

                return call.Connection.SendAsync(HttpMethod.Patch, ResourcePath(call, call.Value(group), "disks", call.Value(name)), ComputeApiVersion, body, ct);
            });
    }

    private static Command CreateSnapshotLeaf()
    {
        var (name, group, location) = NameGroupLocation("Snapshot");
        var source = Required("--source", "-s", "The disk (or snapshot, to copy it) to snapshot: resource id, or a disk's name in the same resource group.");
        var incremental = new Option<bool>("--incremental") { Description = "An incremental snapshot (keeps the disk's encryption set)." };
        var (encryptionType, set) = EncryptionOptions();
        var tags = Tags();
        return Leaf("create", "Create a snapshot of a disk (point in time, O(1) in disk size).", [name, group, location, source, incremental, encryptionType, set, tags], SnapshotColumns, (call, ct) =>
        {
            var rg = call.Value(group);
            var properties = new JsonObject
            {
                ["creationData"] = new JsonObject { ["createOption"] = "Copy", ["sourceResourceId"] = IdOf(call, rg, "Microsoft.Compute", "disks", call.Value(source)) },
                ["incremental"] = call.Value(incremental),
            };
            AddEncryption(call, rg, properties, call.Value(encryptionType), call.Value(set));
            var body = new JsonObject { ["location"] = call.Value(location), ["tags"] = TagsObject(call.Value(tags)), ["properties"] = properties };
            return call.Connection.SendAsync(HttpMethod.Put, ResourcePath(call, rg, "snapshots", call.Value(name)), ComputeApiVersion, body, ct);
        });
    }

    private static Command CreateImageLeaf()
    {
        var (name, group, location) = NameGroupLocation("Image");
        var source = Required("--source", "-s", "The OS disk's source: a disk or snapshot resource id, or a disk's name in the same resource group.");
        var osType = new Option<string>("--os-type") { Description = "Linux (default) or Windows.", DefaultValueFactory = _ => "Linux" };
        var osState = new Option<string>("--os-state") { Description = "Generalized (default) or Specialized.", DefaultValueFactory = _ => "Generalized" };
        var dataSources = new Option<string[]>("--data-disk-sources")
        {
            Description = "Data disks' sources (disk or snapshot ids), LUN 0, 1, ... in order.",
            AllowMultipleArgumentsPerToken = true,
            Arity = ArgumentArity.ZeroOrMore,
        };
        var set = Optional("--disk-encryption-set", "Encrypt every disk of the image through this set (id or name in the same resource group).");
        var tags = Tags();
        return Leaf("create", "Create an image from a disk or snapshot (and data disks).", [name, group, location, source, osType, osState, dataSources, set, tags], ImageColumns, (call, ct) =>
        {
            var rg = call.Value(group);
            var setId = call.Value(set) is { Length: > 0 } s ? IdOf(call, rg, "Microsoft.Compute", "diskEncryptionSets", s) : null;
            var osDisk = ImageDisk(call, rg, call.Value(source), setId);
            osDisk["osType"] = call.Value(osType);
            osDisk["osState"] = call.Value(osState);
            var dataDisks = new JsonArray();
            var lun = 0;
            foreach (var dataSource in call.Value(dataSources) ?? [])
            {
                var disk = ImageDisk(call, rg, dataSource, setId);
                disk["lun"] = lun++;
                dataDisks.Add(disk);
            }

            var body = new JsonObject
            {
                ["location"] = call.Value(location),
                ["tags"] = TagsObject(call.Value(tags)),
                ["properties"] = new JsonObject { ["storageProfile"] = new JsonObject { ["osDisk"] = osDisk, ["dataDisks"] = dataDisks } },
            };
            return call.Connection.SendAsync(HttpMethod.Put, ResourcePath(call, rg, "images", call.Value(name)), ComputeApiVersion, body, ct);
        });
    }

    private static JsonObject ImageDisk(CliInvocation call, string group, string source, string? setId)
    {
        var id = IdOf(call, group, "Microsoft.Compute", "disks", source);
        var isSnapshot = id.Contains("/providers/Microsoft.Compute/snapshots/", StringComparison.OrdinalIgnoreCase);
        var disk = new JsonObject { [isSnapshot ? "snapshot" : "managedDisk"] = new JsonObject { ["id"] = id } };
        if (setId is not null)
        {
            disk["diskEncryptionSet"] = new JsonObject { ["id"] = setId };
        }

        return disk;
    }

    // ── Common leaves ──────────────────────────────────────────────────────────────────────────

    private static Command Show(string type, Column[] columns)
    {
        var name = Required("--name", "-n", "Name.");
        var group = Required("--resource-group", "-g", "Resource group.");
        return Leaf("show", $"Show one of the {type}.", [name, group], columns, (call, ct) =>
            call.Connection.SendAsync(HttpMethod.Get, ResourcePath(call, call.Value(group), type, call.Value(name)), ComputeApiVersion, null, ct));
    }

    private static Command List(string type, Column[] columns)
    {
        var group = new Option<string?>("--resource-group", "-g") { Description = "Only this resource group's." };
        return Leaf("list", $"List {type}.", [group], columns, async (call, ct) =>
            await call.Connection.ListAsync(CollectionPath(call, call.Value(group), type), ComputeApiVersion, ct));
    }

    private static Command Delete(string type, Column[] columns)
    {
        var name = Required("--name", "-n", "Name.");
        var group = Required("--resource-group", "-g", "Resource group.");
        var what = type == "images" ? "Delete an image." : $"Delete one of the {type}: its wrapped DEKs are destroyed (crypto-shredding), so its data is gone even for someone holding the key.";
        return Leaf("delete", what, [name, group], columns, async (call, ct) =>
        {
            await call.Connection.SendAsync(HttpMethod.Delete, ResourcePath(call, call.Value(group), type, call.Value(name)), ComputeApiVersion, null, ct);
            return null;
        });
    }

    private static Command GrantAccess(string type)
    {
        var name = Required("--name", "-n", "Name.");
        var group = Required("--resource-group", "-g", "Resource group.");
        var duration = new Option<int>("--duration-in-seconds") { Description = "How long the SAS URL is valid (default 3600).", DefaultValueFactory = _ => 3600 };
        var access = new Option<string>("--access") { Description = "Read (default) or Write (an Upload disk).", DefaultValueFactory = _ => "Read" };
        return Leaf("grant-access", "Grant time-limited access: prints a SAS URL that reads (or writes) the plaintext over HTTPS. Treat it as a secret.",
            [name, group, duration, access], AccessColumns, (call, ct) =>
                call.Connection.SendAsync(HttpMethod.Post, ResourcePath(call, call.Value(group), type, call.Value(name)) + "/beginGetAccess", ComputeApiVersion,
                    new JsonObject { ["access"] = call.Value(access), ["durationInSeconds"] = call.Value(duration) }, ct));
    }

    private static Command RevokeAccess(string type)
    {
        var name = Required("--name", "-n", "Name.");
        var group = Required("--resource-group", "-g", "Resource group.");
        return Leaf("revoke-access", "Revoke the SAS URL granted earlier (endGetAccess).", [name, group], AccessColumns, async (call, ct) =>
        {
            await call.Connection.SendAsync(HttpMethod.Post, ResourcePath(call, call.Value(group), type, call.Value(name)) + "/endGetAccess", ComputeApiVersion, null, ct);
            return null;
        });
    }

    private static (Option<string> Name, Option<string> Group, Option<string> Location) NameGroupLocation(string noun) =>
        (Required("--name", "-n", $"{noun} name."), Required("--resource-group", "-g", "Resource group."), Required("--location", "-l", "Location, e.g. eastus."));

    private static (Option<string?> EncryptionType, Option<string?> Set) EncryptionOptions() =>
        (Optional("--encryption-type", "EncryptionAtRestWithPlatformKey, EncryptionAtRestWithCustomerKey or EncryptionAtRestWithPlatformAndCustomerKeys (default: from the set, else the platform key)."),
         Optional("--disk-encryption-set", "Encrypt through this disk encryption set (id or name in the same resource group)."));

    private static void AddEncryption(CliInvocation call, string group, JsonObject properties, string? encryptionType, string? set)
    {
        if (encryptionType is not { Length: > 0 } && set is not { Length: > 0 })
        {
            return;
        }

        var encryption = new JsonObject();
        if (set is { Length: > 0 })
        {
            encryption["diskEncryptionSetId"] = IdOf(call, group, "Microsoft.Compute", "diskEncryptionSets", set);
        }

        encryption["type"] = encryptionType is { Length: > 0 } type
            ? type
            : set is { Length: > 0 } ? "EncryptionAtRestWithCustomerKey" : "EncryptionAtRestWithPlatformKey";
        properties["encryption"] = encryption;
    }
}
