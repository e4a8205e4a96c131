// `ironclad vm ...` and `ironclad vmss ...` against a real server, driving the real executable: the
// marketplace catalog, VMs from marketplace and custom images with customer-key disks, show -d (power
// state, NBD exports), power operations, hot attach/detach, nbd-credentials (0600 key, the printed qemu-io
// and nbdinfo commands really reach the disk over TLS), start refused naming a disabled key, scale sets
// created, scaled out and in, instance power and credentials, and deletes with their disks.
using System.Text.Json.Nodes;
using Ironclad.Testing.Tools;

namespace Ironclad.Cli.Tests;

/// <summary>Vault ports 26400-26419 (the cli helper's range): customer vaults and one platform vault per region.</summary>
public sealed class VmCliServer() : KeyVaultCliServer("26400-26419")
{
    private readonly SemaphoreSlim _setLock = new(1, 1);
    private (string Group, string Vault, string Kid, string Set)? _set;

    public const string Urn = "Ironclad:minimal:v1:latest";

    public const string UbuntuUrn = "Canonical:ubuntu-24_04-lts:server:latest";

    /// <summary>A group with a purge-protected vault, an RSA key and a set whose identity may get/wrapKey/unwrapKey (made once).</summary>
    internal async Task<(string Group, string Vault, string Kid, string Set)> SetAsync()
    {
        await _setLock.WaitAsync(TestContext.Current.CancellationToken);
        try
        {
            _set ??= await NewSetAsync("key1");
            return _set.Value;
        }
        finally
        {
            _setLock.Release();
        }
    }

    /// <summary>A fresh group, vault, key <paramref name="keyName"/> and set "des1" over it, its identity granted.</summary>
    internal async Task<(string Group, string Vault, string Kid, string Set)> NewSetAsync(string keyName)
    {
        var group = $"rg-{Guid.NewGuid():N}"[..20];
        var vault = $"kv{Guid.NewGuid():N}"[..20];
        (await Cli.RunAsync("group", "create", "-n", group, "-l", "eastus")).Succeeded();
        (await Cli.RunAsync("keyvault", "create", "-n", vault, "-g", group, "-l", "eastus", "--enable-purge-protection", "--retention-days", "7")).Succeeded();
        (await Cli.RunAsync(["keyvault", "set-policy", "-n", vault, "-g", group, "--object-id", await AdminObjectIdAsync(), "--key-permissions", .. AllKeyPermissions]))
            .Succeeded();
        var kid = (await Cli.RunAsync("keyvault", "key", "create", "--vault-name", vault, "-n", keyName, "--size", "2048")).Succeeded().Json()["key"]!["kid"]!.GetValue<string>();
        var set = (await Cli.RunAsync("disk-encryption-set", "create", "-n", "des1", "-g", group, "-l", "eastus", "--key-url", kid, "--source-vault", vault,
            "--mi-system-assigned")).Succeeded().Json();
        var principal = set["identity"]!["principalId"]!.GetValue<string>();
        (await Cli.RunAsync("keyvault", "set-policy", "-n", vault, "-g", group, "--object-id", principal, "--key-permissions", "get", "wrapKey", "unwrapKey")).Succeeded();
        return (group, vault, kid, "des1");
    }
}

public sealed class VmCliTests(VmCliServer server) : IClassFixture<VmCliServer>
{
    private Cli Cli => server.Cli;

