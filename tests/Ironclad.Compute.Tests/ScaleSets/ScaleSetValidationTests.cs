// Scale-set refusals on a real server: bodies the type refuses before any instance is made (ARM
// envelope, 400/404 naming the property), a customer-key set whose identity cannot use its key
// (the create fails and leaves no set, no disk, no wrapped DEK), and a scale-out that fails part way
// (its data disks' key expires while instances are being made) removes every instance that request made.
using System.Text.Json.Nodes;
using Ironclad.Compute.Tests.Disks;

namespace Ironclad.Compute.Tests.ScaleSets;

public sealed class ScaleSetValidationServer : ScaleSetServer
{
    protected override string VaultPorts => "26320-26339";
}

public sealed class ScaleSetValidationTests(ScaleSetValidationServer server) : IClassFixture<ScaleSetValidationServer>
{
    private const string Api = ScaleSetServer.ComputeApi;
    private static readonly int Seed = Environment.GetEnvironmentVariable("IRONCLAD_TEST_SEED") is { } s ? int.Parse(s, System.Globalization.CultureInfo.InvariantCulture) : Random.Shared.Next();

    [Fact]
    public async Task Invalid_bodies_are_refused_with_the_property_named_and_leave_nothing()
    {
        const string group = "rg-vmss-bad";
        var (setId, imageId, _, _, _) = await server.PrepareAsync(group, Seed);
        var disksBefore = await server.DiskNamesAsync(group);
        var path = server.ComputePath(group, "virtualMachineScaleSets", "bad");
        var cases = new List<(string What, JsonObject Body, int Status, string Code, string Named)>
        {
            ("capacity over 1000", With(b => b["sku"]!["capacity"] = 1001), 400, "InvalidParameter", "sku.capacity"),
            ("negative capacity", With(b => b["sku"]!["capacity"] = -1), 400, "InvalidParameter", "sku.capacity"),
            ("no capacity", With(b => b["sku"]!.AsObject().Remove("capacity")), 400, "InvalidParameter", "sku.capacity"),
            ("no sku", With(b => b.Remove("sku")), 400, "InvalidParameter", "sku"),
            ("no location", With(b => b.Remove("location")), 400, "LocationRequired", "location"),
            ("no profile", With(b => b["properties"]!.AsObject().Remove("virtualMachineProfile")), 400, "InvalidParameter", "virtualMachineProfile"),
            ("no image", With(b => Storage(b).Remove("imageReference")), 400, "InvalidParameter", "imageReference"),
            ("os disk Attach", With(b => Storage(b)["osDisk"]!["createOption"] = "Attach"), 400, "InvalidParameter", "osDisk.createOption"),
            ("os disk id", With(b => Storage(b)["osDisk"]!["managedDisk"]!["id"] = $"{server.GroupPath(group)}/providers/Microsoft.Compute/disks/golden"), 400, "InvalidParameter", "managedDisk.id"),
            ("data disk Attach", With(b => Storage(b)["dataDisks"]![0]!["createOption"] = "Attach"), 400, "InvalidParameter", "dataDisks[0].createOption"),
            ("data disk without size", With(b => Storage(b)["dataDisks"]![0]!.AsObject().Remove("diskSizeGB")), 400, "InvalidParameter", "dataDisks[0].diskSizeGB"),
            ("two disks at one lun", With(b => Storage(b)["dataDisks"]!.AsArray().Add(new JsonObject { ["lun"] = 0, ["createOption"] = "Empty", ["diskSizeGB"] = 1 })), 400, "InvalidParameter", "lun 0"),
            ("set id of another type", With(b => Storage(b)["osDisk"]!["managedDisk"]!["diskEncryptionSet"] = new JsonObject { ["id"] = imageId }), 400, "InvalidParameter", "diskEncryptionSet.id"),
            ("missing set", With(b => Storage(b)["dataDisks"]![0]!["managedDisk"]!["diskEncryptionSet"] = new JsonObject { ["id"] = setId + "-gone" }), 404, "NotFound", "dataDisks[0].managedDisk.diskEncryptionSet.id"),
            ("bad orchestration mode", With(b => b["properties"]!["orchestrationMode"] = "Sideways"), 400, "InvalidParameter", "orchestrationMode"),
            ("disk name on a set", With(b => Storage(b)["osDisk"]!["name"] = "shared"), 400, "InvalidParameter", "osDisk.name"),
        };
        foreach (var (what, body, status, code, named) in cases)
        {
            var (actual, error) = await server.ArmAsync(HttpMethod.Put, $"{path}?{Api}", body);
            var message = PlatformKeyDiskTests.Message(error);
            Assert.True(actual == status, $"{what}: expected {status}, got {actual}: {message}");
            Assert.True(message.StartsWith(code + ":", StringComparison.Ordinal), $"{what}: expected code {code}: {message}");
            Assert.True(message.Contains(named, StringComparison.Ordinal), $"{what}: the message should name '{named}': {message}");
        }

        Assert.Equal(404, (await server.ArmAsync(HttpMethod.Get, $"{path}?{Api}")).Status);
        Assert.Equal(disksBefore.Count, (await server.DiskNamesAsync(group)).Count);

        // On an existing set: PATCH to an invalid capacity is refused and changes nothing; unknown instances are 404.
        await server.ArmOkAsync(HttpMethod.Put, $"{path}?{Api}", ScaleSetServer.ScaleSetBody(0, imageId, setId, setId), expected: 201);
        var (patchStatus, patchError) = await server.ArmAsync(HttpMethod.Patch, $"{path}?{Api}", new JsonObject { ["sku"] = new JsonObject { ["capacity"] = 5000 } });
        Assert.Equal(400, patchStatus);
        Assert.Contains("sku.capacity", PlatformKeyDiskTests.Message(patchError), StringComparison.Ordinal);
        Assert.Equal(0, (await server.ArmOkAsync(HttpMethod.Get, $"{path}?{Api}", expected: 200)).GetProperty("sku").GetProperty("capacity").GetInt32());
        Assert.Equal(404, (await server.ArmAsync(HttpMethod.Get, $"{path}/virtualMachines/0?{Api}")).Status);
        Assert.Equal(404, (await server.ArmAsync(HttpMethod.Post, $"{path}/virtualMachines/0/start?{Api}")).Status);
        var (deleteStatus, deleteError) = await server.ArmAsync(HttpMethod.Post, $"{path}/delete?{Api}", new JsonObject());
        Assert.Equal(400, deleteStatus);
        Assert.Contains("instanceIds", PlatformKeyDiskTests.Message(deleteError), StringComparison.Ordinal);
        Assert.Equal(405, (await server.ArmAsync(HttpMethod.Put, $"{path}/virtualMachines/0?{Api}", new JsonObject())).Status);
        await server.ArmOkAsync(HttpMethod.Delete, $"{path}?{Api}", expected: 200);

        JsonObject With(Action<JsonObject> change)
        {
            var body = ScaleSetServer.ScaleSetBody(1, imageId, setId, setId);
            change(body);
            return body;
        }

        static JsonObject Storage(JsonObject body) => body["properties"]!["virtualMachineProfile"]!["storageProfile"]!.AsObject();
    }

