// `ironclad vm create|show|list|start|stop|deallocate|restart|delete|disk attach|disk detach|nbd-credentials`
// and `vm image list`: Microsoft.Compute/virtualMachines over ARM (HTTP only, like every CLI command).
// Invariants: the CLI only builds requests and prints; the admin password and the VM's client key are
// never printed — nbd-credentials writes the key to a 0600 file (created with that mode) and prints paths.
using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Ironclad.Host.Cli;
using static Ironclad.Host.Commands.Cli.CliCommand;
using static Ironclad.Host.Commands.Cli.DiskEncryptionSetCommand;

namespace Ironclad.Host.Commands.Cli;

internal static class VmCommand
{
    /// <summary>The virtualMachines / virtualMachineScaleSets api-version the CLI sends (the server accepts any).</summary>
    public const string VmApiVersion = "2025-04-01";

    private static readonly Column[] VmColumns =
    [
        Column.Path("Name", "name"), Column.Path("Location", "location"), Column.Path("Size", "properties.hardwareProfile.vmSize"),
        Column.Path("PowerState", "powerState"), Column.Path("OsDisk", "properties.storageProfile.osDisk.name"),
        new Column("DataDisks", vm => (vm?["properties"]?["storageProfile"]?["dataDisks"] as JsonArray)?.Count.ToString(CultureInfo.InvariantCulture)), Column.Path("State", "properties.provisioningState"), Column.Path("VmId", "properties.vmId"),
    ];

    private static readonly Column[] DataDiskColumns =
    [
        Column.Path("Lun", "lun"), Column.Path("Name", "name"), Column.Path("SizeGb", "diskSizeGB"), Column.Path("CreateOption", "createOption"),
        Column.Path("DeleteOption", "deleteOption"), Column.Path("DiskEncryptionSet", "managedDisk.diskEncryptionSet.id"), Column.Path("Id", "managedDisk.id"),
    ];

    private static readonly Column[] CredentialColumns =
    [
        Column.Path("Address", "nbdAddress"), Column.Path("Subject", "clientCertificateSubject"), Column.Path("ExpiresOn", "expiresOn"),
        Column.Path("Directory", "directory"), Column.Path("Exports", "exportNames"),
    ];

    public static Command Create() => Group("vm", "Manage virtual machines (their disks are served over NBD while they run).",
        CreateVm(), Show(), List(),
        Power("start", "start", "Start a VM: each disk's key is unwrapped through the vault, its disks are exported over NBD (refused, naming the key, while a key is unusable)."),
        Power("stop", "powerOff", "Power off a VM (stopped): its NBD exports close and its data keys are zeroed."),
        Power("deallocate", "deallocate", "Deallocate a VM: like stop, and it is billed for nothing."),
        Power("restart", "restart", "Restart a VM (its exports close and open again)."),
        Delete(),
        Group("disk", "Attach or detach a VM's data disks (hot, while it runs too).", AttachDisk(), DetachDisk()),
        NbdCredentials(),
        VmImageCommand.Create());

    // ── create ────────────────────────────────────────────────────────────────────────────────