    [Fact]
    public async Task The_marketplace_catalog_is_listed_with_urns()
    {
        var images = (await Cli.RunAsync("vm", "image", "list", "-l", "eastus")).Succeeded().Json().AsArray();
        Assert.Contains(images, i => Text(i, "urn").StartsWith("Canonical:ubuntu-24_04-lts:server:", StringComparison.Ordinal));
        Assert.Contains(images, i => Text(i, "urn").StartsWith("Ironclad:minimal:v1:", StringComparison.Ordinal));
        var only = (await Cli.RunAsync("vm", "image", "list", "-l", "eastus", "--publisher", "ironclad")).Succeeded().Json().AsArray();
        Assert.NotEmpty(only);
        Assert.All(only, i => Assert.Equal("Ironclad", Text(i, "publisher")));
        Assert.Contains("Canonical", (await Cli.RunAsync("vm", "image", "list-publishers", "-l", "eastus", "-o", "table")).Succeeded().StandardOutput, StringComparison.Ordinal);
        var offers = (await Cli.RunAsync("vm", "image", "list-offers", "-l", "eastus", "-p", "Canonical")).Succeeded().Json().AsArray();
        Assert.Contains(offers, o => Text(o, "name") == "ubuntu-24_04-lts");
        var skus = (await Cli.RunAsync("vm", "image", "list-skus", "-l", "eastus", "-p", "Canonical", "-f", "ubuntu-24_04-lts")).Succeeded().Json().AsArray();
        Assert.Contains(skus, s => Text(s, "name") == "server");
    }

    [Fact]
    public async Task A_VM_from_a_marketplace_image_with_customer_key_disks_is_shown_powered_and_deleted()
    {
        var (group, _, _, set) = await server.SetAsync();
        var vm = (await Cli.RunAsync("vm", "create", "-n", "vm1", "-g", group, "--image", VmCliServer.UbuntuUrn, "--os-disk-encryption-set", set,
            "--data-disk-sizes-gb", "1", "2", "--data-disk-encryption-sets", set, "--admin-password", "Not-printed-7")).Succeeded();
        Assert.DoesNotContain("Not-printed-7", vm.StandardOutput, StringComparison.Ordinal);
        var created = vm.Json();
        var vmId = Text(created, "properties.vmId");
        Assert.True(Guid.TryParse(vmId, out _), created.ToJsonString());
        Assert.Equal("Succeeded", Text(created, "properties.provisioningState"));
        Assert.Equal("eastus", Text(created, "location"));
        var osDisk = created["properties"]!["storageProfile"]!["osDisk"]!;
        Assert.StartsWith("vm1_OsDisk_1_", Text(osDisk, "name"), StringComparison.Ordinal);
        Assert.EndsWith("/diskEncryptionSets/des1", Text(osDisk, "managedDisk.diskEncryptionSet.id"), StringComparison.OrdinalIgnoreCase);
        var dataDisks = created["properties"]!["storageProfile"]!["dataDisks"]!.AsArray();
        Assert.Equal([0, 1], dataDisks.Select(d => d!["lun"]!.GetValue<int>()));

        foreach (var diskName in new[] { Text(osDisk, "name"), Text(dataDisks[0], "name"), Text(dataDisks[1], "name") })
        {
            var disk = (await Cli.RunAsync("disk", "show", "-g", group, "-n", diskName)).Succeeded().Json();
            Assert.Equal("EncryptionAtRestWithCustomerKey", Text(disk, "properties.encryption.type"));
            Assert.Equal("Attached", Text(disk, "properties.diskState"));
            Assert.Equal(Text(created, "id"), Text(disk, "managedBy"), ignoreCase: true);
        }

        var shown = (await Cli.RunAsync("vm", "show", "-n", "vm1", "-g", group, "-d")).Succeeded().Json();
        Assert.Equal("running", PowerCode(shown));
        var exports = shown["nbd"]!["exports"]!.AsArray().Select(e => Text(e, "exportName")).Order(StringComparer.Ordinal).ToList();
        Assert.Equal([$"vm/{vmId}/lun/0", $"vm/{vmId}/lun/1", $"vm/{vmId}/os"], exports);
        Assert.Equal("required", Text(shown, "nbd.tls"));
        Assert.Null((await Cli.RunAsync("vm", "show", "-n", "vm1", "-g", group)).Succeeded().Json()["nbd"]);

        var table = (await Cli.RunAsync("vm", "list", "-g", group, "-d", "-o", "table")).Succeeded().StandardOutput;
        Assert.Contains("vm1", table, StringComparison.Ordinal);
        Assert.Contains("running", table, StringComparison.OrdinalIgnoreCase);
        Assert.Contains((await Cli.RunAsync("vm", "list")).Succeeded().Json().AsArray(), v => Text(v, "name") == "vm1");

        (await Cli.RunAsync("vm", "stop", "-n", "vm1", "-g", group)).Succeeded();
        var stopped = (await Cli.RunAsync("vm", "show", "-n", "vm1", "-g", group, "-d")).Succeeded().Json();
        Assert.Equal("stopped", PowerCode(stopped));
        Assert.Null(stopped["nbd"]);
        (await Cli.RunAsync("vm", "start", "-n", "vm1", "-g", group)).Succeeded();
        Assert.Equal("running", PowerCode((await Cli.RunAsync("vm", "show", "-n", "vm1", "-g", group, "-d")).Succeeded().Json()));
        (await Cli.RunAsync("vm", "restart", "-n", "vm1", "-g", group)).Succeeded();
        Assert.Equal("running", PowerCode((await Cli.RunAsync("vm", "show", "-n", "vm1", "-g", group, "-d")).Succeeded().Json()));
        (await Cli.RunAsync("vm", "deallocate", "-n", "vm1", "-g", group)).Succeeded();
        Assert.Equal("deallocated", PowerCode((await Cli.RunAsync("vm", "show", "-n", "vm1", "-g", group, "-d")).Succeeded().Json()));
        (await Cli.RunAsync("vm", "stop", "-n", "vm1", "-g", group, "--skip-shutdown")).Succeeded();

        (await Cli.RunAsync("vm", "delete", "-n", "vm1", "-g", group)).Succeeded();
        (await Cli.RunAsync("vm", "show", "-n", "vm1", "-g", group)).FailedWith("ResourceNotFound", expectedExit: 3);
        Assert.Equal(3, (await Cli.RunAsync("disk", "show", "-g", group, "-n", Text(osDisk, "name"))).ExitCode);
        var kept = (await Cli.RunAsync("disk", "show", "-g", group, "-n", Text(dataDisks[0], "name"))).Succeeded().Json();
        Assert.Equal("Unattached", Text(kept, "properties.diskState"));
        (await Cli.RunAsync("vm", "delete", "-n", "vm1", "-g", group)).Succeeded();
    }

