// VM requests the server refuses, each in the ARM envelope with a message naming the fix, and each
// leaving no disk behind (a failed create rolls back what it made and what it attached): a missing
// set, a set of another region, a duplicate lun, an attach of an Attached disk or of a disk of another
// region. Also: the adminPassword a client sent is nowhere in the metadata database.
using System.Text;
using System.Text.Json.Nodes;
using Ironclad.Compute.Tests.Disks;

namespace Ironclad.Compute.Tests.VirtualMachines;

public sealed class VmValidationServer : VmServer
{
    protected override string VaultPorts => "26120-26139";
}

public sealed class VirtualMachineValidationTests(VmValidationServer server) : IClassFixture<VmValidationServer>
{
    private static readonly int Seed = Environment.GetEnvironmentVariable("IRONCLAD_TEST_SEED") is { } s ? int.Parse(s, System.Globalization.CultureInfo.InvariantCulture) : Random.Shared.Next();

    [Fact]
    public async Task Refused_requests_answer_the_arm_envelope_and_leave_no_disk()
    {
        const string group = "rg-vm-invalid";
        await server.CreateGroupAsync(group);
        await server.CreateGroupAsync("rg-vm-west", "westus");
        var (setId, _, _) = await server.CreateCustomerKeySetAsync(group, "val");
        var imageId = await server.CreateCustomImageAsync(group, "img", DiskServer.Writes(Seed), setId);
        var disksBefore = await server.DiskNamesAsync(group);

        async Task Refused(string name, JsonObject body, int status, string code, params string[] mentions)
        {
            var (actual, error) = await server.ArmAsync(HttpMethod.Put, $"{server.VmPath(group, name)}?{VmServer.VmApi}", body);
            Assert.True(actual == status, $"{name}: expected {status}, got {actual}: {error}");
            Assert.Equal(code, VmServer.ErrorCode(error));
            foreach (var mention in mentions)
            {
                Assert.Contains(mention, VmServer.ErrorMessage(error), StringComparison.OrdinalIgnoreCase);
            }

            Assert.Equal(404, (await server.ArmAsync(HttpMethod.Get, $"{server.VmPath(group, name)}?{VmServer.VmApi}")).Status);
            Assert.Equal(disksBefore.Order(), (await server.DiskNamesAsync(group)).Order());
        }

        var missingSet = $"{server.GroupPath(group)}/providers/Microsoft.Compute/diskEncryptionSets/nope";
        await Refused("vm-missing-set", VmServer.VmBody(imageId, setId, VmServer.EmptyDataDisk(0, 1, missingSet)), 404, "NotFound", missingSet);
        await Refused("vm-dup-lun", VmServer.VmBody(imageId, setId, VmServer.EmptyDataDisk(2, 1, setId), VmServer.EmptyDataDisk(2, 1, setId)), 400, "InvalidParameter", "lun 2");
        await Refused("vm-bad-lun", VmServer.VmBody(imageId, setId, VmServer.EmptyDataDisk(64, 1, setId)), 400, "InvalidParameter", "lun");
        await Refused("vm-no-storage", new JsonObject { ["location"] = DiskServer.Location, ["properties"] = new JsonObject() }, 400, "InvalidParameter", "storageProfile");
        await Refused("vm-image-lun", VmServer.VmBody(imageId, setId, new JsonObject { ["lun"] = 5, ["createOption"] = "FromImage" }), 400, "InvalidParameter", "lun 5");

        var (westSetId, _, _) = await server.CreateCustomerKeySetAsync("rg-vm-west", "west", "westus");
        await Refused("vm-west-set", VmServer.VmBody(imageId, setId, VmServer.EmptyDataDisk(0, 1, westSetId)), 400, "InvalidParameter", "westus");
        var westDisk = await server.ArmOkAsync(HttpMethod.Put, $"{server.ComputePath("rg-vm-west", "disks", "w1")}?{DiskServer.DiskApi}", DiskServer.EmptyDiskBody(1, location: "westus"), expected: 201);
        await Refused("vm-west-disk", VmServer.VmBody(imageId, setId, VmServer.AttachDataDisk(0, westDisk.GetProperty("id").GetString()!)), 400, "InvalidParameter", "westus");

        // An Attached disk cannot be attached again: the second VM is refused, naming the first.
        var vm = await server.ArmOkAsync(HttpMethod.Put, $"{server.VmPath(group, "owner")}?{VmServer.VmApi}",
            VmServer.VmBody(imageId, setId, VmServer.EmptyDataDisk(0, 1, setId)), expected: 201);
        var taken = VmServer.DiskId(VmServer.DataDisk(vm, 0));
        disksBefore = await server.DiskNamesAsync(group);
        await Refused("vm-steal", VmServer.VmBody(imageId, setId, VmServer.AttachDataDisk(0, taken)), 409, "OperationNotAllowed", vm.GetProperty("id").GetString()!);
        var stillOwned = await server.ArmOkAsync(HttpMethod.Get, $"{taken}?{DiskServer.DiskApi}", expected: 200);
        Assert.Equal(vm.GetProperty("id").GetString(), stillOwned.GetProperty("managedBy").GetString(), ignoreCase: true);

        // PATCH with a duplicate lun is refused too, and the VM keeps its disks.
        var (patchStatus, patchError) = await server.ArmAsync(HttpMethod.Patch, $"{server.VmPath(group, "owner")}?{VmServer.VmApi}", new JsonObject
        {
            ["properties"] = new JsonObject { ["storageProfile"] = new JsonObject { ["dataDisks"] = new JsonArray(VmServer.AttachDataDisk(0, taken), VmServer.EmptyDataDisk(0, 1, setId)) } },
        });
        Assert.Equal(400, patchStatus);
        Assert.Equal("InvalidParameter", VmServer.ErrorCode(patchError));

        // GET, add a data disk, PUT the whole body back (what SDK clients do): the echoed disks are kept, the new one attached.
        var echoed = JsonNode.Parse((await server.ArmOkAsync(HttpMethod.Get, $"{server.VmPath(group, "owner")}?{VmServer.VmApi}", expected: 200)).GetRawText())!.AsObject();
        echoed["properties"]!["storageProfile"]!["dataDisks"]!.AsArray().Add(VmServer.EmptyDataDisk(1, 1, setId));
        var replaced = await server.ArmOkAsync(HttpMethod.Put, $"{server.VmPath(group, "owner")}?{VmServer.VmApi}", echoed, expected: 200);
        Assert.Equal(taken, VmServer.DiskId(VmServer.DataDisk(replaced, 0)), ignoreCase: true);
        Assert.Equal("Attached", (await server.ArmOkAsync(HttpMethod.Get, $"{VmServer.DiskId(VmServer.DataDisk(replaced, 1))}?{DiskServer.DiskApi}", expected: 200))
            .GetProperty("properties").GetProperty("diskState").GetString());

        // The client's adminPassword was never stored.
        var database = await File.ReadAllBytesAsync(Path.Combine(server.DataDirectory, "metadata.db"), TestContext.Current.CancellationToken);
        Assert.DoesNotContain("Never-Stored-9f3k!", Encoding.UTF8.GetString(database), StringComparison.Ordinal);

        await server.ArmOkAsync(HttpMethod.Delete, $"{server.VmPath(group, "owner")}?{VmServer.VmApi}", expected: 200);
        // A data disk's deleteOption defaults to Detach: it stays, Unattached.
        var kept = await server.ArmOkAsync(HttpMethod.Get, $"{taken}?{DiskServer.DiskApi}", expected: 200);
        Assert.Equal("Unattached", kept.GetProperty("properties").GetProperty("diskState").GetString());
    }
}
