// VMs through ARM on a real server with real vaults: a VM from a custom image (made from a snapshot)
// with a customer-key OS disk and an Empty customer-key data disk; its disks Attached and managedBy
// the VM (and undeletable); attach and detach by PATCH; power actions and the instance view; NBD
// credentials; delete honouring deleteOption; a start refused by a disabled key, naming it.
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using Ironclad.Compute.Tests.Disks;

namespace Ironclad.Compute.Tests.VirtualMachines;

public sealed class VmLifecycleServer : VmServer
{
    protected override string VaultPorts => "26100-26119";
}

public sealed class VirtualMachineLifecycleTests(VmLifecycleServer server) : IClassFixture<VmLifecycleServer>
{
    private static readonly int Seed = Environment.GetEnvironmentVariable("IRONCLAD_TEST_SEED") is { } s ? int.Parse(s, System.Globalization.CultureInfo.InvariantCulture) : Random.Shared.Next();

    [Fact]
    public async Task Vm_from_a_custom_image_with_customer_key_disks_attaches_detaches_and_deletes_by_deleteOption()
    {
        const string group = "rg-vm-life";
        await server.CreateGroupAsync(group);
        var (setId, _, _) = await server.CreateCustomerKeySetAsync(group, "life");
        var writes = DiskServer.Writes(Seed);
        var imageId = await server.CreateCustomImageAsync(group, "img", writes, setId);
        var vmPath = server.VmPath(group, "vm1");

        var vm = await server.ArmOkAsync(HttpMethod.Put, $"{vmPath}?{VmServer.VmApi}",
            VmServer.VmBody(imageId, setId, VmServer.EmptyDataDisk(0, 2, setId, deleteOption: "Delete")), expected: 201);
        Assert.Equal("Microsoft.Compute/virtualMachines", vm.GetProperty("type").GetString());
        Assert.Equal("vm1", vm.GetProperty("name").GetString());
        var properties = vm.GetProperty("properties");
        var vmId = Guid.Parse(properties.GetProperty("vmId").GetString()!);
        Assert.Equal("Succeeded", properties.GetProperty("provisioningState").GetString());
        Assert.False(properties.GetProperty("osProfile").TryGetProperty("adminPassword", out _), "adminPassword must never be answered");
        Assert.Equal("azureuser", properties.GetProperty("osProfile").GetProperty("adminUsername").GetString());
        var osDisk = VmServer.StorageProfile(vm).GetProperty("osDisk");
        Assert.Equal("Linux", osDisk.GetProperty("osType").GetString());
        Assert.StartsWith("vm1_OsDisk_1_", osDisk.GetProperty("name").GetString(), StringComparison.Ordinal);
        Assert.Equal("Delete", osDisk.GetProperty("deleteOption").GetString());
        Assert.Equal(setId, osDisk.GetProperty("managedDisk").GetProperty("diskEncryptionSet").GetProperty("id").GetString(), ignoreCase: true);
        var data0 = VmServer.DataDisk(vm, 0);
        Assert.StartsWith("vm1_disk1_", data0.GetProperty("name").GetString(), StringComparison.Ordinal);
        Assert.Equal(2, data0.GetProperty("diskSizeGB").GetInt32());
        var osDiskId = VmServer.DiskId(osDisk);
        var data0Id = VmServer.DiskId(data0);
        var vmResourceId = vm.GetProperty("id").GetString()!;

        foreach (var diskId in new[] { osDiskId, data0Id })
        {
            var disk = await server.ArmOkAsync(HttpMethod.Get, $"{diskId}?{DiskServer.DiskApi}", expected: 200);
            Assert.Equal("Attached", disk.GetProperty("properties").GetProperty("diskState").GetString());
            Assert.Equal(vmResourceId, disk.GetProperty("managedBy").GetString(), ignoreCase: true);
            Assert.Equal(DiskServer.CustomerKey, disk.GetProperty("properties").GetProperty("encryption").GetProperty("type").GetString());
            var (status, refused) = await server.ArmAsync(HttpMethod.Delete, $"{diskId}?{DiskServer.DiskApi}");
            Assert.Equal(409, status);
            Assert.Equal("OperationNotAllowed", VmServer.ErrorCode(refused));
            Assert.Contains(vmResourceId, VmServer.ErrorMessage(refused), StringComparison.OrdinalIgnoreCase);
        }

        var (power, view) = await server.PowerStateAsync(vmPath);
        Assert.Equal("PowerState/running", power);
        var nbd = view.GetProperty("nbd");
        Assert.Equal($"CN=vm-{vmId:D}", nbd.GetProperty("clientCertificateSubject").GetString());
        var exportNames = nbd.GetProperty("exports").EnumerateArray().Select(e => e.GetProperty("exportName").GetString()).ToList();
        Assert.Equal([$"vm/{vmId:D}/os", $"vm/{vmId:D}/lun/0"], exportNames);

        var expanded = await server.ArmOkAsync(HttpMethod.Get, $"{vmPath}?{VmServer.VmApi}&$expand=instanceView", expected: 200);
        Assert.True(expanded.GetProperty("properties").TryGetProperty("instanceView", out _), "$expand=instanceView must add properties.instanceView");
        var listed = await server.ArmOkAsync(HttpMethod.Get, $"{server.GroupPath(group)}/providers/Microsoft.Compute/virtualMachines?{VmServer.VmApi}", expected: 200);
        Assert.Single(listed.GetProperty("value").EnumerateArray());

        // PATCH: attach an existing Unattached disk at lun 3 and a new Empty one at lun 1, hot (the VM runs).
        var spare = await server.ArmOkAsync(HttpMethod.Put, $"{server.ComputePath(group, "disks", "spare")}?{DiskServer.DiskApi}", DiskServer.EmptyDiskBody(1, setId), expected: 201);
        var spareId = spare.GetProperty("id").GetString()!;
        var patched = await server.ArmOkAsync(HttpMethod.Patch, $"{vmPath}?{VmServer.VmApi}", new JsonObject
        {
            ["properties"] = new JsonObject
            {
                ["storageProfile"] = new JsonObject
                {
                    ["dataDisks"] = new JsonArray(
                        VmServer.AttachDataDisk(0, data0Id),
                        VmServer.EmptyDataDisk(1, 1, setId),
                        VmServer.AttachDataDisk(3, spareId)),
                },
            },
        }, expected: 200);
        Assert.Equal(3, VmServer.StorageProfile(patched).GetProperty("dataDisks").GetArrayLength());
        Assert.Equal("Detach", VmServer.DataDisk(patched, 3).GetProperty("deleteOption").GetString());
        var lun1Id = VmServer.DiskId(VmServer.DataDisk(patched, 1));
        var spareAttached = await server.ArmOkAsync(HttpMethod.Get, $"{spareId}?{DiskServer.DiskApi}", expected: 200);
        Assert.Equal("Attached", spareAttached.GetProperty("properties").GetProperty("diskState").GetString());
        (_, view) = await server.PowerStateAsync(vmPath);
        Assert.Equal(4, view.GetProperty("nbd").GetProperty("exports").GetArrayLength());

        // PATCH: detach lun 1 (it stays, Unattached) and keep the others.
        patched = await server.ArmOkAsync(HttpMethod.Patch, $"{vmPath}?{VmServer.VmApi}", new JsonObject
        {
            ["properties"] = new JsonObject
            {
                ["storageProfile"] = new JsonObject
                {
                    ["dataDisks"] = new JsonArray(VmServer.AttachDataDisk(0, data0Id), VmServer.AttachDataDisk(3, spareId)),
                },
            },
        }, expected: 200);
        Assert.Equal(2, VmServer.StorageProfile(patched).GetProperty("dataDisks").GetArrayLength());
        var lun1 = await server.ArmOkAsync(HttpMethod.Get, $"{lun1Id}?{DiskServer.DiskApi}", expected: 200);
        Assert.Equal("Unattached", lun1.GetProperty("properties").GetProperty("diskState").GetString());
        Assert.False(lun1.TryGetProperty("managedBy", out _), "a detached disk has no managedBy");
        (_, view) = await server.PowerStateAsync(vmPath);
        Assert.Equal(3, view.GetProperty("nbd").GetProperty("exports").GetArrayLength());

        // Delete: the OS disk and lun 0 (deleteOption Delete) go, lun 3 (Detach) stays Unattached.
        await server.ArmOkAsync(HttpMethod.Delete, $"{vmPath}?{VmServer.VmApi}", expected: 200);
        Assert.Equal(404, (await server.ArmAsync(HttpMethod.Get, $"{vmPath}?{VmServer.VmApi}")).Status);
        Assert.Equal(404, (await server.ArmAsync(HttpMethod.Get, $"{osDiskId}?{DiskServer.DiskApi}")).Status);
        Assert.Equal(404, (await server.ArmAsync(HttpMethod.Get, $"{data0Id}?{DiskServer.DiskApi}")).Status);
        var spareAfter = await server.ArmOkAsync(HttpMethod.Get, $"{spareId}?{DiskServer.DiskApi}", expected: 200);
        Assert.Equal("Unattached", spareAfter.GetProperty("properties").GetProperty("diskState").GetString());
        Assert.Equal(204, (await server.ArmAsync(HttpMethod.Delete, $"{vmPath}?{VmServer.VmApi}")).Status);
        await server.ArmOkAsync(HttpMethod.Delete, $"{spareId}?{DiskServer.DiskApi}", expected: 200);
    }