    [Fact]
    public async Task Data_disks_are_attached_and_detached_hot()
    {
        var (group, _, _, set) = await server.SetAsync();
        var vmId = Text((await Cli.RunAsync("vm", "create", "-n", "vm2", "-g", group, "--image", VmCliServer.Urn)).Succeeded().Json(), "properties.vmId");

        var added = (await Cli.RunAsync("vm", "disk", "attach", "-g", group, "--vm-name", "vm2", "--new", "--size-gb", "1", "--disk-encryption-set", set)).Succeeded().Json();
        Assert.Equal(0, added["lun"]!.GetValue<int>());
        var newName = Text(added, "name");
        Assert.StartsWith("vm2_disk1_", newName, StringComparison.Ordinal);
        Assert.Equal("EncryptionAtRestWithCustomerKey", Text((await Cli.RunAsync("disk", "show", "-g", group, "-n", newName)).Succeeded().Json(), "properties.encryption.type"));

        (await Cli.RunAsync("disk", "create", "-n", "extra", "-g", group, "-l", "eastus", "--size-gb", "1", "--disk-encryption-set", set)).Succeeded();
        (await Cli.RunAsync("vm", "disk", "attach", "-g", group, "--vm-name", "vm2", "--name", "extra", "--lun", "3")).Succeeded();
        Assert.Equal("Attached", Text((await Cli.RunAsync("disk", "show", "-g", group, "-n", "extra")).Succeeded().Json(), "properties.diskState"));
        var exports = (await Cli.RunAsync("vm", "show", "-n", "vm2", "-g", group, "-d")).Succeeded().Json()["nbd"]!["exports"]!.AsArray();
        Assert.Contains(exports, e => Text(e, "exportName") == $"vm/{vmId}/lun/3" && Text(e, "diskName") == "extra");

        (await Cli.RunAsync("vm", "disk", "attach", "-g", group, "--vm-name", "vm2", "--new", "--size-gb", "1", "--lun", "3")).FailedWith("InvalidArgument");
        (await Cli.RunAsync("vm", "disk", "attach", "-g", group, "--vm-name", "vm2", "--new")).FailedWith("InvalidArgument");
        (await Cli.RunAsync("vm", "disk", "detach", "-g", group, "--vm-name", "vm2", "--name", "nothing")).FailedWith("ResourceNotFound", expectedExit: 3);

        (await Cli.RunAsync("vm", "disk", "detach", "-g", group, "--vm-name", "vm2", "--name", "extra")).Succeeded();
        Assert.Equal("Unattached", Text((await Cli.RunAsync("disk", "show", "-g", group, "-n", "extra")).Succeeded().Json(), "properties.diskState"));
        (await Cli.RunAsync("vm", "disk", "detach", "-g", group, "--vm-name", "vm2", "--lun", "0")).Succeeded();
        var left = (await Cli.RunAsync("vm", "show", "-n", "vm2", "-g", group)).Succeeded().Json()["properties"]!["storageProfile"]!["dataDisks"]!.AsArray();
        Assert.Empty(left);
        var exportsAfter = (await Cli.RunAsync("vm", "show", "-n", "vm2", "-g", group, "-d")).Succeeded().Json()["nbd"]!["exports"]!.AsArray();
        Assert.Equal([$"vm/{vmId}/os"], exportsAfter.Select(e => Text(e, "exportName")));

        (await Cli.RunAsync("vm", "delete", "-n", "vm2", "-g", group)).Succeeded();
        (await Cli.RunAsync("disk", "delete", "-n", "extra", "-g", group)).Succeeded();
        (await Cli.RunAsync("disk", "delete", "-n", newName, "-g", group)).Succeeded();
    }

