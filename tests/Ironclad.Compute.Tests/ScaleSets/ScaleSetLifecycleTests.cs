// Scale sets end to end on a real server: a set of 2 from a custom image (made from a snapshot of a
// customer-key disk) with customer-key OS and data disks; each instance has its own Attached disks
// (managedBy the instance); scale to 3 and back to 1 (removed instances' disks gone, ids not reused);
// instance and set power operations; deleteInstances; NBD credentials; deleting the set removes every disk.
using System.Text.Json;
using System.Text.Json.Nodes;
using Ironclad.Compute.Tests.Disks;

namespace Ironclad.Compute.Tests.ScaleSets;

public sealed class ScaleSetLifecycleServer : ScaleSetServer
{
    protected override string VaultPorts => "26300-26319";
}

public sealed class ScaleSetLifecycleTests(ScaleSetLifecycleServer server) : IClassFixture<ScaleSetLifecycleServer>
{
    private const string Api = ScaleSetServer.ComputeApi;
    private static readonly int Seed = Environment.GetEnvironmentVariable("IRONCLAD_TEST_SEED") is { } s ? int.Parse(s, System.Globalization.CultureInfo.InvariantCulture) : Random.Shared.Next();

    [Fact]
    public async Task Scale_set_instances_have_their_own_customer_key_disks_and_scale_out_and_in()
    {
        TestContext.Current.TestOutputHelper?.WriteLine($"seed {Seed} (IRONCLAD_TEST_SEED)");
        const string group = "rg-vmss";
        var (setId, imageId, _, _, _) = await server.PrepareAsync(group, Seed);
        var disksBefore = await server.DiskNamesAsync(group);
        var path = server.ComputePath(group, "virtualMachineScaleSets", "web");

        var created = await server.ArmOkAsync(HttpMethod.Put, $"{path}?{Api}", ScaleSetServer.ScaleSetBody(2, imageId, setId, setId), expected: 201);
        Assert.Equal("Microsoft.Compute/virtualMachineScaleSets", created.GetProperty("type").GetString());
        Assert.Equal(2, created.GetProperty("sku").GetProperty("capacity").GetInt32());
        Assert.Equal("Succeeded", created.GetProperty("properties").GetProperty("provisioningState").GetString());
        Assert.True(Guid.TryParse(created.GetProperty("properties").GetProperty("uniqueId").GetString(), out _));
        var createdText = created.GetRawText();
        Assert.DoesNotContain("Never-Stored-4711!", createdText, StringComparison.Ordinal);
        Assert.DoesNotContain("adminPassword", createdText, StringComparison.Ordinal);

        var instances = await server.InstancesAsync(path);
        Assert.Equal(["0", "1"], instances.Select(i => i.GetProperty("instanceId").GetString()!));
        foreach (var instance in instances)
        {
            await AssertInstanceAsync(path, instance, setId);
        }

        // Each instance has an OS and a data disk of its own: 4 new disks in the group.
        Assert.Equal(disksBefore.Count + 4, (await server.DiskNamesAsync(group)).Count);

        // Lists: by group and by subscription; GET.
        var byGroup = await server.ArmOkAsync(HttpMethod.Get, $"{server.GroupPath(group)}/providers/Microsoft.Compute/virtualMachineScaleSets?{Api}", expected: 200);
        Assert.Contains(byGroup.GetProperty("value").EnumerateArray(), s => s.GetProperty("name").GetString() == "web");
        var bySubscription = await server.ArmOkAsync(HttpMethod.Get, $"/subscriptions/{server.SubscriptionId}/providers/Microsoft.Compute/virtualMachineScaleSets?{Api}", expected: 200);
        Assert.Contains(bySubscription.GetProperty("value").EnumerateArray(), s => s.GetProperty("id").GetString()!.Equals(path, StringComparison.OrdinalIgnoreCase));

        // The set's instance view counts its instances' statuses.
        var setView = await server.ArmOkAsync(HttpMethod.Get, $"{path}/instanceView?{Api}", expected: 200);
        Assert.Equal("ProvisioningState/succeeded", setView.GetProperty("statuses")[0].GetProperty("code").GetString());
        Assert.Equal(2, Count(setView, "PowerState/running"));
        Assert.Equal(2, Count(setView, "ProvisioningState/succeeded"));

        // Scale out to 3 (PATCH, as arm-compute update sends it): a new instance "2".
        var scaled = await server.ArmOkAsync(HttpMethod.Patch, $"{path}?{Api}", new JsonObject { ["sku"] = new JsonObject { ["capacity"] = 3 } }, expected: 200);
        Assert.Equal(3, scaled.GetProperty("sku").GetProperty("capacity").GetInt32());
        Assert.Equal("Standard_D2s_v3", scaled.GetProperty("sku").GetProperty("name").GetString());
        instances = await server.InstancesAsync(path);
        Assert.Equal(["0", "1", "2"], instances.Select(i => i.GetProperty("instanceId").GetString()!));
        await AssertInstanceAsync(path, instances[2], setId);
        var removedDisks = instances.Skip(1).SelectMany(ScaleSetServer.DiskIdsOf).ToList();

        // Scale in to 1 (PUT): the highest ids go, with their disks.
        var shrunk = await server.ArmOkAsync(HttpMethod.Put, $"{path}?{Api}", ScaleSetServer.ScaleSetBody(1, imageId, setId, setId), expected: 200);
        Assert.Equal(1, shrunk.GetProperty("sku").GetProperty("capacity").GetInt32());
        instances = await server.InstancesAsync(path);
        Assert.Equal(["0"], instances.Select(i => i.GetProperty("instanceId").GetString()!));
        foreach (var diskId in removedDisks)
        {
            Assert.Equal(404, (await server.ArmAsync(HttpMethod.Get, $"{diskId}?{DiskServer.DiskApi}")).Status);
        }

        Assert.Equal(404, (await server.ArmAsync(HttpMethod.Get, $"{path}/virtualMachines/2?{Api}")).Status);

        // Instance power operations, as arm-compute virtualMachineScaleSetVMs sends them.
        var instance0 = $"{path}/virtualMachines/0";
        await server.ArmOkAsync(HttpMethod.Post, $"{instance0}/powerOff?{Api}&skipShutdown=true", expected: 200);
        Assert.Equal("PowerState/stopped", ScaleSetServer.PowerState(await server.ArmOkAsync(HttpMethod.Get, $"{instance0}/instanceView?{Api}", expected: 200)));
        await server.ArmOkAsync(HttpMethod.Post, $"{instance0}/start?{Api}", expected: 200);
        Assert.Equal("PowerState/running", ScaleSetServer.PowerState(await server.ArmOkAsync(HttpMethod.Get, $"{instance0}/instanceView?{Api}", expected: 200)));
        await server.ArmOkAsync(HttpMethod.Post, $"{instance0}/deallocate?{Api}", expected: 200);
        Assert.Equal("PowerState/deallocated", ScaleSetServer.PowerState(await server.ArmOkAsync(HttpMethod.Get, $"{instance0}/instanceView?{Api}", expected: 200)));

        // Set-level start for the named instances (body {"instanceIds"}), poweroff (the SDK's lower-case path), start and restart ("*") for all.
        await server.ArmOkAsync(HttpMethod.Post, $"{path}/start?{Api}", new JsonObject { ["instanceIds"] = new JsonArray("0") }, expected: 200);
        Assert.Equal("PowerState/running", ScaleSetServer.PowerState(await server.ArmOkAsync(HttpMethod.Get, $"{instance0}/instanceView?{Api}", expected: 200)));
        await server.ArmOkAsync(HttpMethod.Post, $"{path}/poweroff?{Api}", expected: 200);
        Assert.Equal(1, Count(await server.ArmOkAsync(HttpMethod.Get, $"{path}/instanceView?{Api}", expected: 200), "PowerState/stopped"));
        await server.ArmOkAsync(HttpMethod.Post, $"{path}/start?{Api}", expected: 200);
        await server.ArmOkAsync(HttpMethod.Post, $"{path}/restart?{Api}", new JsonObject { ["instanceIds"] = new JsonArray("*") }, expected: 200);
        Assert.Equal("PowerState/running", ScaleSetServer.PowerState(await server.ArmOkAsync(HttpMethod.Get, $"{instance0}/instanceView?{Api}", expected: 200)));
        var (unknownStatus, unknown) = await server.ArmAsync(HttpMethod.Post, $"{path}/start?{Api}", new JsonObject { ["instanceIds"] = new JsonArray("0", "7") });
        Assert.Equal(404, unknownStatus);
        Assert.Contains("'7'", PlatformKeyDiskTests.Message(unknown), StringComparison.Ordinal);

        // $expand=instanceView on an instance GET.
        var expanded = await server.ArmOkAsync(HttpMethod.Get, $"{instance0}?{Api}&$expand=instanceView", expected: 200);
        Assert.Equal("PowerState/running", ScaleSetServer.PowerState(expanded.GetProperty("properties").GetProperty("instanceView")));

        // NBD credentials for an instance: a certificate for the instance's VM, never stored.
        var credentials = await server.ArmOkAsync(HttpMethod.Post, $"{instance0}/issueNbdCredentials?{Api}", new JsonObject { ["validityInHours"] = 1 }, expected: 200);
        Assert.StartsWith("CN=vm-", credentials.GetProperty("clientCertificateSubject").GetString(), StringComparison.Ordinal);
        Assert.Contains("BEGIN CERTIFICATE", credentials.GetProperty("clientCertificate").GetString(), StringComparison.Ordinal);

        // Scale out again: instance ids are not reused (3, not 1); deleteInstances removes it and its disks.
        await server.ArmOkAsync(HttpMethod.Patch, $"{path}?{Api}", new JsonObject { ["sku"] = new JsonObject { ["capacity"] = 2 } }, expected: 200);
        instances = await server.InstancesAsync(path);
        Assert.Equal(["0", "3"], instances.Select(i => i.GetProperty("instanceId").GetString()!));
        var disksOf3 = ScaleSetServer.DiskIdsOf(instances[1]);
        await server.ArmOkAsync(HttpMethod.Post, $"{path}/delete?{Api}", new JsonObject { ["instanceIds"] = new JsonArray("3") }, expected: 200);
        Assert.Equal(1, (await server.ArmOkAsync(HttpMethod.Get, $"{path}?{Api}", expected: 200)).GetProperty("sku").GetProperty("capacity").GetInt32());
        foreach (var diskId in disksOf3)
        {
            Assert.Equal(404, (await server.ArmAsync(HttpMethod.Get, $"{diskId}?{DiskServer.DiskApi}")).Status);
        }

        // An Attached instance disk cannot be deleted on its own.
        var os0 = ScaleSetServer.DiskIdsOf(instances[0])[0];
        Assert.Equal(409, (await server.ArmAsync(HttpMethod.Delete, $"{os0}?{DiskServer.DiskApi}")).Status);

        // Deleting the set removes every instance and every instance disk; a second DELETE is 204.
        await server.ArmOkAsync(HttpMethod.Delete, $"{path}?{Api}", expected: 200);
        Assert.Equal(404, (await server.ArmAsync(HttpMethod.Get, $"{path}?{Api}")).Status);
        Assert.Equal(404, (await server.ArmAsync(HttpMethod.Get, $"{os0}?{DiskServer.DiskApi}")).Status);
        Assert.Equal(disksBefore.Order(StringComparer.Ordinal), (await server.DiskNamesAsync(group)).Order(StringComparer.Ordinal));
        Assert.Equal(204, (await server.ArmAsync(HttpMethod.Delete, $"{path}?{Api}")).Status);
    }

