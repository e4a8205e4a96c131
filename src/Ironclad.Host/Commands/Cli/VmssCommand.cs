// `ironclad vmss create|show|list|scale|list-instances|get-instance-view|start|stop|deallocate|restart|
// delete-instances|delete|nbd-credentials`: Microsoft.Compute/virtualMachineScaleSets over ARM. Each
// instance is a VM with its own disks (made from virtualMachineProfile); the CLI only builds requests.
using System.CommandLine;
using System.Text.Json.Nodes;
using Ironclad.Host.Cli;
using static Ironclad.Host.Commands.Cli.CliCommand;
using static Ironclad.Host.Commands.Cli.DiskEncryptionSetCommand;
using static Ironclad.Host.Commands.Cli.VmCommand;

namespace Ironclad.Host.Commands.Cli;

internal static class VmssCommand
{
    private static readonly Column[] SetColumns =
    [
        Column.Path("Name", "name"), Column.Path("Location", "location"), Column.Path("Sku", "sku.name"), Column.Path("Capacity", "sku.capacity"),
        Column.Path("UpgradeMode", "properties.upgradePolicy.mode"), Column.Path("State", "properties.provisioningState"), Column.Path("UniqueId", "properties.uniqueId"),
    ];

    private static readonly Column[] InstanceColumns =
    [
        Column.Path("InstanceId", "instanceId"), Column.Path("Name", "name"), Column.Path("PowerState", "powerState"),
        Column.Path("OsDisk", "properties.storageProfile.osDisk.name"), Column.Path("State", "properties.provisioningState"), Column.Path("VmId", "properties.vmId"),
    ];

    public static Command Create() => Group("vmss", "Manage virtual machine scale sets (each instance a VM with its own encrypted disks).",
        CreateSet(), Show(), List(), Scale(), ListInstances(), GetInstanceView(),
        Power("start", "start", "Start the scale set's instances (all, or --instance-ids)."),
        Power("stop", "powerOff", "Power off the scale set's instances (all, or --instance-ids)."),
        Power("deallocate", "deallocate", "Deallocate the scale set's instances (all, or --instance-ids)."),
        Power("restart", "restart", "Restart the scale set's instances (all, or --instance-ids)."),
        DeleteInstances(), Delete(), NbdCredentials());