    private static Command CreateVm()
    {
        var name = Required("--name", "-n", "VM name.");
        var group = Required("--resource-group", "-g", "Resource group.");
        var location = Optional("--location", "Location (default: the resource group's).");
        location.Aliases.Add("-l");
        var image = Optional("--image", "Marketplace URN Publisher:Offer:Sku:Version (e.g. Canonical:ubuntu-24_04-lts:server:latest), an image id, or an image's name in the group.");
        var attachOs = Optional("--attach-os-disk", "Boot from this existing disk (name or id) instead of an image (createOption Attach).");
        var size = new Option<string>("--size") { Description = "VM size (default Standard_D2s_v3).", DefaultValueFactory = _ => "Standard_D2s_v3" };
        var osSet = Optional("--os-disk-encryption-set", "Encrypt the OS disk through this disk encryption set (name or id).");
        var osName = Optional("--os-disk-name", "The OS disk's name (default {vm}_OsDisk_1_{hex}).");
        var osSize = new Option<int?>("--os-disk-size-gb") { Description = "The OS disk's size in GiB (default: the image's)." };
        var osCaching = Optional("--os-disk-caching", "None, ReadOnly or ReadWrite.");
        var osDelete = Optional("--os-disk-delete-option", "Delete (default for an image) or Detach (default for --attach-os-disk): what VM delete does to the OS disk.");
        var storageSku = Optional("--storage-sku", "Storage account type of the new disks (Premium_LRS, Standard_LRS, ...).");
        var dataSizes = Many<int>("--data-disk-sizes-gb", "New empty data disks, sizes in GiB, at LUN 0, 1, ...");
        var dataSets = Many<string>("--data-disk-encryption-sets", "Disk encryption sets of the new data disks (name or id): one for all, or one per disk in order.");
        var attachData = Many<string>("--attach-data-disks", "Existing disks (names or ids) to attach, at the LUNs after the new ones.");
        var dataDelete = Optional("--data-disk-delete-option", "Detach (default) or Delete: what VM delete does to the data disks.");
        var adminUser = new Option<string>("--admin-username") { Description = "Admin user name (default azureuser).", DefaultValueFactory = _ => "azureuser" };
        var adminPassword = Optional("--admin-password", "Admin password (sent once; never returned or printed).");
        var computerName = Optional("--computer-name", "Computer name (default: the VM name).");
        var tags = Tags();
        return Leaf("create", "Create a VM from a marketplace or custom image (or an existing OS disk), with customer-key disks if asked; a new VM is running.",
            [name, group, location, image, attachOs, size, osSet, osName, osSize, osCaching, osDelete, storageSku, dataSizes, dataSets, attachData, dataDelete,
             adminUser, adminPassword, computerName, tags], VmColumns, async (call, ct) =>
            {
                var rg = call.Value(group);
                var vmName = call.Value(name);
                var storage = new JsonObject();
                var osDisk = new JsonObject();
                var osManaged = new JsonObject();
                switch (call.Value(image), call.Value(attachOs))
                {
                    case ({ Length: > 0 } imageValue, null):
                        storage["imageReference"] = ImageReference(call, rg, imageValue);
                        osDisk["createOption"] = "FromImage";
                        break;
                    case (null, { Length: > 0 } disk):
                        osDisk["createOption"] = "Attach";
                        osManaged["id"] = IdOf(call, rg, "Microsoft.Compute", "disks", disk);
                        osDisk["osType"] = "Linux";
                        break;
                    default:
                        throw new CliException("InvalidArgument", "Give exactly one of --image and --attach-os-disk.");
                }

                SetIfGiven(osDisk, "name", call.Value(osName));
                SetIfGiven(osDisk, "caching", call.Value(osCaching));
                SetIfGiven(osDisk, "deleteOption", call.Value(osDelete));
                if (call.Value(osSize) is { } osGb)
                {
                    osDisk["diskSizeGB"] = osGb;
                }

                SetIfGiven(osManaged, "storageAccountType", call.Value(storageSku));
                if (call.Value(osSet) is { Length: > 0 } set)
                {
                    osManaged["diskEncryptionSet"] = new JsonObject { ["id"] = IdOf(call, rg, "Microsoft.Compute", "diskEncryptionSets", set) };
                }

                osDisk["managedDisk"] = osManaged;
                storage["osDisk"] = osDisk;
                storage["dataDisks"] = DataDisks(call, rg, call.Value(dataSizes) ?? [], call.Value(dataSets) ?? [], call.Value(attachData) ?? [],
                    call.Value(storageSku), call.Value(dataDelete));

                var osProfile = new JsonObject
                {
                    ["computerName"] = call.Value(computerName) is { Length: > 0 } computer ? computer : vmName,
                    ["adminUsername"] = call.Value(adminUser),
                };
                SetIfGiven(osProfile, "adminPassword", call.Value(adminPassword));
                if (osDisk["createOption"]!.GetValue<string>() == "Attach")
                {
                    osProfile = null; // an attached OS disk is specialized: no OS provisioning.
                }

                var properties = new JsonObject
                {
                    ["hardwareProfile"] = new JsonObject { ["vmSize"] = call.Value(size) },
                    ["storageProfile"] = storage,
                    ["networkProfile"] = new JsonObject { ["networkInterfaces"] = new JsonArray() },
                };
                if (osProfile is not null)
                {
                    properties["osProfile"] = osProfile;
                }

                var body = new JsonObject
                {
                    ["location"] = await LocationAsync(call, rg, call.Value(location), ct),
                    ["tags"] = TagsObject(call.Value(tags)),
                    ["properties"] = properties,
                };
                var vm = await call.Connection.SendAsync(HttpMethod.Put, VmPath(call, rg, vmName), VmApiVersion, body, ct);
                return Summarize(vm, null);
            });
    }