    [Fact]
    public async Task Instance_delete_lowers_the_capacity_and_group_delete_removes_the_set_and_its_disks()
    {
        const string group = "rg-vmss-rg";
        var (setId, imageId, _, _, _) = await server.PrepareAsync(group, Seed + 1);
        var path = server.ComputePath(group, "virtualMachineScaleSets", "batch");
        await server.ArmOkAsync(HttpMethod.Put, $"{path}?{Api}", ScaleSetServer.ScaleSetBody(2, imageId, setId, dataSetId: null), expected: 201);
        var instances = await server.InstancesAsync(path);
        var disksOf0 = ScaleSetServer.DiskIdsOf(instances[0]);

        // The data disk without a set of its own is a platform-key disk; the OS disk has the set.
        var data0 = await server.ArmOkAsync(HttpMethod.Get, $"{disksOf0[1]}?{DiskServer.DiskApi}", expected: 200);
        Assert.Equal(DiskServer.PlatformKey, data0.GetProperty("properties").GetProperty("encryption").GetProperty("type").GetString());

        await server.ArmOkAsync(HttpMethod.Delete, $"{path}/virtualMachines/0?{Api}", expected: 200);
        Assert.Equal(204, (await server.ArmAsync(HttpMethod.Delete, $"{path}/virtualMachines/0?{Api}")).Status);
        Assert.Equal(1, (await server.ArmOkAsync(HttpMethod.Get, $"{path}?{Api}", expected: 200)).GetProperty("sku").GetProperty("capacity").GetInt32());
        foreach (var diskId in disksOf0)
        {
            Assert.Equal(404, (await server.ArmAsync(HttpMethod.Get, $"{diskId}?{DiskServer.DiskApi}")).Status);
        }

        var disksOf1 = ScaleSetServer.DiskIdsOf((await server.InstancesAsync(path)).Single());
        var (status, _) = await server.ArmAsync(HttpMethod.Delete, $"{server.GroupPath(group)}?api-version=2025-04-01");
        Assert.True(status is 200 or 202, $"group delete answered {status}");
        Assert.Equal(404, (await server.ArmAsync(HttpMethod.Get, $"{path}?{Api}")).Status);
        foreach (var diskId in disksOf1)
        {
            Assert.Equal(404, (await server.ArmAsync(HttpMethod.Get, $"{diskId}?{DiskServer.DiskApi}")).Status);
        }
    }

