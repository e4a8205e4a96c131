// Platform-key disks, snapshots and images through ARM (plain HTTPS, the bootstrap administrator) on a
// real server: create / get / list / grow / shrink refused / delete, O(1) snapshots and clones that
// share the disk's wrapped DEKs, crypto-shredding on delete, resource-group deletion, the refusals.
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ironclad.Compute.Tests.Disks;

public sealed class PlatformKeyDiskServer : DiskServer
{
    protected override string VaultPorts => "25200-25209";
}

public sealed class PlatformKeyDiskTests(PlatformKeyDiskServer server) : IClassFixture<PlatformKeyDiskServer>
{
    [Fact]
    public async Task Platform_key_disk_create_get_list_grow_shrink_refused_delete()
    {
        const string group = "rg-platform";
        await server.CreateGroupAsync(group);
        var path = server.ComputePath(group, "disks", "d1");
        var created = await server.ArmOkAsync(HttpMethod.Put, $"{path}?{DiskServer.DiskApi}", DiskServer.EmptyDiskBody(4), expected: 201);
        var properties = created.GetProperty("properties");
        Assert.Equal("Microsoft.Compute/disks", created.GetProperty("type").GetString());
        Assert.Equal(path, created.GetProperty("id").GetString());
        Assert.Equal("Succeeded", properties.GetProperty("provisioningState").GetString());
        Assert.Equal("Unattached", properties.GetProperty("diskState").GetString());
        Assert.Equal(4, properties.GetProperty("diskSizeGB").GetInt32());
        Assert.Equal(4L << 30, properties.GetProperty("diskSizeBytes").GetInt64());
        Assert.Equal(DiskServer.PlatformKey, properties.GetProperty("encryption").GetProperty("type").GetString());
        Assert.False(properties.GetProperty("encryption").TryGetProperty("diskEncryptionSetId", out _));
        var uniqueId = properties.GetProperty("uniqueId").GetString()!;
        Assert.True(Guid.TryParse(uniqueId, out _));
        Assert.Equal("Premium_LRS", created.GetProperty("sku").GetProperty("name").GetString());

        // One wrapped DEK (platform key), never the plaintext.
        var rows = server.DataKeyRows(uniqueId);
        Assert.Single(rows);
        Assert.Contains("/keys/", rows[0].Kid, StringComparison.Ordinal);

        var got = await server.ArmOkAsync(HttpMethod.Get, $"{path}?{DiskServer.DiskApi}", expected: 200);
        Assert.Equal(uniqueId, got.GetProperty("properties").GetProperty("uniqueId").GetString());
        var byGroup = await server.ArmOkAsync(HttpMethod.Get, $"{server.GroupPath(group)}/providers/Microsoft.Compute/disks?{DiskServer.DiskApi}", expected: 200);
        Assert.Contains(byGroup.GetProperty("value").EnumerateArray(), d => d.GetProperty("name").GetString() == "d1");
        var bySubscription = await server.ArmOkAsync(HttpMethod.Get, $"/subscriptions/{server.SubscriptionId}/providers/Microsoft.Compute/disks?{DiskServer.DiskApi}", expected: 200);
        Assert.Contains(bySubscription.GetProperty("value").EnumerateArray(), d => d.GetProperty("name").GetString() == "d1");

        // Grow by PATCH; shrink refused with a message that says why.
        var grown = await server.ArmOkAsync(HttpMethod.Patch, $"{path}?{DiskServer.DiskApi}",
            new JsonObject { ["properties"] = new JsonObject { ["diskSizeGB"] = 8 }, ["tags"] = new JsonObject { ["env"] = "test" } }, expected: 200);
        Assert.Equal(8, grown.GetProperty("properties").GetProperty("diskSizeGB").GetInt32());
        Assert.Equal("test", grown.GetProperty("tags").GetProperty("env").GetString());
        var (shrinkStatus, shrink) = await server.ArmAsync(HttpMethod.Patch, $"{path}?{DiskServer.DiskApi}",
            new JsonObject { ["properties"] = new JsonObject { ["diskSizeGB"] = 2 } });
        Assert.Equal(400, shrinkStatus);
        Assert.Contains("only grow", Message(shrink), StringComparison.Ordinal);
        Assert.Equal(8, (await server.ArmOkAsync(HttpMethod.Get, $"{path}?{DiskServer.DiskApi}")).GetProperty("properties").GetProperty("diskSizeGB").GetInt32());

        // PUT again = update (200), same volume.
        var replaced = await server.ArmOkAsync(HttpMethod.Put, $"{path}?{DiskServer.DiskApi}", DiskServer.EmptyDiskBody(8), expected: 200);
        Assert.Equal(uniqueId, replaced.GetProperty("properties").GetProperty("uniqueId").GetString());

        // Delete: 200, then 204; GET 404; the wrapped DEK is gone (crypto-shredded).
        await server.ArmOkAsync(HttpMethod.Delete, $"{path}?{DiskServer.DiskApi}", expected: 200);
        await server.ArmOkAsync(HttpMethod.Delete, $"{path}?{DiskServer.DiskApi}", expected: 204);
        var (getStatus, _) = await server.ArmAsync(HttpMethod.Get, $"{path}?{DiskServer.DiskApi}");
        Assert.Equal(404, getStatus);
        Assert.Empty(server.DataKeyRows(uniqueId));
    }