    private static Command CreateSet()
    {
        var name = Required("--name", "-n", "Scale set name.");
        var group = Required("--resource-group", "-g", "Resource group.");
        var location = Optional("--location", "Location (default: the resource group's).");
        location.Aliases.Add("-l");
        var image = Required("--image", "-i", "Marketplace URN Publisher:Offer:Sku:Version, an image id, or an image's name in the group.");
        var count = new Option<int>("--instance-count") { Description = "Number of instances (default 2).", DefaultValueFactory = _ => 2 };
        var vmSku = new Option<string>("--vm-sku", "--size") { Description = "Instance size (default Standard_D2s_v3).", DefaultValueFactory = _ => "Standard_D2s_v3" };
        var osSet = Optional("--os-disk-encryption-set", "Encrypt every instance's OS disk through this set (name or id).");
        var osCaching = Optional("--os-disk-caching", "None, ReadOnly or ReadWrite.");
        var storageSku = Optional("--storage-sku", "Storage account type of the disks.");
        var dataSizes = Many<int>("--data-disk-sizes-gb", "Empty data disks per instance, sizes in GiB, at LUN 0, 1, ...");
        var dataSets = Many<string>("--data-disk-encryption-sets", "Their disk encryption sets (name or id): one for all, or one per disk.");
        var upgrade = new Option<string>("--upgrade-policy-mode") { Description = "Manual (default), Automatic or Rolling.", DefaultValueFactory = _ => "Manual" };
        var orchestration = Optional("--orchestration-mode", "Uniform (default) or Flexible.");
        var adminUser = new Option<string>("--admin-username") { Description = "Admin user name (default azureuser).", DefaultValueFactory = _ => "azureuser" };
        var adminPassword = Optional("--admin-password", "Admin password (sent once; never returned or printed).");
        var prefix = Optional("--computer-name-prefix", "Computer name prefix (default: the set's name).");
        var tags = Tags();
        return Leaf("create", "Create a scale set: --instance-count VMs from an image, each with its own (customer-key, if asked) OS and data disks.",
            [name, group, location, image, count, vmSku, osSet, osCaching, storageSku, dataSizes, dataSets, upgrade, orchestration, adminUser, adminPassword, prefix, tags],
            SetColumns, async (call, ct) =>
            {
                var rg = call.Value(group);
                var osManaged = new JsonObject();
                SetIfGiven(osManaged, "storageAccountType", call.Value(storageSku));
                if (call.Value(osSet) is { Length: > 0 } set)
                {
                    osManaged["diskEncryptionSet"] = new JsonObject { ["id"] = IdOf(call, rg, "Microsoft.Compute", "diskEncryptionSets", set) };
                }

                var osDisk = new JsonObject { ["createOption"] = "FromImage", ["managedDisk"] = osManaged };
                SetIfGiven(osDisk, "caching", call.Value(osCaching));
                var dataDisks = DataDisks(call, rg, call.Value(dataSizes) ?? [], call.Value(dataSets) ?? [], [], call.Value(storageSku), null);
                var osProfile = new JsonObject
                {
                    ["computerNamePrefix"] = call.Value(prefix) is { Length: > 0 } p ? p : call.Value(name),
                    ["adminUsername"] = call.Value(adminUser),
                };
                SetIfGiven(osProfile, "adminPassword", call.Value(adminPassword));
                var properties = new JsonObject
                {
                    ["upgradePolicy"] = new JsonObject { ["mode"] = call.Value(upgrade) },
                    ["virtualMachineProfile"] = new JsonObject
                    {
                        ["storageProfile"] = new JsonObject
                        {
                            ["imageReference"] = ImageReference(call, rg, call.Value(image)),
                            ["osDisk"] = osDisk,
                            ["dataDisks"] = dataDisks,
                        },
                        ["osProfile"] = osProfile,
                        ["networkProfile"] = new JsonObject { ["networkInterfaceConfigurations"] = new JsonArray() },
                    },
                };
                SetIfGiven(properties, "orchestrationMode", call.Value(orchestration));
                var body = new JsonObject
                {
                    ["location"] = await LocationAsync(call, rg, call.Value(location), ct),
                    ["tags"] = TagsObject(call.Value(tags)),
                    ["sku"] = new JsonObject { ["name"] = call.Value(vmSku), ["tier"] = "Standard", ["capacity"] = call.Value(count) },
                    ["properties"] = properties,
                };
                return await call.Connection.SendAsync(HttpMethod.Put, SetPath(call, rg, call.Value(name)), VmApiVersion, body, ct);
            });
    }

    private static Command Show()
    {
        var (name, group) = NameGroup();
        return Leaf("show", "Show a scale set.", [name, group], SetColumns, (call, ct) =>
            call.Connection.SendAsync(HttpMethod.Get, SetPath(call, call.Value(group), call.Value(name)), VmApiVersion, null, ct));
    }

    private static Command List()
    {
        var group = new Option<string?>("--resource-group", "-g") { Description = "Only this resource group's scale sets." };
        return Leaf("list", "List scale sets.", [group], SetColumns, async (call, ct) =>
            await call.Connection.ListAsync(CollectionPath(call, call.Value(group), "virtualMachineScaleSets"), VmApiVersion, ct));
    }

    private static Command Scale()
    {
        var (name, group) = NameGroup();
        var capacity = new Option<int>("--new-capacity") { Description = "The number of instances: more adds instances (next ids), fewer removes the highest ids and shreds their disks.", Required = true };
        return Leaf("scale", "Scale a scale set out or in.", [name, group, capacity], SetColumns, async (call, ct) =>
        {
            var path = SetPath(call, call.Value(group), call.Value(name));
            var current = await call.Connection.SendAsync(HttpMethod.Get, path, VmApiVersion, null, ct);
            var sku = current?["sku"]?.DeepClone() as JsonObject ?? [];
            sku["capacity"] = call.Value(capacity);
            return await call.Connection.SendAsync(HttpMethod.Patch, path, VmApiVersion, new JsonObject { ["sku"] = sku }, ct);
        });
    }