    [Fact]
    public async Task A_scale_set_from_a_marketplace_image_gets_customer_key_os_disks_made_from_the_platform_image()
    {
        const string group = "rg-vmss-market";
        var (setId, _, _, _, _) = await server.PrepareAsync(group, Seed + 2);
        var path = server.ComputePath(group, "virtualMachineScaleSets", "edge");
        var body = ScaleSetServer.ScaleSetBody(1, "unused", setId, setId);
        body["properties"]!["virtualMachineProfile"]!["storageProfile"]!["imageReference"] =
            new JsonObject { ["publisher"] = "Ironclad", ["offer"] = "minimal", ["sku"] = "v1", ["version"] = "latest" };
        await server.ArmOkAsync(HttpMethod.Put, $"{path}?{Api}", body, expected: 201);

        var instance = (await server.InstancesAsync(path)).Single();
        var osDisk = await server.ArmOkAsync(HttpMethod.Get, $"{ScaleSetServer.DiskIdsOf(instance)[0]}?{DiskServer.DiskApi}", expected: 200);
        var properties = osDisk.GetProperty("properties");
        Assert.Equal("Attached", properties.GetProperty("diskState").GetString());
        Assert.Equal(instance.GetProperty("id").GetString(), osDisk.GetProperty("managedBy").GetString(), ignoreCase: true);
        Assert.Equal(setId, properties.GetProperty("encryption").GetProperty("diskEncryptionSetId").GetString(), ignoreCase: true);
        Assert.Contains("/Publishers/Ironclad/ArtifactTypes/VMImage/Offers/minimal/Skus/v1/Versions/",
            properties.GetProperty("creationData").GetProperty("imageReference").GetProperty("id").GetString(), StringComparison.OrdinalIgnoreCase);
        Assert.Equal("PowerState/running", ScaleSetServer.PowerState(await server.ArmOkAsync(HttpMethod.Get, $"{instance.GetProperty("id").GetString()}/instanceView?{Api}", expected: 200)));
        await server.ArmOkAsync(HttpMethod.Delete, $"{path}?{Api}", expected: 200);
        Assert.Equal(404, (await server.ArmAsync(HttpMethod.Get, $"{osDisk.GetProperty("id").GetString()}?{DiskServer.DiskApi}")).Status);
    }