    /// <summary>A marketplace URN (P:O:S:V), an image id, or an image's name in the group, as an imageReference.</summary>
    public static JsonObject ImageReference(CliInvocation call, string group, string image)
    {
        var parts = image.Split(':');
        if (parts.Length == 4 && parts.All(p => p.Length > 0))
        {
            return new JsonObject { ["publisher"] = parts[0], ["offer"] = parts[1], ["sku"] = parts[2], ["version"] = parts[3] };
        }

        if (image.Contains(':', StringComparison.Ordinal))
        {
            throw new CliException("InvalidArgument", $"--image '{image}' is not a URN Publisher:Offer:Sku:Version (see 'ironclad vm image list').");
        }

        return new JsonObject { ["id"] = IdOf(call, group, "Microsoft.Compute", "images", image) };
    }

    /// <summary>New empty data disks (sizes, with one set for all or one per disk) at LUN 0.., then existing disks attached after them.</summary>
    public static JsonArray DataDisks(
        CliInvocation call, string group, int[] sizes, string[] sets, string[] attach, string? storageSku, string? deleteOption)
    {
        if (sets.Length > 1 && sets.Length != sizes.Length)
        {
            throw new CliException("InvalidArgument", $"--data-disk-encryption-sets names {sets.Length} sets for {sizes.Length} new data disks: give one for all, or one per disk.");
        }

        var disks = new JsonArray();
        for (var lun = 0; lun < sizes.Length; lun++)
        {
            var managed = new JsonObject();
            SetIfGiven(managed, "storageAccountType", storageSku);
            if (sets.Length > 0)
            {
                managed["diskEncryptionSet"] = new JsonObject { ["id"] = IdOf(call, group, "Microsoft.Compute", "diskEncryptionSets", sets[sets.Length == 1 ? 0 : lun]) };
            }

            var disk = new JsonObject { ["lun"] = lun, ["createOption"] = "Empty", ["diskSizeGB"] = sizes[lun], ["managedDisk"] = managed };
            SetIfGiven(disk, "deleteOption", deleteOption);
            disks.Add(disk);
        }

        for (var i = 0; i < attach.Length; i++)
        {
            var disk = new JsonObject
            {
                ["lun"] = sizes.Length + i,
                ["createOption"] = "Attach",
                ["managedDisk"] = new JsonObject { ["id"] = IdOf(call, group, "Microsoft.Compute", "disks", attach[i]) },
            };
            SetIfGiven(disk, "deleteOption", deleteOption);
            disks.Add(disk);
        }

        return disks;
    }

    // ── show / list ───────────────────────────────────────────────────────────────────────────

    private static Command Show()
    {
        var name = Required("--name", "-n", "VM name.");
        var group = Required("--resource-group", "-g", "Resource group.");
        var details = new Option<bool>("--show-details", "-d") { Description = "Add the instance view: power state, disks and (while running) the NBD address and export names." };
        return Leaf("show", "Show a VM (-d: with its power state and NBD exports).", [name, group, details], VmColumns, async (call, ct) =>
        {
            var path = VmPath(call, call.Value(group), call.Value(name));
            var vm = await call.Connection.SendAsync(HttpMethod.Get, path, VmApiVersion, null, ct);
            var view = call.Value(details) ? await call.Connection.SendAsync(HttpMethod.Get, path + "/instanceView", VmApiVersion, null, ct) : null;
            return Summarize(vm, view);
        });
    }