    [Fact]
    public async Task Nbd_credentials_are_written_with_a_private_key_file_and_the_printed_commands_reach_the_disk()
    {
        var qemuIo = ExternalTool.Require("qemu-io", "Debian package qemu-utils");
        var bash = ExternalTool.Require("bash");
        var (group, _, _, _) = await server.SetAsync();
        var vmId = Text((await Cli.RunAsync("vm", "create", "-n", "vm3", "-g", group, "--image", VmCliServer.Urn, "--data-disk-sizes-gb", "1")).Succeeded().Json(),
            "properties.vmId");
        var directory = Path.Combine(server.Scratch, $"creds-{Guid.NewGuid():N}");
        var issued = await Cli.RunAsync("vm", "nbd-credentials", "-n", "vm3", "-g", group, "--out-dir", directory, "--validity-in-hours", "2");
        issued.Succeeded();
        Assert.DoesNotContain("PRIVATE KEY", issued.StandardOutput, StringComparison.Ordinal);
        Assert.DoesNotContain("PRIVATE KEY", issued.StandardError, StringComparison.Ordinal);
        var result = issued.Json();
        Assert.Equal($"CN=vm-{vmId}", Text(result, "clientCertificateSubject"));
        Assert.Matches(@"^127\.0\.0\.1:\d+$", Text(result, "nbdAddress"));
        Assert.Contains("BEGIN CERTIFICATE", await File.ReadAllTextAsync(Path.Combine(directory, "ca-cert.pem"), TestContext.Current.CancellationToken), StringComparison.Ordinal);
        Assert.Contains("BEGIN CERTIFICATE", await File.ReadAllTextAsync(Path.Combine(directory, "client-cert.pem"), TestContext.Current.CancellationToken), StringComparison.Ordinal);
        Assert.Contains("PRIVATE KEY", await File.ReadAllTextAsync(Path.Combine(directory, "client-key.pem"), TestContext.Current.CancellationToken), StringComparison.Ordinal);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(directory, "client-key.pem")));
        }

        var commands = result["commands"]!.AsArray();
        var lun0 = commands.Single(c => Text(c, "exportName") == $"vm/{vmId}/lun/0");
        Assert.Contains(commands, c => Text(c, "exportName") == $"vm/{vmId}/os");
        var read = await bash.RunAsync(["-c", Text(lun0, "qemuIo")], cancellationToken: TestContext.Current.CancellationToken);
        Assert.True(read.Succeeded, read.Describe());
        Assert.Contains("read 4096/4096 bytes", read.StandardOutput, StringComparison.Ordinal);

        // The same credentials write and read back a pattern; without them the export is refused.
        var (host, port) = (Text(result, "nbdAddress").Split(':')[0], Text(result, "nbdAddress").Split(':')[1]);
        string[] image = ["--object", $"tls-creds-x509,id=tls0,endpoint=client,dir={directory}", "--image-opts", $"driver=nbd,host={host},port={port},export=vm/{vmId}/lun/0,tls-creds=tls0"];
        (await qemuIo.RunAsync([.. image, "-c", "write -P 0x3c 64k 64k", "-c", "flush"], cancellationToken: TestContext.Current.CancellationToken)).EnsureSuccess();
        var back = (await qemuIo.RunAsync([.. image, "-c", "read -P 0x3c 64k 64k"], cancellationToken: TestContext.Current.CancellationToken)).EnsureSuccess();
        Assert.DoesNotContain("verification failed", back.StandardOutput, StringComparison.Ordinal);
        var plain = await qemuIo.RunAsync(["--image-opts", $"driver=nbd,host={host},port={port},export=vm/{vmId}/lun/0", "-c", "read 0 4k"],
            cancellationToken: TestContext.Current.CancellationToken);
        Assert.False(plain.Succeeded, plain.Describe());

        if (ExternalTool.TryFind("nbdinfo") is not null)
        {
            var info = await bash.RunAsync(["-c", Text(lun0, "nbdinfo")], cancellationToken: TestContext.Current.CancellationToken);
            Assert.True(info.Succeeded, info.Describe());
            Assert.Contains("1073741824", info.StandardOutput, StringComparison.Ordinal);
        }

        (await Cli.RunAsync("vm", "delete", "-n", "vm3", "-g", group)).Succeeded();
    }

    [Fact]
    public async Task A_VM_from_a_custom_image_starts_only_while_its_key_is_enabled()
    {
        var (group, vault, kid, set) = await server.NewSetAsync("key2");
        (await Cli.RunAsync("disk", "create", "-n", "base", "-g", group, "-l", "eastus", "--size-gb", "1", "--disk-encryption-set", set)).Succeeded();
        (await Cli.RunAsync("image", "create", "-n", "img1", "-g", group, "-l", "eastus", "--source", "base", "--disk-encryption-set", set)).Succeeded();
        var created = (await Cli.RunAsync("vm", "create", "-n", "vm4", "-g", group, "--image", "img1", "--os-disk-encryption-set", set, "--os-disk-name", "vm4-os"))
            .Succeeded().Json();
        Assert.Equal("vm4-os", Text(created, "properties.storageProfile.osDisk.name"));
        Assert.EndsWith("/images/img1", Text(created, "properties.storageProfile.imageReference.id"), StringComparison.OrdinalIgnoreCase);
        (await Cli.RunAsync("vm", "create", "-n", "bad", "-g", group, "--image", "a:b:c")).FailedWith("InvalidArgument");
        (await Cli.RunAsync("vm", "create", "-n", "bad", "-g", group)).FailedWith("InvalidArgument");

        (await Cli.RunAsync("vm", "stop", "-n", "vm4", "-g", group)).Succeeded();
        (await Cli.RunAsync("keyvault", "key", "set-attributes", "--vault-name", vault, "-n", "key2", "--enabled", "false")).Succeeded();
        var refused = await Cli.RunAsync("vm", "start", "-n", "vm4", "-g", group);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains(kid[..kid.LastIndexOf('/')], refused.StandardError, StringComparison.Ordinal);
        (await Cli.RunAsync("keyvault", "key", "set-attributes", "--vault-name", vault, "-n", "key2", "--enabled", "true")).Succeeded();
        (await Cli.RunAsync("vm", "start", "-n", "vm4", "-g", group)).Succeeded();
        Assert.Equal("running", PowerCode((await Cli.RunAsync("vm", "show", "-n", "vm4", "-g", group, "-d")).Succeeded().Json()));
        (await Cli.RunAsync("vm", "delete", "-n", "vm4", "-g", group)).Succeeded();

        // A VM that boots from an existing disk and attaches another: both stay (Detach) when it goes.
        var imageId = Text(created, "properties.storageProfile.imageReference.id");
        (await Cli.RunAsync("disk", "create", "-n", "boot", "-g", group, "-l", "eastus", "--image-reference", imageId, "--disk-encryption-set", set)).Succeeded();
        (await Cli.RunAsync("disk", "create", "-n", "data9", "-g", group, "-l", "eastus", "--size-gb", "1", "--disk-encryption-set", set)).Succeeded();
        var attached = (await Cli.RunAsync("vm", "create", "-n", "vm5", "-g", group, "--attach-os-disk", "boot", "--attach-data-disks", "data9")).Succeeded().Json();
        Assert.Equal("Attach", Text(attached, "properties.storageProfile.osDisk.createOption"));
        Assert.EndsWith("/disks/data9", Text(attached["properties"]!["storageProfile"]!["dataDisks"]![0], "managedDisk.id"), StringComparison.OrdinalIgnoreCase);
        Assert.Equal("running", PowerCode((await Cli.RunAsync("vm", "show", "-n", "vm5", "-g", group, "-d")).Succeeded().Json()));
        (await Cli.RunAsync("vm", "delete", "-n", "vm5", "-g", group)).Succeeded();
        foreach (var disk in new[] { "boot", "data9" })
        {
            Assert.Equal("Unattached", Text((await Cli.RunAsync("disk", "show", "-g", group, "-n", disk)).Succeeded().Json(), "properties.diskState"));
        }
    }

    [Fact]
    public async Task A_scale_set_is_created_scaled_out_and_in_and_deleted_with_its_disks()
    {
        var (group, _, _, set) = await server.SetAsync();
        var created = (await Cli.RunAsync("vmss", "create", "-n", "ss1", "-g", group, "--image", VmCliServer.Urn, "--instance-count", "2",
            "--os-disk-encryption-set", set, "--data-disk-sizes-gb", "1", "--data-disk-encryption-sets", set)).Succeeded().Json();
        Assert.Equal(2, created["sku"]!["capacity"]!.GetValue<int>());
        Assert.Equal("Succeeded", Text(created, "properties.provisioningState"));
        Assert.Contains("ss1", (await Cli.RunAsync("vmss", "list", "-g", group, "-o", "table")).Succeeded().StandardOutput, StringComparison.Ordinal);

        var instances = (await Cli.RunAsync("vmss", "list-instances", "-n", "ss1", "-g", group)).Succeeded().Json().AsArray();
        Assert.Equal(["0", "1"], instances.Select(i => Text(i, "instanceId")).Order(StringComparer.Ordinal));
        Assert.DoesNotContain((await Cli.RunAsync("vm", "list", "-g", group)).Succeeded().Json().AsArray(), v => Text(v, "name").StartsWith("ss1", StringComparison.Ordinal));
        var disks = await ScaleSetDisksAsync(group);
        Assert.Equal(4, disks.Count);
        Assert.All(disks, d => Assert.Equal("EncryptionAtRestWithCustomerKey", Text(d, "properties.encryption.type")));

        Assert.Equal(3, (await Cli.RunAsync("vmss", "scale", "-n", "ss1", "-g", group, "--new-capacity", "3")).Succeeded().Json()["sku"]!["capacity"]!.GetValue<int>());
        var scaled = (await Cli.RunAsync("vmss", "list-instances", "-n", "ss1", "-g", group, "-d")).Succeeded().Json().AsArray();
        Assert.Equal(["0", "1", "2"], scaled.Select(i => Text(i, "instanceId")).Order(StringComparer.Ordinal));
        Assert.All(scaled, i => Assert.Equal("running", PowerCode(i)));
        Assert.Equal(6, (await ScaleSetDisksAsync(group)).Count);

        (await Cli.RunAsync("vmss", "stop", "-n", "ss1", "-g", group, "--instance-ids", "1")).Succeeded();
        Assert.Equal("stopped", PowerCode((await Cli.RunAsync("vmss", "get-instance-view", "-n", "ss1", "-g", group, "-i", "1")).Succeeded().Json()));
        Assert.Equal("running", PowerCode((await Cli.RunAsync("vmss", "get-instance-view", "-n", "ss1", "-g", group, "-i", "0")).Succeeded().Json()));
        (await Cli.RunAsync("vmss", "start", "-n", "ss1", "-g", group)).Succeeded();
        Assert.Equal("running", PowerCode((await Cli.RunAsync("vmss", "get-instance-view", "-n", "ss1", "-g", group, "-i", "1")).Succeeded().Json()));

        var directory = Path.Combine(server.Scratch, $"ss-creds-{Guid.NewGuid():N}");
        var credentials = (await Cli.RunAsync("vmss", "nbd-credentials", "-n", "ss1", "-g", group, "-i", "0", "--out-dir", directory)).Succeeded().Json();
        Assert.StartsWith("CN=vm-", Text(credentials, "clientCertificateSubject"), StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(directory, "client-key.pem")));

        Assert.Equal(1, (await Cli.RunAsync("vmss", "scale", "-n", "ss1", "-g", group, "--new-capacity", "1")).Succeeded().Json()["sku"]!["capacity"]!.GetValue<int>());
        Assert.Equal(["0"], (await Cli.RunAsync("vmss", "list-instances", "-n", "ss1", "-g", group)).Succeeded().Json().AsArray().Select(i => Text(i, "instanceId")));
        Assert.Equal(2, (await ScaleSetDisksAsync(group)).Count);
        Assert.Equal(1, (await Cli.RunAsync("vmss", "show", "-n", "ss1", "-g", group)).Succeeded().Json()["sku"]!["capacity"]!.GetValue<int>());

        (await Cli.RunAsync("vmss", "delete", "-n", "ss1", "-g", group)).Succeeded();
        (await Cli.RunAsync("vmss", "show", "-n", "ss1", "-g", group)).FailedWith("ResourceNotFound", expectedExit: 3);
        Assert.Empty(await ScaleSetDisksAsync(group));
    }

    private async Task<List<JsonNode>> ScaleSetDisksAsync(string group) =>
        [.. (await Cli.RunAsync("disk", "list", "-g", group)).Succeeded().Json().AsArray()
            .Where(d => Text(d, "name").StartsWith("ss1_", StringComparison.OrdinalIgnoreCase)).Select(d => d!)];

    /// <summary>"running" from a status PowerState/running in properties.instanceView (vm show -d, get-instance-view).</summary>
    private static string PowerCode(JsonNode? vm) =>
        vm?["properties"]?["instanceView"]?["statuses"]?.AsArray().Select(s => Text(s, "code")).FirstOrDefault(c => c.StartsWith("PowerState/", StringComparison.Ordinal))?["PowerState/".Length..]
        ?? throw new InvalidOperationException($"no PowerState status in {vm?.ToJsonString()}");

    private static string Text(JsonNode? node, string path)
    {
        foreach (var segment in path.Split('.'))
        {
            node = node?[segment];
        }

        return node?.GetValue<string>() ?? "";
    }
}