    /// <summary>An instance of the set: its type, name and id, its own disks Attached to it under the set's encryption, and its instance view.</summary>
    private async Task AssertInstanceAsync(string setPath, JsonElement instance, string encryptionSetId)
    {
        var instanceId = instance.GetProperty("instanceId").GetString()!;
        var id = instance.GetProperty("id").GetString()!;
        Assert.Equal($"{setPath}/virtualMachines/{instanceId}", id, ignoreCase: true);
        Assert.Equal("Microsoft.Compute/virtualMachineScaleSets/virtualMachines", instance.GetProperty("type").GetString());
        Assert.Equal($"web_{instanceId}", instance.GetProperty("name").GetString());
        Assert.Equal("Succeeded", instance.GetProperty("properties").GetProperty("provisioningState").GetString());
        Assert.DoesNotContain("Never-Stored-4711!", instance.GetRawText(), StringComparison.Ordinal);
        var diskIds = ScaleSetServer.DiskIdsOf(instance);
        Assert.Equal(2, diskIds.Count);
        for (var i = 0; i < diskIds.Count; i++)
        {
            var disk = await server.ArmOkAsync(HttpMethod.Get, $"{diskIds[i]}?{DiskServer.DiskApi}", expected: 200);
            Assert.Equal("Attached", disk.GetProperty("properties").GetProperty("diskState").GetString());
            Assert.Equal(id, disk.GetProperty("managedBy").GetString(), ignoreCase: true);
            Assert.Equal(encryptionSetId, disk.GetProperty("properties").GetProperty("encryption").GetProperty("diskEncryptionSetId").GetString(), ignoreCase: true);
            Assert.StartsWith(i == 0 ? $"web_{instanceId}_OsDisk_1_" : $"web_{instanceId}_disk1_", disk.GetProperty("name").GetString(), StringComparison.Ordinal);
        }

        var view = await server.ArmOkAsync(HttpMethod.Get, $"{id}/instanceView?{Api}", expected: 200);
        Assert.Equal("PowerState/running", ScaleSetServer.PowerState(view));
        var single = await server.ArmOkAsync(HttpMethod.Get, $"{id}?{Api}", expected: 200);
        Assert.Equal(instanceId, single.GetProperty("instanceId").GetString());
    }

    private static int Count(JsonElement setView, string code) =>
        setView.GetProperty("virtualMachine").GetProperty("statusesSummary").EnumerateArray()
            .Where(s => s.GetProperty("code").GetString() == code).Select(s => s.GetProperty("count").GetInt32()).SingleOrDefault();
}