    private static Command ListInstances()
    {
        var (name, group) = NameGroup();
        var details = new Option<bool>("--show-details", "-d") { Description = "Add each instance's instance view (power state, NBD exports)." };
        return Leaf("list-instances", "List a scale set's instances (each a VM with its own disks).", [name, group, details], InstanceColumns, async (call, ct) =>
        {
            var path = SetPath(call, call.Value(group), call.Value(name)) + "/virtualMachines";
            var result = new JsonArray();
            foreach (var instance in await call.Connection.ListAsync(path, VmApiVersion, ct))
            {
                var view = call.Value(details) && CliOutput.Select(instance, "id") is { } id
                    ? await call.Connection.SendAsync(HttpMethod.Get, id + "/instanceView", VmApiVersion, null, ct)
                    : null;
                result.Add(Summarize(instance?.DeepClone(), view));
            }

            return result;
        });
    }

    private static Command GetInstanceView()
    {
        var (name, group) = NameGroup();
        var instance = Required("--instance-id", "-i", "The instance id (0, 1, ...).");
        return Leaf("get-instance-view", "Show an instance's instance view (power state, disks, NBD exports while running).", [name, group, instance], InstanceColumns, async (call, ct) =>
        {
            var path = $"{SetPath(call, call.Value(group), call.Value(name))}/virtualMachines/{Uri.EscapeDataString(call.Value(instance))}";
            var vm = await call.Connection.SendAsync(HttpMethod.Get, path, VmApiVersion, null, ct);
            return Summarize(vm, await call.Connection.SendAsync(HttpMethod.Get, path + "/instanceView", VmApiVersion, null, ct));
        });
    }

    private static Command Power(string verb, string action, string description)
    {
        var (name, group) = NameGroup();
        var ids = Many<string>("--instance-ids", "Only these instances (default: all).");
        return Leaf(verb, description, [name, group, ids], SetColumns, async (call, ct) =>
        {
            var body = call.Value(ids) is { Length: > 0 } only ? new JsonObject { ["instanceIds"] = new JsonArray([.. only.Select(i => (JsonNode)i)]) } : null;
            await call.Connection.SendAsync(HttpMethod.Post, $"{SetPath(call, call.Value(group), call.Value(name))}/{action}", VmApiVersion, body, ct);
            return null;
        });
    }

    private static Command DeleteInstances()
    {
        var (name, group) = NameGroup();
        var ids = Many<string>("--instance-ids", "The instances to delete (their disks are shredded).");
        ids.Required = true;
        return Leaf("delete-instances", "Delete some instances of a scale set (and their disks).", [name, group, ids], SetColumns, async (call, ct) =>
        {
            var body = new JsonObject { ["instanceIds"] = new JsonArray([.. call.Value(ids).Select(i => (JsonNode)i)]) };
            await call.Connection.SendAsync(HttpMethod.Post, $"{SetPath(call, call.Value(group), call.Value(name))}/delete", VmApiVersion, body, ct);
            return null;
        });
    }

    private static Command Delete()
    {
        var (name, group) = NameGroup();
        return Leaf("delete", "Delete a scale set, its instances and their disks.", [name, group], SetColumns, async (call, ct) =>
        {
            await call.Connection.SendAsync(HttpMethod.Delete, SetPath(call, call.Value(group), call.Value(name)), VmApiVersion, null, ct);
            return null;
        });
    }

    private static Command NbdCredentials()
    {
        var (name, group) = NameGroup();
        var instance = Required("--instance-id", "-i", "The instance id (0, 1, ...).");
        var outDir = Required("--out-dir", "-d", "Directory to write ca-cert.pem, client-cert.pem and client-key.pem into.");
        var validity = new Option<int?>("--validity-in-hours") { Description = "How long the client certificate is valid, 1-720 hours." };
        return Leaf("nbd-credentials", "Issue an instance's NBD client certificate and write it where qemu and libnbd look; prints the address and export names.",
            [name, group, instance, outDir, validity], [Column.Path("Address", "nbdAddress"), Column.Path("Directory", "directory"), Column.Path("Exports", "exportNames")],
            async (call, ct) => await IssueCredentialsAsync(call,
                $"{SetPath(call, call.Value(group), call.Value(name))}/virtualMachines/{Uri.EscapeDataString(call.Value(instance))}",
                call.Value(outDir), call.Value(validity), ct));
    }

    private static (Option<string> Name, Option<string> Group) NameGroup() =>
        (Required("--name", "-n", "Scale set name."), Required("--resource-group", "-g", "Resource group."));

    private static string SetPath(CliInvocation call, string group, string name) => ResourcePath(call, group, "virtualMachineScaleSets", name);
}