    private static Command List()
    {
        var group = new Option<string?>("--resource-group", "-g") { Description = "Only this resource group's VMs." };
        var details = new Option<bool>("--show-details", "-d") { Description = "Add each VM's instance view (power state, NBD exports)." };
        return Leaf("list", "List VMs (scale-set instances are listed by 'vmss list-instances').", [group, details], VmColumns, async (call, ct) =>
        {
            var vms = await call.Connection.ListAsync(CollectionPath(call, call.Value(group), "virtualMachines"), VmApiVersion, ct);
            var result = new JsonArray();
            foreach (var vm in vms)
            {
                var view = call.Value(details) && CliOutput.Select(vm, "id") is { } id
                    ? await call.Connection.SendAsync(HttpMethod.Get, id + "/instanceView", VmApiVersion, null, ct)
                    : null;
                result.Add(Summarize(vm?.DeepClone(), view));
            }

            return result;
        });
    }

    /// <summary>
    /// The VM as the service returned it, plus (with an instance view) properties.instanceView, az's
    /// top-level "powerState" ("VM running") and "nbd".
    /// </summary>
    public static JsonNode? Summarize(JsonNode? vm, JsonNode? instanceView)
    {
        if (vm is not JsonObject obj)
        {
            return vm;
        }

        if (instanceView is JsonObject view && obj["properties"] is JsonObject properties)
        {
            properties["instanceView"] = view.DeepClone();
            obj["powerState"] = PowerState(view);
            if (view["nbd"] is { } nbd)
            {
                obj["nbd"] = nbd.DeepClone();
            }
        }
        else if (obj["properties"]?["instanceView"] is JsonObject embedded)
        {
            obj["powerState"] = PowerState(embedded);
        }

        return obj;
    }

    /// <summary>The displayStatus of the PowerState/... status ("VM running"), or null.</summary>
    public static string? PowerState(JsonNode? instanceView) =>
        (instanceView?["statuses"] as JsonArray)?
            .FirstOrDefault(s => CliOutput.Select(s, "code")?.StartsWith("PowerState/", StringComparison.Ordinal) == true) is { } status
            ? CliOutput.Select(status, "displayStatus") ?? CliOutput.Select(status, "code")
            : null;

    // ── power / delete ────────────────────────────────────────────────────────────────────────

    private static Command Power(string verb, string action, string description)
    {
        var name = Required("--name", "-n", "VM name.");
        var group = Required("--resource-group", "-g", "Resource group.");
        var skipShutdown = new Option<bool>("--skip-shutdown") { Description = "Power off at once (no guest shutdown)." };
        Option[] options = verb == "stop" ? [name, group, skipShutdown] : [name, group];
        return Leaf(verb, description, options, VmColumns, async (call, ct) =>
        {
            var path = $"{VmPath(call, call.Value(group), call.Value(name))}/{action}";
            if (verb == "stop" && call.Value(skipShutdown))
            {
                path += "?skipShutdown=true";
            }

            await call.Connection.SendAsync(HttpMethod.Post, path, VmApiVersion, null, ct);
            return null;
        });
    }

    private static Command Delete()
    {
        var name = Required("--name", "-n", "VM name.");
        var group = Required("--resource-group", "-g", "Resource group.");
        return Leaf("delete", "Delete a VM: disks with deleteOption Delete are crypto-shredded, the others detached (Unattached).", [name, group], VmColumns, async (call, ct) =>
        {
            await call.Connection.SendAsync(HttpMethod.Delete, VmPath(call, call.Value(group), call.Value(name)), VmApiVersion, null, ct);
            return null;
        });
    }

    // ── disk attach / detach ──────────────────────────────────────────────────────────────────

