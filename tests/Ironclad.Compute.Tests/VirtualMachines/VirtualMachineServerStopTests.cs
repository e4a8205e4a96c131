// What the server does to a VM by itself, seen through the VM resource: a VM from a marketplace image
// (customer-key OS disk) is resumed after a server restart; a key disabled while it runs stops it, and
// its instance view says why (KeyAccess/KeyDisabled naming the key) until the key is back and it starts;
// deleting the resource group deletes the VM before its disks; VM lists leave scale-set instances out.
using System.Text.Json;
using System.Text.Json.Nodes;
using Ironclad.Compute.Tests.Disks;
using Ironclad.Compute.Tests.EncryptionSets;

namespace Ironclad.Compute.Tests.VirtualMachines;

public sealed class VmServerStopServer : VmServer
{
    protected override string VaultPorts => "26140-26149";
}

public sealed class VirtualMachineServerStopTests(VmServerStopServer server) : IClassFixture<VmServerStopServer>
{
    [Fact]
    public async Task Marketplace_vm_is_resumed_after_a_restart_stopped_by_a_disabled_key_and_started_again()
    {
        const string group = "rg-vm-market";
        await server.CreateGroupAsync(group);
        var (setId, keyUrl, _) = await server.CreateCustomerKeySetAsync(group, "mkt");
        var body = VmServer.VmBody("unused", setId, VmServer.EmptyDataDisk(0, 1, setId));
        body["properties"]!["storageProfile"]!["imageReference"] = new JsonObject { ["publisher"] = "Ironclad", ["offer"] = "minimal", ["sku"] = "v1", ["version"] = "latest" };
        var vmPath = server.VmPath(group, "vm-mkt");
        var vm = await server.ArmOkAsync(HttpMethod.Put, $"{vmPath}?{VmServer.VmApi}", body, expected: 201);
        var imageReference = VmServer.StorageProfile(vm).GetProperty("imageReference");
        Assert.Equal("latest", imageReference.GetProperty("version").GetString());
        Assert.False(string.IsNullOrEmpty(imageReference.GetProperty("exactVersion").GetString()), "a marketplace VM answers the exact version");
        var osDisk = VmServer.StorageProfile(vm).GetProperty("osDisk");
        Assert.Equal("Linux", osDisk.GetProperty("osType").GetString());
        var disk = await server.ArmOkAsync(HttpMethod.Get, $"{VmServer.DiskId(osDisk)}?{DiskServer.DiskApi}", expected: 200);
        Assert.Contains("/Publishers/Ironclad/ArtifactTypes/VMImage/Offers/minimal/", disk.GetProperty("properties").GetProperty("creationData").GetProperty("imageReference").GetProperty("id").GetString()!, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(DiskServer.CustomerKey, disk.GetProperty("properties").GetProperty("encryption").GetProperty("type").GetString());

        await server.RestartAsync();
        var resumed = await SetsServer.WaitForAsync("the VM resumed after the restart", async () =>
        {
            var (power, view) = await server.PowerStateAsync(vmPath);
            return power == "PowerState/running" && view.TryGetProperty("nbd", out var nbd) ? (object?)nbd : null;
        }, TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);
        Assert.Equal(2, ((JsonElement)resumed).GetProperty("exports").GetArrayLength());

        await server.SetKeyEnabledAsync(keyUrl, enabled: false);
        var stopped = await SetsServer.WaitForAsync("the VM stopped by the disabled key", async () =>
        {
            var (power, view) = await server.PowerStateAsync(vmPath);
            return power == "PowerState/stopped" ? (object?)view : null;
        }, TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        var stoppedView = (JsonElement)stopped;
        Assert.False(stoppedView.TryGetProperty("nbd", out _), "a VM the server stopped has no NBD exports");
        var keyStatus = stoppedView.GetProperty("statuses").EnumerateArray().Single(s => s.GetProperty("code").GetString()!.StartsWith("KeyAccess/", StringComparison.Ordinal));
        Assert.Equal("KeyAccess/KeyDisabled", keyStatus.GetProperty("code").GetString());
        Assert.Equal("Error", keyStatus.GetProperty("level").GetString());
        Assert.Contains(keyUrl.Split('/')[4], keyStatus.GetProperty("message").GetString()!, StringComparison.Ordinal);

        var (startStatus, refused) = await server.ArmAsync(HttpMethod.Post, $"{vmPath}/start?{VmServer.VmApi}");
        Assert.Equal(409, startStatus);
        Assert.Equal("KeyDisabled", VmServer.ErrorCode(refused));
        await server.SetKeyEnabledAsync(keyUrl, enabled: true);
        await server.ArmOkAsync(HttpMethod.Post, $"{vmPath}/start?{VmServer.VmApi}", expected: 200);
        Assert.Equal("PowerState/running", (await server.PowerStateAsync(vmPath)).Power);
    }

    [Fact]
    public async Task Resource_group_delete_deletes_the_vm_and_its_disks()
    {
        const string group = "rg-vm-doomed";
        await server.CreateGroupAsync(group);
        var imageId = await server.CreateCustomImageAsync(group, "img", DiskServer.Writes(7), setId: null);
        var vm = await server.ArmOkAsync(HttpMethod.Put, $"{server.VmPath(group, "vm-doomed")}?{VmServer.VmApi}",
            VmServer.VmBody(imageId, null, VmServer.EmptyDataDisk(0, 1, null)), expected: 201);
        var osDiskId = VmServer.DiskId(VmServer.StorageProfile(vm).GetProperty("osDisk"));

        // A scale-set instance is a VM too, but the VM lists show standalone VMs only.
        await server.ArmOkAsync(HttpMethod.Put, $"{server.ComputePath(group, "virtualMachineScaleSets", "ss")}?{VmServer.VmApi}",
            Ironclad.Compute.Tests.ScaleSets.ScaleSetServer.ScaleSetBody(1, imageId, null, null), expected: 201);
        foreach (var scope in new[] { server.GroupPath(group), $"/subscriptions/{server.SubscriptionId}" })
        {
            var listed = await server.ArmOkAsync(HttpMethod.Get, $"{scope}/providers/Microsoft.Compute/virtualMachines?{VmServer.VmApi}", expected: 200);
            var ids = listed.GetProperty("value").EnumerateArray().Select(v => v.GetProperty("id").GetString()!).ToList();
            Assert.Contains(ids, id => id.EndsWith($"/resourceGroups/{group}/providers/Microsoft.Compute/virtualMachines/vm-doomed", StringComparison.OrdinalIgnoreCase));
            Assert.DoesNotContain(ids, id => id.Contains("/virtualMachineScaleSets/", StringComparison.OrdinalIgnoreCase));
            Assert.Single(ids, id => id.Contains($"/resourceGroups/{group}/", StringComparison.OrdinalIgnoreCase));
        }

        var (status, _) = await server.ArmAsync(HttpMethod.Delete, $"{server.GroupPath(group)}?api-version=2025-04-01");
        Assert.True(status is 200 or 202, $"resource group delete answered {status}");
        await SetsServer.WaitForAsync("the group's VMs and disks gone", async () =>
        {
            var vms = await server.ArmOkAsync(HttpMethod.Get, $"/subscriptions/{server.SubscriptionId}/providers/Microsoft.Compute/virtualMachines?{VmServer.VmApi}", expected: 200);
            var disks = await server.ArmOkAsync(HttpMethod.Get, $"/subscriptions/{server.SubscriptionId}/providers/Microsoft.Compute/disks?{DiskServer.DiskApi}", expected: 200);
            var left = vms.GetProperty("value").EnumerateArray().Concat(disks.GetProperty("value").EnumerateArray())
                .Count(r => r.GetProperty("id").GetString()!.Contains($"/resourceGroups/{group}/", StringComparison.OrdinalIgnoreCase));
            return left == 0 ? (object?)true : null;
        }, TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        Assert.Equal(404, (await server.ArmAsync(HttpMethod.Get, $"{osDiskId}?{DiskServer.DiskApi}")).Status);
    }
}