    [Fact]
    public async Task A_set_whose_identity_cannot_use_the_key_is_refused_and_leaves_nothing()
    {
        const string group = "rg-vmss-denied";
        var (_, imageId, vaultId, vaultUri, _) = await server.PrepareAsync(group, Seed + 1);
        var key = await server.CreateKeyAsync(vaultUri, "k-denied");
        var (deniedSet, _) = await server.CreateSetAsync(group, "des-denied", vaultId, key, grant: false);
        var disksBefore = await server.DiskNamesAsync(group);
        var rowsBefore = server.DataKeyRowCount();
        var path = server.ComputePath(group, "virtualMachineScaleSets", "denied");

        var (status, error) = await server.ArmAsync(HttpMethod.Put, $"{path}?{Api}", ScaleSetServer.ScaleSetBody(2, imageId, deniedSet, deniedSet));
        var message = PlatformKeyDiskTests.Message(error);
        Assert.True(status == 403, $"expected 403, got {status}: {message}");
        Assert.StartsWith("KeyVaultAccessDenied", message, StringComparison.Ordinal);
        Assert.Equal(404, (await server.ArmAsync(HttpMethod.Get, $"{path}?{Api}")).Status);
        Assert.Equal(disksBefore.Order(StringComparer.Ordinal), (await server.DiskNamesAsync(group)).Order(StringComparer.Ordinal));
        Assert.Equal(rowsBefore, server.DataKeyRowCount());
    }

    [Fact]
    public async Task A_scale_out_that_fails_part_way_removes_the_instances_it_made()
    {
        const string group = "rg-vmss-rollback";
        var (setId, imageId, vaultId, vaultUri, _) = await server.PrepareAsync(group, Seed + 2);
        // The data disks use a second set whose key expires in a few seconds: wraps (new disks) are refused from then on, so a
        // long scale-out fails part way, after it made instances (unwraps still work: the instance made before stays running).
        var expiresAt = DateTimeOffset.UtcNow.AddSeconds(12);
        var expiring = await server.CreateKeyAsync(vaultUri, "k-expiring", expires: expiresAt);
        var (expiringSet, _) = await server.CreateSetAsync(group, "des-expiring", vaultId, expiring);
        var path = server.ComputePath(group, "virtualMachineScaleSets", "roll");
        await server.ArmOkAsync(HttpMethod.Put, $"{path}?{Api}", ScaleSetServer.ScaleSetBody(1, imageId, setId, expiringSet), expected: 201);
        var disksBefore = await server.DiskNamesAsync(group);
        Assert.True(DateTimeOffset.UtcNow < expiresAt.AddSeconds(-3), "the set of 1 took too long: the key expires before the scale-out can make instances");

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var (status, error) = await server.ArmAsync(HttpMethod.Patch, $"{path}?{Api}", new JsonObject { ["sku"] = new JsonObject { ["capacity"] = ScaleSetMax } });
        var message = PlatformKeyDiskTests.Message(error);
        TestContext.Current.TestOutputHelper?.WriteLine($"the scale-out answered {status} after {clock.ElapsedMilliseconds} ms: {message}");
        Assert.True(status == 409 && message.StartsWith("KeyExpired:", StringComparison.Ordinal), $"the scale-out should fail on the expired key: {status}: {message}");
        Assert.Contains("k-expiring", message, StringComparison.Ordinal);
        Assert.Equal(1, (await server.ArmOkAsync(HttpMethod.Get, $"{path}?{Api}", expected: 200)).GetProperty("sku").GetProperty("capacity").GetInt32());
        Assert.Equal(["0"], (await server.InstancesAsync(path)).Select(i => i.GetProperty("instanceId").GetString()!));
        Assert.Equal(disksBefore.Order(StringComparer.Ordinal), (await server.DiskNamesAsync(group)).Order(StringComparer.Ordinal));
        Assert.Equal("PowerState/running", ScaleSetServer.PowerState(await server.ArmOkAsync(HttpMethod.Get, $"{path}/virtualMachines/0/instanceView?{Api}", expected: 200)));
    }

    private const int ScaleSetMax = 1000;
}