    [Fact]
    public async Task Os_disk_made_from_the_image_holds_the_image_data_and_is_kept_with_deleteOption_Detach()
    {
        const string group = "rg-vm-data";
        await server.CreateGroupAsync(group);
        var (setId, _, _) = await server.CreateCustomerKeySetAsync(group, "data");
        var writes = DiskServer.Writes(Seed);
        var imageId = await server.CreateCustomImageAsync(group, "img", writes, setId: null);
        var body = VmServer.VmBody(imageId, setId);
        body["properties"]!["storageProfile"]!["osDisk"]!["deleteOption"] = "Detach";
        body["properties"]!["storageProfile"]!["osDisk"]!["name"] = "kept-os";
        body["properties"]!["storageProfile"]!["dataDisks"] = new JsonArray(new JsonObject { ["lun"] = 1, ["createOption"] = "FromImage" });
        var vmPath = server.VmPath(group, "vm-data");
        var vm = await server.ArmOkAsync(HttpMethod.Put, $"{vmPath}?{VmServer.VmApi}", body, expected: 201);
        var osDiskId = VmServer.DiskId(VmServer.StorageProfile(vm).GetProperty("osDisk"));
        Assert.EndsWith("/disks/kept-os", osDiskId, StringComparison.OrdinalIgnoreCase);
        var lun1Id = VmServer.DiskId(VmServer.DataDisk(vm, 1));

        await server.ArmOkAsync(HttpMethod.Delete, $"{vmPath}?{VmServer.VmApi}", expected: 200);
        var os = await server.ArmOkAsync(HttpMethod.Get, $"{osDiskId}?{DiskServer.DiskApi}", expected: 200);
        Assert.Equal("Unattached", os.GetProperty("properties").GetProperty("diskState").GetString());
        Assert.Equal(DiskServer.CustomerKey, os.GetProperty("properties").GetProperty("encryption").GetProperty("type").GetString());
        var lun1 = await server.ArmOkAsync(HttpMethod.Get, $"{lun1Id}?{DiskServer.DiskApi}", expected: 200);
        Assert.Equal("Unattached", lun1.GetProperty("properties").GetProperty("diskState").GetString());
        try
        {
            await server.AssertDataAsync(osDiskId, writes);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw new InvalidOperationException($"seed {Seed}: the OS disk does not hold the image's data", e);
        }
    }