    private static Command AttachDisk()
    {
        var vmName = Required("--vm-name", "--vm", "VM name.");
        var group = Required("--resource-group", "-g", "Resource group.");
        var disk = Optional("--name", "The disk: an existing one's name or id; with --new, the new disk's name (default {vm}_disk{lun+1}_{hex}).");
        disk.Aliases.Add("--disk");
        var isNew = new Option<bool>("--new") { Description = "Create a new empty disk (needs --size-gb)." };
        var sizeGb = new Option<int?>("--size-gb", "-z") { Description = "Size in GiB of the new disk." };
        var set = Optional("--disk-encryption-set", "Encrypt the new disk through this set (name or id).");
        var sku = Optional("--sku", "Storage account type of the new disk.");
        var lun = new Option<int?>("--lun") { Description = "LUN (default: the lowest free one)." };
        var caching = Optional("--caching", "None, ReadOnly or ReadWrite.");
        var deleteOption = Optional("--delete-option", "Detach (default) or Delete: what VM delete does to this disk.");
        return Leaf("attach", "Attach an existing disk, or a new empty one (--new), to a VM — hot, while it runs too.",
            [vmName, group, disk, isNew, sizeGb, set, sku, lun, caching, deleteOption], DataDiskColumns, async (call, ct) =>
            {
                var rg = call.Value(group);
                var path = VmPath(call, rg, call.Value(vmName));
                var vm = await call.Connection.SendAsync(HttpMethod.Get, path, VmApiVersion, null, ct);
                var disks = (vm?["properties"]?["storageProfile"]?["dataDisks"] as JsonArray)?.DeepClone().AsArray() ?? [];
                var used = disks.Select(d => d?["lun"]?.GetValue<int>() ?? -1).ToHashSet();
                var at = call.Value(lun) ?? Enumerable.Range(0, 64).First(l => !used.Contains(l));
                if (used.Contains(at))
                {
                    throw new CliException("InvalidArgument", $"LUN {at} of VM '{call.Value(vmName)}' is taken: pick another --lun (or leave it out).");
                }

                JsonObject entry;
                if (call.Value(isNew))
                {
                    var size = call.Value(sizeGb) ?? throw new CliException("InvalidArgument", "--new needs --size-gb.");
                    var managed = new JsonObject();
                    SetIfGiven(managed, "storageAccountType", call.Value(sku));
                    if (call.Value(set) is { Length: > 0 } setName)
                    {
                        managed["diskEncryptionSet"] = new JsonObject { ["id"] = IdOf(call, rg, "Microsoft.Compute", "diskEncryptionSets", setName) };
                    }

                    entry = new JsonObject { ["lun"] = at, ["createOption"] = "Empty", ["diskSizeGB"] = size, ["managedDisk"] = managed };
                    SetIfGiven(entry, "name", call.Value(disk));
                }
                else
                {
                    var existing = call.Value(disk) ?? throw new CliException("InvalidArgument", "Give --name (an existing disk), or --new --size-gb N.");
                    if (call.Value(sizeGb) is not null || call.Value(set) is { Length: > 0 })
                    {
                        throw new CliException("InvalidArgument", "--size-gb and --disk-encryption-set are for --new; an existing disk keeps its own.");
                    }

                    entry = new JsonObject
                    {
                        ["lun"] = at,
                        ["createOption"] = "Attach",
                        ["managedDisk"] = new JsonObject { ["id"] = IdOf(call, rg, "Microsoft.Compute", "disks", existing) },
                    };
                }

                SetIfGiven(entry, "caching", call.Value(caching));
                SetIfGiven(entry, "deleteOption", call.Value(deleteOption));
                disks.Add(entry);
                var updated = await PatchDataDisksAsync(call, path, disks, ct);
                return (updated?["properties"]?["storageProfile"]?["dataDisks"] as JsonArray)?
                    .FirstOrDefault(d => d?["lun"]?.GetValue<int>() == at)?.DeepClone() ?? entry;
            });
    }

