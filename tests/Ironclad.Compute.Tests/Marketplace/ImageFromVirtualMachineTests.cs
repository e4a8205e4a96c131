// Images with properties.sourceVirtualMachine on a real server: a VM made from a marketplace image
// (with a data disk) is refused as a source while it runs (409 naming it), and once powered off its
// OS and data disks become the image's; a disk made from that image is still the marketplace disk
// the real tools recognise. Invariant: an image never copies a running VM's disks.
using System.Text.Json.Nodes;
using Ironclad.Compute.Tests.Disks;
using Ironclad.Compute.Tests.VirtualMachines;
using Ironclad.Testing;

namespace Ironclad.Compute.Tests.Marketplace;

public sealed class MarketplaceVmServer : VmServer
{
    protected override string VaultPorts => "26010-26019";
}

public sealed class ImageFromVirtualMachineTests(MarketplaceVmServer server) : IClassFixture<MarketplaceVmServer>
{
    [Fact]
    public async Task An_image_of_a_vm_is_refused_while_it_runs_and_takes_its_disks_once_it_is_stopped()
    {
        const string group = "rg-image-from-vm";
        await server.CreateGroupAsync(group);
        var body = VmServer.VmBody("unused", setId: null, VmServer.EmptyDataDisk(0, 1, setId: null));
        body["properties"]!["storageProfile"]!["imageReference"] = new JsonObject { ["publisher"] = "Ironclad", ["offer"] = "minimal", ["sku"] = "v1", ["version"] = "latest" };
        var vmPath = server.VmPath(group, "vm-source");
        var vm = await server.ArmOkAsync(HttpMethod.Put, $"{vmPath}?{VmServer.VmApi}", body, expected: 201);
        var osDiskId = VmServer.DiskId(VmServer.StorageProfile(vm).GetProperty("osDisk"));
        var dataDiskId = VmServer.DiskId(VmServer.DataDisk(vm, 0));
        var vmId = vm.GetProperty("id").GetString()!;

        var imagePath = server.ComputePath(group, "images", "from-vm");
        var imageBody = new JsonObject
        {
            ["location"] = DiskServer.Location,
            ["properties"] = new JsonObject { ["sourceVirtualMachine"] = new JsonObject { ["id"] = vmId } },
        };
        var (status, refused) = await server.ArmAsync(HttpMethod.Put, $"{imagePath}?{DiskServer.ImageApi}", imageBody);
        Assert.True(status == 409, $"an image of a running VM answered {status}: {refused}");
        Assert.Equal("OperationNotAllowed", VmServer.ErrorCode(refused));
        Assert.Contains("'vm-source' is running", VmServer.ErrorMessage(refused), StringComparison.Ordinal);

        await server.ArmOkAsync(HttpMethod.Post, $"{vmPath}/powerOff?{VmServer.VmApi}", expected: 200);
        var image = await server.ArmOkAsync(HttpMethod.Put, $"{imagePath}?{DiskServer.ImageApi}", imageBody, expected: 201);
        var profile = image.GetProperty("properties").GetProperty("storageProfile");
        Assert.Equal(osDiskId, profile.GetProperty("osDisk").GetProperty("managedDisk").GetProperty("id").GetString(), ignoreCase: true);
        Assert.Equal("Linux", profile.GetProperty("osDisk").GetProperty("osType").GetString());
        Assert.Equal("V2", image.GetProperty("properties").GetProperty("hyperVGeneration").GetString());
        var dataDisk = Assert.Single(profile.GetProperty("dataDisks").EnumerateArray());
        Assert.Equal(0, dataDisk.GetProperty("lun").GetInt32());
        Assert.Equal(dataDiskId, dataDisk.GetProperty("managedDisk").GetProperty("id").GetString(), ignoreCase: true);

        // A disk from the image is the marketplace disk the VM started from.
        var diskPath = server.ComputePath(group, "disks", "from-vm-image");
        var disk = await server.ArmOkAsync(HttpMethod.Put, $"{diskPath}?{DiskServer.DiskApi}",
            MarketplaceServer.FromImageBody(image.GetProperty("id").GetString()!), expected: 201);
        var size = disk.GetProperty("properties").GetProperty("diskSizeBytes").GetInt64();
        using var directory = new TempDirectory("ironclad-image-from-vm");
        var file = directory.Combine("disk.raw");
        await MarketplaceServer.DownloadAsync(server, diskPath, size, file);
        await ImageChecks.AssertImageAsync(file, "Ironclad", "minimal", "v1", "1.1.0");

        var (missing, missingBody) = await server.ArmAsync(HttpMethod.Put, $"{server.ComputePath(group, "images", "from-nothing")}?{DiskServer.ImageApi}", new JsonObject
        {
            ["location"] = DiskServer.Location,
            ["properties"] = new JsonObject { ["sourceVirtualMachine"] = new JsonObject { ["id"] = server.VmPath(group, "no-such-vm") } },
        });
        Assert.True(missing == 404, $"an image of a missing VM answered {missing}: {missingBody}");
        Assert.Contains("no-such-vm", VmServer.ErrorMessage(missingBody), StringComparison.Ordinal);
    }
}