    [Fact]
    public async Task Snapshots_and_clones_share_the_wrapped_data_keys_and_survive_the_disk()
    {
        const string group = "rg-snap";
        await server.CreateGroupAsync(group);
        var disk = await server.ArmOkAsync(HttpMethod.Put, $"{server.ComputePath(group, "disks", "src")}?{DiskServer.DiskApi}", DiskServer.EmptyDiskBody(2048), expected: 201);
        var diskId = disk.GetProperty("id").GetString()!;
        var diskVolume = UniqueId(disk);

        // A 2 TiB disk: snapshots and clones are O(1) storage operations, so this is quick.
        var started = System.Diagnostics.Stopwatch.StartNew();
        var full = await server.ArmOkAsync(HttpMethod.Put, $"{server.ComputePath(group, "snapshots", "full")}?{DiskServer.DiskApi}", DiskServer.CopyBody(diskId), expected: 201);
        var incremental = await server.ArmOkAsync(HttpMethod.Put, $"{server.ComputePath(group, "snapshots", "inc")}?{DiskServer.DiskApi}",
            DiskServer.CopyBody(diskId, incremental: true), expected: 201);
        var clone = await server.ArmOkAsync(HttpMethod.Put, $"{server.ComputePath(group, "disks", "clone")}?{DiskServer.DiskApi}",
            DiskServer.CopyBody(full.GetProperty("id").GetString()!, sizeGb: 4096), expected: 201);
        var copy = await server.ArmOkAsync(HttpMethod.Put, $"{server.ComputePath(group, "disks", "copy")}?{DiskServer.DiskApi}", DiskServer.CopyBody(diskId), expected: 201);
        var snapOfSnap = await server.ArmOkAsync(HttpMethod.Put, $"{server.ComputePath(group, "snapshots", "snap2")}?{DiskServer.DiskApi}",
            DiskServer.CopyBody(full.GetProperty("id").GetString()!), expected: 201);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(30), $"five O(1) copies of a 2 TiB disk took {started.Elapsed}");

        Assert.Equal("Microsoft.Compute/snapshots", full.GetProperty("type").GetString());
        Assert.False(full.GetProperty("properties").GetProperty("incremental").GetBoolean());
        Assert.True(incremental.GetProperty("properties").GetProperty("incremental").GetBoolean());
        Assert.Equal(2048, full.GetProperty("properties").GetProperty("diskSizeGB").GetInt32());
        Assert.Equal(4096, clone.GetProperty("properties").GetProperty("diskSizeGB").GetInt32());
        Assert.Equal(diskId, full.GetProperty("properties").GetProperty("creationData").GetProperty("sourceResourceId").GetString());
        var diskRows = server.DataKeyRows(diskVolume);
        foreach (var derived in new[] { full, incremental, clone, copy, snapOfSnap })
        {
            Assert.NotEqual(diskVolume, UniqueId(derived));
            Assert.Equal(DiskServer.PlatformKey, derived.GetProperty("properties").GetProperty("encryption").GetProperty("type").GetString());
            Assert.Equal(diskRows, server.DataKeyRows(UniqueId(derived)));
        }