    private static Command DetachDisk()
    {
        var vmName = Required("--vm-name", "--vm", "VM name.");
        var group = Required("--resource-group", "-g", "Resource group.");
        var disk = Optional("--name", "The data disk to detach: its name or id.");
        disk.Aliases.Add("--disk");
        var lun = new Option<int?>("--lun") { Description = "Or the LUN to detach." };
        return Leaf("detach", "Detach a data disk from a VM (it stays, Unattached) — hot, while it runs too.", [vmName, group, disk, lun], DataDiskColumns, async (call, ct) =>
        {
            var rg = call.Value(group);
            var path = VmPath(call, rg, call.Value(vmName));
            var vm = await call.Connection.SendAsync(HttpMethod.Get, path, VmApiVersion, null, ct);
            var disks = (vm?["properties"]?["storageProfile"]?["dataDisks"] as JsonArray)?.DeepClone().AsArray() ?? [];
            var wanted = call.Value(disk);
            var wantedLun = call.Value(lun);
            if (wanted is not { Length: > 0 } && wantedLun is null)
            {
                throw new CliException("InvalidArgument", "Give --name (the disk's name or id) or --lun.");
            }

            var match = disks.FirstOrDefault(d =>
                (wantedLun is { } l && d?["lun"]?.GetValue<int>() == l)
                || (wanted is { Length: > 0 } w && (string.Equals(CliOutput.Select(d, "name"), w, StringComparison.OrdinalIgnoreCase)
                    || string.Equals(CliOutput.Select(d, "managedDisk.id"), w, StringComparison.OrdinalIgnoreCase))))
                ?? throw new CliException("ResourceNotFound", $"VM '{call.Value(vmName)}' has no data disk {(wanted is { Length: > 0 } ? $"'{wanted}'" : $"at LUN {wantedLun}")}.", 404);
            disks.Remove(match);
            await PatchDataDisksAsync(call, path, disks, ct);
            return match;
        });
    }

    /// <summary>
    /// PATCHes the VM's dataDisks to <paramref name="disks"/>. Disks it already has are sent as
    /// {lun, createOption Attach, managedDisk.id, caching, deleteOption}: the rendered createOption
    /// (Empty, FromImage) with an id would ask for a new disk.
    /// </summary>
    private static Task<JsonNode?> PatchDataDisksAsync(CliInvocation call, string path, JsonArray disks, CancellationToken ct)
    {
        var sent = new JsonArray();
        foreach (var disk in disks)
        {
            if (CliOutput.Select(disk, "managedDisk.id") is { Length: > 0 } id)
            {
                var entry = new JsonObject { ["lun"] = disk!["lun"]!.DeepClone(), ["createOption"] = "Attach", ["managedDisk"] = new JsonObject { ["id"] = id } };
                SetIfGiven(entry, "caching", CliOutput.Select(disk, "caching"));
                SetIfGiven(entry, "deleteOption", CliOutput.Select(disk, "deleteOption"));
                sent.Add(entry);
            }
            else
            {
                sent.Add(disk?.DeepClone());
            }
        }

        return call.Connection.SendAsync(HttpMethod.Patch, path, VmApiVersion,
            new JsonObject { ["properties"] = new JsonObject { ["storageProfile"] = new JsonObject { ["dataDisks"] = sent } } }, ct);
    }

    // ── nbd-credentials ───────────────────────────────────────────────────────────────────────

    private static Command NbdCredentials()
    {
        var name = Required("--name", "-n", "VM name.");
        var group = Required("--resource-group", "-g", "Resource group.");
        var outDir = Required("--out-dir", "-d", "Directory to write ca-cert.pem, client-cert.pem and client-key.pem into (qemu's tls-creds-x509 dir=, libnbd's tls-certificates=).");
        var validity = new Option<int?>("--validity-in-hours") { Description = "How long the client certificate is valid, 1-720 hours (default: the server's)." };
        return Leaf("nbd-credentials", "Issue the VM's NBD client certificate (CN=vm-{vmId}) and write it where qemu and libnbd look; prints the address, export names and ready-to-run commands.",
            [name, group, outDir, validity], CredentialColumns, async (call, ct) =>
                await IssueCredentialsAsync(call, VmPath(call, call.Value(group), call.Value(name)), call.Value(outDir), call.Value(validity), ct));
    }