    [Fact]
    public async Task Power_actions_change_the_instance_view_and_nbd_credentials_name_the_vm()
    {
        const string group = "rg-vm-power";
        await server.CreateGroupAsync(group);
        var (setId, keyUrl, _) = await server.CreateCustomerKeySetAsync(group, "power");
        var imageId = await server.CreateCustomImageAsync(group, "img", DiskServer.Writes(Seed), setId);
        var vmPath = server.VmPath(group, "vm-power");
        var vm = await server.ArmOkAsync(HttpMethod.Put, $"{vmPath}?{VmServer.VmApi}", VmServer.VmBody(imageId, setId), expected: 201);
        var vmId = Guid.Parse(vm.GetProperty("properties").GetProperty("vmId").GetString()!);

        await server.ArmOkAsync(HttpMethod.Post, $"{vmPath}/powerOff?{VmServer.VmApi}&skipShutdown=true", expected: 200);
        var (power, view) = await server.PowerStateAsync(vmPath);
        Assert.Equal("PowerState/stopped", power);
        Assert.False(view.TryGetProperty("nbd", out _), "a stopped VM has no NBD exports");
        var (restartStatus, restartRefused) = await server.ArmAsync(HttpMethod.Post, $"{vmPath}/restart?{VmServer.VmApi}");
        Assert.Equal(409, restartStatus);
        Assert.Equal("OperationNotAllowed", VmServer.ErrorCode(restartRefused));

        await server.ArmOkAsync(HttpMethod.Post, $"{vmPath}/deallocate?{VmServer.VmApi}", expected: 200);
        Assert.Equal("PowerState/deallocated", (await server.PowerStateAsync(vmPath)).Power);
        await server.ArmOkAsync(HttpMethod.Post, $"{vmPath}/start?{VmServer.VmApi}", expected: 200);
        Assert.Equal("PowerState/running", (await server.PowerStateAsync(vmPath)).Power);
        await server.ArmOkAsync(HttpMethod.Post, $"{vmPath}/restart?{VmServer.VmApi}", expected: 200);
        Assert.Equal("PowerState/running", (await server.PowerStateAsync(vmPath)).Power);

        var credentials = await server.ArmOkAsync(HttpMethod.Post, $"{vmPath}/issueNbdCredentials?{VmServer.VmApi}", new JsonObject { ["validityInHours"] = 2 }, expected: 200);
        Assert.Equal($"CN=vm-{vmId:D}", credentials.GetProperty("clientCertificateSubject").GetString());
        using (var certificate = X509Certificate2.CreateFromPem(credentials.GetProperty("clientCertificate").GetString()!))
        {
            Assert.Equal($"CN=vm-{vmId:D}", certificate.Subject);
            Assert.InRange(certificate.NotAfter.ToUniversalTime(), DateTime.UtcNow.AddHours(1), DateTime.UtcNow.AddHours(3));
        }

        Assert.Contains("PRIVATE KEY", credentials.GetProperty("clientKey").GetString()!, StringComparison.Ordinal);
        Assert.Contains("BEGIN CERTIFICATE", credentials.GetProperty("caCertificate").GetString()!, StringComparison.Ordinal);
        Assert.Equal(1, credentials.GetProperty("exports").GetArrayLength());
        var (badStatus, bad) = await server.ArmAsync(HttpMethod.Post, $"{vmPath}/issueNbdCredentials?{VmServer.VmApi}", new JsonObject { ["validityInHours"] = 721 });
        Assert.Equal(400, badStatus);
        Assert.Equal("InvalidParameter", VmServer.ErrorCode(bad));

        // A disabled key refuses the start, naming the key; the VM stays stopped with the reason; enabled again, it starts.
        await server.ArmOkAsync(HttpMethod.Post, $"{vmPath}/powerOff?{VmServer.VmApi}", expected: 200);
        await server.SetKeyEnabledAsync(keyUrl, enabled: false);
        var (startStatus, startRefused) = await server.ArmAsync(HttpMethod.Post, $"{vmPath}/start?{VmServer.VmApi}");
        Assert.Equal(409, startStatus);
        Assert.Equal("KeyDisabled", VmServer.ErrorCode(startRefused));
        Assert.Contains(keyUrl.Split('/')[4], VmServer.ErrorMessage(startRefused), StringComparison.Ordinal);
        (power, view) = await server.PowerStateAsync(vmPath);
        Assert.Equal("PowerState/stopped", power);
        var keyStatus = view.GetProperty("statuses").EnumerateArray().Single(st => st.GetProperty("code").GetString()!.StartsWith("KeyAccess/", StringComparison.Ordinal));
        Assert.Equal("KeyAccess/KeyDisabled", keyStatus.GetProperty("code").GetString());
        Assert.Equal("Error", keyStatus.GetProperty("level").GetString());
        await server.SetKeyEnabledAsync(keyUrl, enabled: true);
        await server.ArmOkAsync(HttpMethod.Post, $"{vmPath}/start?{VmServer.VmApi}", expected: 200);
        (power, view) = await server.PowerStateAsync(vmPath);
        Assert.Equal("PowerState/running", power);
        Assert.DoesNotContain(view.GetProperty("statuses").EnumerateArray(), st => st.GetProperty("code").GetString()!.StartsWith("KeyAccess/", StringComparison.Ordinal));

        await server.ArmOkAsync(HttpMethod.Delete, $"{vmPath}?{VmServer.VmApi}", expected: 200);
    }
}