        // Deleting the disk shreds its rows only: the snapshot keeps its own copy of the wrapped DEK.
        await server.ArmOkAsync(HttpMethod.Delete, $"{diskId}?{DiskServer.DiskApi}", expected: 200);
        Assert.Empty(server.DataKeyRows(diskVolume));
        Assert.Equal(diskRows, server.DataKeyRows(UniqueId(full)));
        await server.ArmOkAsync(HttpMethod.Get, $"{full.GetProperty("id").GetString()}?{DiskServer.DiskApi}", expected: 200);
        var again = await server.ArmOkAsync(HttpMethod.Put, $"{server.ComputePath(group, "disks", "again")}?{DiskServer.DiskApi}",
            DiskServer.CopyBody(full.GetProperty("id").GetString()!), expected: 201);
        Assert.Equal(diskRows, server.DataKeyRows(UniqueId(again)));

        // Snapshots cannot be resized.
        var (resizeStatus, resize) = await server.ArmAsync(HttpMethod.Patch, $"{full.GetProperty("id").GetString()}?{DiskServer.DiskApi}",
            new JsonObject { ["properties"] = new JsonObject { ["diskSizeGB"] = 4096 } });
        Assert.Equal(400, resizeStatus);
        Assert.Contains("cannot be resized", Message(resize), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Image_from_disk_and_snapshot_then_disk_from_image()
    {
        const string group = "rg-image";
        await server.CreateGroupAsync(group);
        var os = await server.ArmOkAsync(HttpMethod.Put, $"{server.ComputePath(group, "disks", "os")}?{DiskServer.DiskApi}", DiskServer.EmptyDiskBody(30), expected: 201);
        var data = await server.ArmOkAsync(HttpMethod.Put, $"{server.ComputePath(group, "disks", "data")}?{DiskServer.DiskApi}", DiskServer.EmptyDiskBody(10), expected: 201);
        var dataSnapshot = await server.ArmOkAsync(HttpMethod.Put, $"{server.ComputePath(group, "snapshots", "data-snap")}?{DiskServer.DiskApi}",
            DiskServer.CopyBody(data.GetProperty("id").GetString()!), expected: 201);
        var imagePath = server.ComputePath(group, "images", "img");
        var image = await server.ArmOkAsync(HttpMethod.Put, $"{imagePath}?{DiskServer.ImageApi}", new JsonObject
        {
            ["location"] = DiskServer.Location,
            ["properties"] = new JsonObject
            {
                ["hyperVGeneration"] = "V2",
                ["storageProfile"] = new JsonObject
                {
                    ["osDisk"] = new JsonObject { ["osType"] = "Linux", ["osState"] = "Generalized", ["managedDisk"] = new JsonObject { ["id"] = os.GetProperty("id").GetString() } },
                    ["dataDisks"] = new JsonArray(new JsonObject { ["lun"] = 3, ["snapshot"] = new JsonObject { ["id"] = dataSnapshot.GetProperty("id").GetString() } }),
                },
            },
        }, expected: 201);
        Assert.Equal("Microsoft.Compute/images", image.GetProperty("type").GetString());
        Assert.Equal("Succeeded", image.GetProperty("properties").GetProperty("provisioningState").GetString());
        Assert.Equal(30, image.GetProperty("properties").GetProperty("storageProfile").GetProperty("osDisk").GetProperty("diskSizeGB").GetInt32());
        Assert.Equal(3, image.GetProperty("properties").GetProperty("storageProfile").GetProperty("dataDisks")[0].GetProperty("lun").GetInt32());

        var fromImage = await server.ArmOkAsync(HttpMethod.Put, $"{server.ComputePath(group, "disks", "vm-os")}?{DiskServer.DiskApi}", new JsonObject
        {
            ["location"] = DiskServer.Location,
            ["properties"] = new JsonObject { ["creationData"] = new JsonObject { ["createOption"] = "FromImage", ["imageReference"] = new JsonObject { ["id"] = imagePath } } },
        }, expected: 201);
        Assert.Equal("Linux", fromImage.GetProperty("properties").GetProperty("osType").GetString());
        Assert.Equal("V2", fromImage.GetProperty("properties").GetProperty("hyperVGeneration").GetString());
        Assert.Equal(30, fromImage.GetProperty("properties").GetProperty("diskSizeGB").GetInt32());
        Assert.Equal(server.DataKeyRows(UniqueId(os)), server.DataKeyRows(UniqueId(fromImage)));
        var dataFromImage = await server.ArmOkAsync(HttpMethod.Put, $"{server.ComputePath(group, "disks", "vm-data")}?{DiskServer.DiskApi}", new JsonObject
        {
            ["location"] = DiskServer.Location,
            ["properties"] = new JsonObject
            {
                ["creationData"] = new JsonObject { ["createOption"] = "FromImage", ["imageReference"] = new JsonObject { ["id"] = imagePath, ["lun"] = 3 } },
                ["diskSizeGB"] = 20,
            },
        }, expected: 201);
        Assert.Equal(20, dataFromImage.GetProperty("properties").GetProperty("diskSizeGB").GetInt32());
        var (badLun, badLunBody) = await server.ArmAsync(HttpMethod.Put, $"{server.ComputePath(group, "disks", "vm-bad")}?{DiskServer.DiskApi}", new JsonObject
        {
            ["location"] = DiskServer.Location,
            ["properties"] = new JsonObject { ["creationData"] = new JsonObject { ["createOption"] = "FromImage", ["imageReference"] = new JsonObject { ["id"] = imagePath, ["lun"] = 7 } } },
        });
        Assert.Equal(400, badLun);
        Assert.Contains("luns [3]", Message(badLunBody), StringComparison.Ordinal);

        // Images are immutable but for tags; a VM source must exist (Marketplace/ImageFromVirtualMachineTests covers VM sources).
        var (changeStatus, _) = await server.ArmAsync(HttpMethod.Put, $"{imagePath}?{DiskServer.ImageApi}", new JsonObject
        {
            ["location"] = DiskServer.Location,
            ["properties"] = new JsonObject
            {
                ["storageProfile"] = new JsonObject { ["osDisk"] = new JsonObject { ["osType"] = "Linux", ["osState"] = "Generalized", ["managedDisk"] = new JsonObject { ["id"] = data.GetProperty("id").GetString() } } },
            },
        });
        Assert.Equal(409, changeStatus);
        var (vmStatus, vm) = await server.ArmAsync(HttpMethod.Put, $"{server.ComputePath(group, "images", "from-vm")}?{DiskServer.ImageApi}", new JsonObject
        {
            ["location"] = DiskServer.Location,
            ["properties"] = new JsonObject { ["sourceVirtualMachine"] = new JsonObject { ["id"] = $"{server.GroupPath(group)}/providers/Microsoft.Compute/virtualMachines/vm1" } },
        });
        Assert.Equal(404, vmStatus);
        Assert.Contains("virtualMachines/vm1", Message(vm), StringComparison.Ordinal);

        await server.ArmOkAsync(HttpMethod.Delete, $"{imagePath}?{DiskServer.ImageApi}", expected: 200);
        await server.ArmOkAsync(HttpMethod.Get, $"{fromImage.GetProperty("id").GetString()}?{DiskServer.DiskApi}", expected: 200);
        Assert.Single(server.DataKeyRows(UniqueId(fromImage)));
    }

    [Fact]
    public async Task Refusals_name_what_is_wrong()
    {
        const string group = "rg-refusals";
        await server.CreateGroupAsync(group);
        async Task<(int Status, string Message)> PutAsync(string type, string name, JsonObject body)
        {
            var (status, result) = await server.ArmAsync(HttpMethod.Put, $"{server.ComputePath(group, type, name)}?{DiskServer.DiskApi}", body);
            return (status, Message(result));
        }

        var import = await PutAsync("disks", "imp", new JsonObject
        {
            ["location"] = DiskServer.Location,
            ["properties"] = new JsonObject { ["creationData"] = new JsonObject { ["createOption"] = "Import", ["sourceUri"] = "https://example/x.vhd" } },
        });
        Assert.Equal(400, import.Status);
        Assert.Contains("'Import' is not supported", import.Message, StringComparison.Ordinal);

        var noSize = await PutAsync("disks", "nosize", new JsonObject
        {
            ["location"] = DiskServer.Location,
            ["properties"] = new JsonObject { ["creationData"] = new JsonObject { ["createOption"] = "Empty" } },
        });
        Assert.Equal(400, noSize.Status);
        Assert.Contains("diskSizeGB is required", noSize.Message, StringComparison.Ordinal);

        var cmkWithoutSet = await PutAsync("disks", "cmk", new JsonObject
        {
            ["location"] = DiskServer.Location,
            ["properties"] = new JsonObject
            {
                ["creationData"] = new JsonObject { ["createOption"] = "Empty" },
                ["diskSizeGB"] = 1,
                ["encryption"] = new JsonObject { ["type"] = DiskServer.CustomerKey },
            },
        });
        Assert.Equal(400, cmkWithoutSet.Status);
        Assert.Contains("needs encryption.diskEncryptionSetId", cmkWithoutSet.Message, StringComparison.Ordinal);

        var missingSet = await PutAsync("disks", "noset", DiskServer.EmptyDiskBody(1, $"{server.GroupPath(group)}/providers/Microsoft.Compute/diskEncryptionSets/nope"));
        Assert.Equal(404, missingSet.Status);
        Assert.Contains("was not found", missingSet.Message, StringComparison.Ordinal);

        var otherSubscription = await PutAsync("disks", "othersub", DiskServer.EmptyDiskBody(1,
            $"/subscriptions/{Guid.NewGuid()}/resourceGroups/{group}/providers/Microsoft.Compute/diskEncryptionSets/s"));
        Assert.Equal(400, otherSubscription.Status);
        Assert.Contains("of its own subscription", otherSubscription.Message, StringComparison.Ordinal);

        var snapshotEmpty = await PutAsync("snapshots", "s-empty", DiskServer.EmptyDiskBody(1));
        Assert.Equal(400, snapshotEmpty.Status);
        Assert.Contains("not supported for snapshots", snapshotEmpty.Message, StringComparison.Ordinal);

        var missingSource = await PutAsync("disks", "nosrc", DiskServer.CopyBody(server.ComputePath(group, "disks", "ghost")));
        Assert.Equal(404, missingSource.Status);

        // Upload: ReadyToUpload, a Read SAS refused while waiting, delete allowed.
        var upload = await server.ArmOkAsync(HttpMethod.Put, $"{server.ComputePath(group, "disks", "up")}?{DiskServer.DiskApi}", new JsonObject
        {
            ["location"] = DiskServer.Location,
            ["properties"] = new JsonObject { ["creationData"] = new JsonObject { ["createOption"] = "Upload", ["uploadSizeBytes"] = (32L << 20) + 512 } },
        }, expected: 201);
        Assert.Equal("ReadyToUpload", upload.GetProperty("properties").GetProperty("diskState").GetString());
        Assert.Equal((32L << 20) + 512, upload.GetProperty("properties").GetProperty("diskSizeBytes").GetInt64());
        var tooSmall = await PutAsync("disks", "up-small", new JsonObject
        {
            ["location"] = DiskServer.Location,
            ["properties"] = new JsonObject { ["creationData"] = new JsonObject { ["createOption"] = "Upload", ["uploadSizeBytes"] = 4096 } },
        });
        Assert.Equal(400, tooSmall.Status);
        var (copyStatus, copyBody) = await server.ArmAsync(HttpMethod.Put, $"{server.ComputePath(group, "snapshots", "up-snap")}?{DiskServer.DiskApi}",
            DiskServer.CopyBody(upload.GetProperty("id").GetString()!));
        Assert.Equal(409, copyStatus);
        Assert.Contains("waiting for an upload", Message(copyBody), StringComparison.Ordinal);
        await server.ArmOkAsync(HttpMethod.Delete, $"{upload.GetProperty("id").GetString()}?{DiskServer.DiskApi}", expected: 200);
        Assert.Empty(server.DataKeyRows(UniqueId(upload)));
    }

    [Fact]
    public async Task Resource_group_delete_removes_disks_snapshots_images_and_their_data_keys()
    {
        const string group = "rg-doomed";
        await server.CreateGroupAsync(group);
        var disk = await server.ArmOkAsync(HttpMethod.Put, $"{server.ComputePath(group, "disks", "d")}?{DiskServer.DiskApi}", DiskServer.EmptyDiskBody(1), expected: 201);
        var snapshot = await server.ArmOkAsync(HttpMethod.Put, $"{server.ComputePath(group, "snapshots", "s")}?{DiskServer.DiskApi}",
            DiskServer.CopyBody(disk.GetProperty("id").GetString()!), expected: 201);
        var image = await server.ArmOkAsync(HttpMethod.Put, $"{server.ComputePath(group, "images", "i")}?{DiskServer.ImageApi}", new JsonObject
        {
            ["location"] = DiskServer.Location,
            ["properties"] = new JsonObject
            {
                ["storageProfile"] = new JsonObject { ["osDisk"] = new JsonObject { ["osType"] = "Windows", ["osState"] = "Specialized", ["snapshot"] = new JsonObject { ["id"] = snapshot.GetProperty("id").GetString() } } },
            },
        }, expected: 201);
        var fromImage = await server.ArmOkAsync(HttpMethod.Put, $"{server.ComputePath(group, "disks", "fi")}?{DiskServer.DiskApi}", new JsonObject
        {
            ["location"] = DiskServer.Location,
            ["properties"] = new JsonObject { ["creationData"] = new JsonObject { ["createOption"] = "FromImage", ["imageReference"] = new JsonObject { ["id"] = image.GetProperty("id").GetString() } } },
        }, expected: 201);
        var volumes = new[] { UniqueId(disk), UniqueId(snapshot), UniqueId(fromImage) };
        Assert.All(volumes, v => Assert.Single(server.DataKeyRows(v)));

        var (status, _) = await server.ArmAsync(HttpMethod.Delete, $"{server.GroupPath(group)}?api-version=2025-04-01");
        Assert.True(status is 200 or 202, $"resource group delete answered {status}");
        foreach (var type in new[] { "disks", "snapshots", "images" })
        {
            var (listStatus, list) = await server.ArmAsync(HttpMethod.Get, $"/subscriptions/{server.SubscriptionId}/providers/Microsoft.Compute/{type}?{DiskServer.DiskApi}");
            Assert.Equal(200, listStatus);
            Assert.DoesNotContain(list!.Value.GetProperty("value").EnumerateArray(),
                r => r.GetProperty("id").GetString()!.Contains($"/resourceGroups/{group}/", StringComparison.OrdinalIgnoreCase));
        }

        Assert.All(volumes, v => Assert.Empty(server.DataKeyRows(v)));
    }

    internal static string UniqueId(JsonElement resource) => resource.GetProperty("properties").GetProperty("uniqueId").GetString()!;

    internal static string Message(JsonElement? body) =>
        body is { } b && b.TryGetProperty("error", out var error) ? $"{error.GetProperty("code").GetString()}: {error.GetProperty("message").GetString()}" : $"(no error body: {body})";
}