    /// <summary>POST {vmPath}/issueNbdCredentials, write the PEMs into <paramref name="directory"/> (key 0600), and return what to print (no key).</summary>
    public static async Task<JsonNode?> IssueCredentialsAsync(CliInvocation call, string vmPath, string directory, int? validityInHours, CancellationToken ct)
    {
        var body = validityInHours is { } hours ? new JsonObject { ["validityInHours"] = hours } : null;
        var issued = await call.Connection.SendAsync(HttpMethod.Post, vmPath + "/issueNbdCredentials", VmApiVersion, body, ct)
            ?? throw new CliException("InvalidResponse", "issueNbdCredentials answered without a body.");
        string Pem(string field) => CliOutput.Select(issued, field) is { Length: > 0 } pem
            ? pem
            : throw new CliException("InvalidResponse", $"issueNbdCredentials answered without {field}.");

        var full = Path.GetFullPath(directory);
        Directory.CreateDirectory(full);
        WriteFile(Path.Combine(full, "ca-cert.pem"), Pem("caCertificate"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        WriteFile(Path.Combine(full, "client-cert.pem"), Pem("clientCertificate"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        WriteFile(Path.Combine(full, "client-key.pem"), Pem("clientKey"), UnixFileMode.UserRead | UnixFileMode.UserWrite);

        var address = CliOutput.Select(issued, "nbdAddress") ?? "";
        var colon = address.LastIndexOf(':');
        var (host, port) = colon > 0 ? (address[..colon], address[(colon + 1)..]) : (address, "");
        var exports = (issued["exports"] as JsonArray)?.DeepClone().AsArray() ?? [];
        var names = exports.Select(e => CliOutput.Select(e, "exportName")).OfType<string>().ToList();
        var commands = new JsonArray();
        foreach (var export in names)
        {
            commands.Add(new JsonObject
            {
                ["exportName"] = export,
                ["nbdinfo"] = $"nbdinfo '{LibnbdUri(host, port, export, full)}'",
                ["qemuIo"] = $"qemu-io --object tls-creds-x509,id=tls0,endpoint=client,dir={QemuValue(full)} " +
                    $"--image-opts 'driver=nbd,host={host},port={port},export={QemuValue(export)},tls-creds=tls0' -c 'read 0 4k'",
            });
        }

        return new JsonObject
        {
            ["nbdAddress"] = address,
            ["tls"] = issued["tls"]?.DeepClone(),
            ["clientCertificateSubject"] = issued["clientCertificateSubject"]?.DeepClone(),
            ["expiresOn"] = issued["expiresOn"]?.DeepClone(),
            ["directory"] = full,
            ["files"] = new JsonArray("ca-cert.pem", "client-cert.pem", "client-key.pem"),
            ["exports"] = exports,
            ["exportNames"] = string.Join(' ', names),
            ["commands"] = commands,
        };
    }

    private static string LibnbdUri(string host, string port, string export, string directory) =>
        string.Create(CultureInfo.InvariantCulture, $"nbds://{host}:{port}/{export}?tls-certificates={Uri.EscapeDataString(directory)}");

    // qemu's option syntax doubles a comma to put one in a value.
    private static string QemuValue(string value) => value.Replace(",", ",,", StringComparison.Ordinal);

    /// <summary>Writes <paramref name="text"/> to a file created (or truncated) with <paramref name="mode"/>, so a key is never readable by others, not even for a moment.</summary>
    private static void WriteFile(string path, string text, UnixFileMode mode)
    {
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = mode;
        }

        using (var stream = new FileStream(path, options))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(text);
        }

        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, mode); // an existing file keeps its old mode on FileMode.Create
        }
    }

    // ── shared ────────────────────────────────────────────────────────────────────────────────

    public static string VmPath(CliInvocation call, string group, string name) => ResourcePath(call, group, "virtualMachines", name);

    /// <summary>The given location, or the resource group's.</summary>
    public static async Task<string> LocationAsync(CliInvocation call, string group, string? location, CancellationToken ct)
    {
        if (location is { Length: > 0 })
        {
            return location;
        }

        var rg = await call.Connection.SendAsync(HttpMethod.Get, $"/subscriptions/{call.Subscription}/resourceGroups/{Uri.EscapeDataString(group)}", ArmConnection.ResourcesApiVersion, null, ct);
        return CliOutput.Select(rg, "location") ?? throw new CliException("InvalidResponse", $"Resource group '{group}' has no location: give --location.");
    }

    public static Option<T[]> Many<T>(string name, string description) => new(name)
    {
        Description = description,
        AllowMultipleArgumentsPerToken = true,
        Arity = ArgumentArity.ZeroOrMore,
    };

    public static void SetIfGiven(JsonObject target, string property, string? value)
    {
        if (value is { Length: > 0 })
        {
            target[property] = value;
        }
    }
}
