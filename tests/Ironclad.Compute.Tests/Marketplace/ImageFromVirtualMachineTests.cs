// Images with properties.sourceVirtualMachine on a real server: a VM made from a marketplace image
// (with a data disk) is refused as a source while it runs (409 naming it), and once powered off its
// OS and data disks become the image's; a disk made from that image is still the marketplace disk
// the real tools recognise. A running VM with a customer-key OS disk from a marketplace image serves
// that image over NBD (nbdcopy + the tools), takes seeded writes (qemu-io), and nothing of either is
// plaintext at rest. Invariant: an image never copies a running VM's disks.
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ironclad.Compute.Marketplace;
using Ironclad.Compute.Tests.Disks;
using Ironclad.Compute.Tests.VirtualMachines;
using Ironclad.Testing;
using Ironclad.Testing.Tools;

namespace Ironclad.Compute.Tests.Marketplace;

public sealed class MarketplaceVmServer : VmServer
{
    protected override string VaultPorts => "26010-26019";

    public string PlatformImageId(string publisher, string offer, string sku, string version) =>
        $"/Subscriptions/{SubscriptionId}/Providers/Microsoft.Compute/Locations/{Location}/Publishers/{publisher}/ArtifactTypes/VMImage/Offers/{offer}/Skus/{sku}/Versions/{version}";
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

    [Fact]
    public async Task A_running_vm_from_a_marketplace_image_serves_it_over_nbd_and_what_it_writes_is_not_plaintext_at_rest()
    {
        var seed = Seeds.FromEnvironmentOrRandom();
        var nbdcopy = ExternalTool.Require("nbdcopy", "Debian package libnbd-bin");
        var qemuIo = ExternalTool.Require("qemu-io", "Debian package qemu-utils");
        const string group = "rg-market-nbd";
        await server.CreateGroupAsync(group);
        var (setId, _, _) = await server.CreateCustomerKeySetAsync(group, Guid.NewGuid().ToString("N")[..8]);
        var body = VmServer.VmBody("unused", setId);
        body["properties"]!["storageProfile"]!["imageReference"] = new JsonObject { ["publisher"] = "Ironclad", ["offer"] = "minimal", ["sku"] = "v1", ["version"] = "1.0.0" };
        var vmPath = server.VmPath(group, "vm-nbd");
        var vm = await server.ArmOkAsync(HttpMethod.Put, $"{vmPath}?{VmServer.VmApi}", body, expected: 201);
        var osDisk = await server.ArmOkAsync(HttpMethod.Get, $"{VmServer.DiskId(VmServer.StorageProfile(vm).GetProperty("osDisk"))}?{DiskServer.DiskApi}", expected: 200);
        Assert.Equal(DiskServer.CustomerKey, osDisk.GetProperty("properties").GetProperty("encryption").GetProperty("type").GetString());
        Assert.Equal(server.PlatformImageId("Ironclad", "minimal", "v1", "1.0.0"),
            osDisk.GetProperty("properties").GetProperty("creationData").GetProperty("imageReference").GetProperty("id").GetString(), ignoreCase: true);

        var credentials = await server.ArmOkAsync(HttpMethod.Post, $"{vmPath}/issueNbdCredentials?{VmServer.VmApi}", new JsonObject { ["validityInHours"] = 1 }, expected: 200);
        using var directory = new TempDirectory("ironclad-market-nbd");
        var certificates = directory.Combine("certs");
        Directory.CreateDirectory(certificates);
        foreach (var (file, field) in new[] { ("ca-cert.pem", "caCertificate"), ("client-cert.pem", "clientCertificate"), ("client-key.pem", "clientKey") })
        {
            var target = Path.Combine(certificates, file);
            await File.WriteAllTextAsync(target, credentials.GetProperty(field).GetString(), TestContext.Current.CancellationToken);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(target, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
        }

        var export = credentials.GetProperty("exports").EnumerateArray().Single(e => e.GetProperty("lun").ValueKind == JsonValueKind.Null).GetProperty("exportName").GetString()!;
        var uri = $"nbds://{credentials.GetProperty("nbdAddress").GetString()}/{export}?tls-certificates={certificates}";

        // What the hypervisor reads is the marketplace image.
        var image = directory.Combine("os.raw");
        (await nbdcopy.RunAsync([uri, image], TimeSpan.FromMinutes(3), cancellationToken: TestContext.Current.CancellationToken)).EnsureSuccess("nbdcopy the OS disk");
        await ImageChecks.AssertImageAsync(image, "Ironclad", "minimal", "v1", "1.0.0");
        File.Delete(image);

        // Seeded data written past the filesystem's metadata, flushed, and read back.
        var pattern = new byte[256 << 10];
        new Random(seed).NextBytes(pattern);
        var source = directory.Combine("pattern.bin");
        var readBack = directory.Combine("read-back.bin");
        await File.WriteAllBytesAsync(source, pattern, TestContext.Current.CancellationToken);
        const long Offset = 64L << 20;
        var address = credentials.GetProperty("nbdAddress").GetString()!;
        (await qemuIo.RunAsync(
            [
                "--object", $"tls-creds-x509,id=tls0,dir={certificates},endpoint=client",
                "--image-opts", $"driver=nbd,host=127.0.0.1,port={address[(address.LastIndexOf(':') + 1)..]},export={export},tls-creds=tls0",
                "-c", $"write -s {source} {Offset} {pattern.Length}", "-c", "flush",
            ],
            TimeSpan.FromMinutes(2), cancellationToken: TestContext.Current.CancellationToken)).EnsureSuccess($"qemu-io write (seed {seed})");
        (await nbdcopy.RunAsync([uri, readBack], TimeSpan.FromMinutes(3), cancellationToken: TestContext.Current.CancellationToken)).EnsureSuccess("nbdcopy the OS disk again");
        await using (var file = new FileStream(readBack, FileMode.Open, FileAccess.Read))
        {
            var read = new byte[pattern.Length];
            file.Position = Offset;
            await file.ReadExactlyAsync(read, TestContext.Current.CancellationToken);
            Assert.True(pattern.AsSpan().SequenceEqual(read), $"the OS disk did not read back what qemu-io wrote (seed {seed})");
        }

        File.Delete(source);
        File.Delete(readBack);

        // Stopped, the whole data directory is scanned: neither the written data nor the image's marker is readable.
        await server.ArmOkAsync(HttpMethod.Post, $"{vmPath}/powerOff?{VmServer.VmApi}", expected: 200);
        var patterns = Enumerable.Range(0, 8).Select(i => pattern.AsSpan(i * (pattern.Length / 8), 64).ToArray())
            .Concat(MarketplaceImages.BuiltIn.Select(i => Encoding.ASCII.GetBytes(MarketplaceImageGenerator.MarkerText(i))))
            .ToList();
        IReadOnlyList<PlaintextScanner.Finding> findings = [];
        await server.RestartAsync(() => findings = PlaintextScanner.Scan(server.DataDirectory, patterns));
        Assert.True(findings.Count == 0, $"plaintext at rest (seed {seed}): {string.Join(", ", findings.Take(5))}");
    }
}
