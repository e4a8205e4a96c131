// What a VM looks like on the wire: the GET body (envelope, resolved storageProfile, profiles as sent
// minus secrets) and the instance view (power state, why the server stopped it, per-disk statuses and
// the `nbd` extension while it runs). Invariant: rendering reads only — the disk sizes and encryption
// come live from the disk directory, the running state from the runtime.
using System.Globalization;
using System.Text.Json.Nodes;

namespace Ironclad.Compute.VirtualMachines;

public sealed partial class VirtualMachineService
{
    private JsonObject Render(VmRecord vm, bool withInstanceView)
    {
        var storage = new JsonObject();
        if (vm.ImageReferenceJson is not null)
        {
            storage["imageReference"] = JsonNode.Parse(vm.ImageReferenceJson);
        }

        storage["osDisk"] = RenderDisk(vm.OsDisk);
        storage["dataDisks"] = new JsonArray([.. vm.DataDisks.Select(RenderDisk)]);

        var properties = new JsonObject { ["vmId"] = vm.VmUniqueId.ToString() };
        if (vm.HardwareProfileJson is not null)
        {
            properties["hardwareProfile"] = JsonNode.Parse(vm.HardwareProfileJson);
        }

        properties["storageProfile"] = storage;
        if (vm.OsProfileJson is not null)
        {
            properties["osProfile"] = JsonNode.Parse(vm.OsProfileJson);
        }

        foreach (var (name, value) in JsonNode.Parse(vm.ExtraPropertiesJson)!.AsObject())
        {
            properties[name] = value?.DeepClone();
        }

        properties["provisioningState"] = "Succeeded";
        properties["timeCreated"] = vm.TimeCreated.ToString("o", CultureInfo.InvariantCulture);
        if (withInstanceView)
        {
            properties["instanceView"] = InstanceView(vm);
        }

        var result = new JsonObject
        {
            ["id"] = vm.Id,
            ["name"] = vm.InstanceId ?? vm.Name,
            ["type"] = vm.ScaleSetId is null ? VmResourceType : InstanceResourceType,
            ["location"] = vm.Location,
            ["tags"] = JsonNode.Parse(vm.TagsJson),
        };
        if (vm.InstanceId is not null)
        {
            result["instanceId"] = vm.InstanceId;
        }

        result["properties"] = properties;
        return result;
    }

    private JsonObject RenderDisk(VmDiskRecord disk)
    {
        var info = _disks.Find(disk.DiskId);
        var managed = new JsonObject { ["id"] = disk.DiskId };
        if (disk.StorageAccountType is not null)
        {
            managed["storageAccountType"] = disk.StorageAccountType;
        }

        if (info?.EncryptionSetId is { } setId)
        {
            managed["diskEncryptionSet"] = new JsonObject { ["id"] = setId };
        }

        var result = new JsonObject();
        if (disk.Lun is { } lun)
        {
            result["lun"] = lun;
        }
        else if (disk.OsType is not null)
        {
            result["osType"] = disk.OsType;
        }

        result["name"] = disk.Name;
        result["createOption"] = disk.CreateOption;
        result["caching"] = disk.Caching;
        if (info is not null)
        {
            result["diskSizeGB"] = (info.SizeBytes + (1L << 30) - 1) >> 30;
        }

        result["managedDisk"] = managed;
        result["deleteOption"] = disk.DeleteOption;
        if (disk.Lun is not null)
        {
            result["toBeDetached"] = false;
        }

        return result;
    }

    private JsonObject InstanceView(VmRecord vm)
    {
        var running = _runtime.Value?.Find(vm.Id);
        var power = running is not null ? VmPowerStates.Running : vm.PowerState;
        var created = vm.TimeCreated.ToString("o", CultureInfo.InvariantCulture);
        var statuses = new JsonArray(
            new JsonObject { ["code"] = "ProvisioningState/succeeded", ["level"] = "Info", ["displayStatus"] = "Provisioning succeeded", ["time"] = created },
            new JsonObject { ["code"] = $"PowerState/{power}", ["level"] = "Info", ["displayStatus"] = $"VM {power}" });
        if (power != VmPowerStates.Running && vm.StopCode is not null)
        {
            var status = new JsonObject
            {
                ["code"] = $"KeyAccess/{vm.StopCode}",
                ["level"] = "Error",
                ["displayStatus"] = "Stopped: its disk key cannot be used",
                ["message"] = vm.StopReason,
            };
            if (vm.StopTime is { } at)
            {
                status["time"] = at.ToString("o", CultureInfo.InvariantCulture);
            }

            statuses.Add(status);
        }

        var result = new JsonObject();
        if (vm.OsProfileJson is not null && JsonNode.Parse(vm.OsProfileJson)?["computerName"] is { } computerName)
        {
            result["computerName"] = computerName.DeepClone();
        }

        result["statuses"] = statuses;
        result["disks"] = new JsonArray([.. vm.Disks.OrderBy(d => d.Lun ?? -1).Select(d => (JsonNode)new JsonObject
        {
            ["name"] = d.Name,
            ["statuses"] = new JsonArray(new JsonObject
            {
                ["code"] = "ProvisioningState/succeeded", ["level"] = "Info", ["displayStatus"] = "Provisioning succeeded", ["time"] = created,
            }),
        })]);
        if (running is not null)
        {
            result["nbd"] = new JsonObject
            {
                ["address"] = running.NbdAddress,
                ["tls"] = running.TlsMode,
                ["clientCertificateSubject"] = running.ClientCertificateSubject,
                ["exports"] = RenderExports(running),
            };
        }

        return result;
    }

    private static JsonArray RenderExports(VmRunningState? running) =>
        running is null
            ? []
            : new JsonArray([.. running.Exports.OrderBy(e => e.Lun ?? -1).Select(e => (JsonNode)new JsonObject
            {
                ["diskId"] = e.DiskId,
                ["diskName"] = e.DiskName,
                ["lun"] = e.Lun,
                ["exportName"] = e.ExportName,
            })]);
}
