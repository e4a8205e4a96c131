// Customer-key disks against a real server with real vaults: a set whose identity cannot use the key
// refuses the disk and stores nothing; data uploaded through SAS reads back from snapshots, clones,
// re-encrypting copies (another set, platform key) and images; PATCH of encryption re-wraps the DEK
// (the wrapped bytes change, the data does not); double encryption has two layers; the refusals.
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using static Ironclad.Compute.Tests.Disks.PlatformKeyDiskTests;

namespace Ironclad.Compute.Tests.Disks;

public sealed class CustomerKeyDiskServer : DiskServer
{
    protected override string VaultPorts => "25210-25229";
}

public sealed class CustomerKeyDiskTests(CustomerKeyDiskServer server) : IClassFixture<CustomerKeyDiskServer>
{
    private static readonly int Seed = Environment.GetEnvironmentVariable("IRONCLAD_TEST_SEED") is { } s ? int.Parse(s, System.Globalization.CultureInfo.InvariantCulture) : Random.Shared.Next();

    [Fact]
    public async Task Customer_key_disk_is_refused_without_key_access_and_leaves_nothing_then_works_after_the_grant()
    {
        const string group = "rg-cmk-grant";
        await server.CreateGroupAsync(group);
        var (vaultId, vaultUri) = await server.CreateVaultAsync(group, "kv-grant");
        var key = await server.CreateKeyAsync(vaultUri, "k1");
        var (setId, principal) = await server.CreateSetAsync(group, "des-late", vaultId, key, grant: false);

        var rowsBefore = server.DataKeyRowCount();
        var path = server.ComputePath(group, "disks", "early");
        var (status, refused) = await server.ArmAsync(HttpMethod.Put, $"{path}?{DiskServer.DiskApi}", DiskServer.EmptyDiskBody(1, setId));
        Assert.Equal(403, status);
        var message = Message(refused);
        Assert.StartsWith("KeyVaultAccessDenied", message, StringComparison.Ordinal);
        Assert.Contains(key.Split('/')[4], message, StringComparison.Ordinal);
        Assert.Contains(setId, message, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("wrapKey", message, StringComparison.Ordinal);
        Assert.Equal(rowsBefore, server.DataKeyRowCount());
        Assert.Equal(404, (await server.ArmAsync(HttpMethod.Get, $"{path}?{DiskServer.DiskApi}")).Status);

        // A re-encrypting copy into the set is refused the same way, and leaves nothing either.
        var plain = await server.ArmOkAsync(HttpMethod.Put, $"{server.ComputePath(group, "disks", "plain")}?{DiskServer.DiskApi}", DiskServer.EmptyDiskBody(1), expected: 201);
        var rowsWithPlain = server.DataKeyRowCount();
        var copyPath = server.ComputePath(group, "disks", "copy-early");
        var (copyStatus, copyRefused) = await server.ArmAsync(HttpMethod.Put, $"{copyPath}?{DiskServer.DiskApi}",
            DiskServer.CopyBody(plain.GetProperty("id").GetString()!, new JsonObject { ["diskEncryptionSetId"] = setId }));
        Assert.Equal(403, copyStatus);
        Assert.StartsWith("KeyVaultAccessDenied", Message(copyRefused), StringComparison.Ordinal);
        Assert.Equal(rowsWithPlain, server.DataKeyRowCount());
        Assert.Equal(404, (await server.ArmAsync(HttpMethod.Get, $"{copyPath}?{DiskServer.DiskApi}")).Status);

        await server.GrantKeyAccessAsync(vaultId, principal);
        var disk = await server.ArmOkAsync(HttpMethod.Put, $"{path}?{DiskServer.DiskApi}", DiskServer.EmptyDiskBody(1, setId), expected: 201);
        var encryption = disk.GetProperty("properties").GetProperty("encryption");
        Assert.Equal(DiskServer.CustomerKey, encryption.GetProperty("type").GetString());
        Assert.Equal(setId, encryption.GetProperty("diskEncryptionSetId").GetString(), ignoreCase: true);
        var rows = server.DataKeyRows(UniqueId(disk));
        Assert.Single(rows);
        Assert.StartsWith(key, rows[0].Kid, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Snapshots_clones_copies_and_images_read_back_the_uploaded_data()
    {
        const string group = "rg-cmk-data";
        await server.CreateGroupAsync(group);
        var (vaultId, vaultUri) = await server.CreateVaultAsync(group, "kv-data");
        var keyA = await server.CreateKeyAsync(vaultUri, "ka");
        var keyB = await server.CreateKeyAsync(vaultUri, "kb", 3072);
        var (setA, _) = await server.CreateSetAsync(group, "des-a", vaultId, keyA);
        var (setB, _) = await server.CreateSetAsync(group, "des-b", vaultId, keyB);
        TestContext.Current.TestOutputHelper?.WriteLine($"seed {Seed} (IRONCLAD_TEST_SEED)");
        var writes = DiskServer.Writes(Seed);
        var source = await server.UploadDiskAsync(group, "src", writes, setA);
        var sourceId = source.GetProperty("id").GetString()!;
        Assert.Equal("Unattached", source.GetProperty("properties").GetProperty("diskState").GetString());
        await server.AssertDataAsync(sourceId, writes);
        var sourceRows = server.DataKeyRows(UniqueId(source));

        // Same set: O(1) snapshot and clone sharing the wrapped DEK.
        var full = await Put("snapshots", "full", DiskServer.CopyBody(sourceId));
        var incremental = await Put("snapshots", "inc", DiskServer.CopyBody(sourceId, incremental: true));
        var clone = await Put("disks", "clone", DiskServer.CopyBody(full.GetProperty("id").GetString()!));
        foreach (var shared in new[] { full, incremental, clone })
        {
            Assert.Equal(setA, SetOf(shared), ignoreCase: true);
            Assert.Equal(sourceRows, server.DataKeyRows(UniqueId(shared)));
            await server.AssertDataAsync(shared.GetProperty("id").GetString()!, writes);
        }

        // Another set: a full snapshot is a re-encrypting copy (new DEK under key B); an incremental one is refused.
        var setBEncryption = new JsonObject { ["diskEncryptionSetId"] = setB };
        var reencrypted = await Put("snapshots", "full-b", DiskServer.CopyBody(sourceId, setBEncryption));
        Assert.Equal(setB, SetOf(reencrypted), ignoreCase: true);
        var reencryptedRows = server.DataKeyRows(UniqueId(reencrypted));
        Assert.Single(reencryptedRows);
        Assert.StartsWith(keyB, reencryptedRows[0].Kid, StringComparison.OrdinalIgnoreCase);
        Assert.NotEqual(sourceRows[0].WrappedHash, reencryptedRows[0].WrappedHash);
        await server.AssertDataAsync(reencrypted.GetProperty("id").GetString()!, writes);

        var (incStatus, incBody) = await server.ArmAsync(HttpMethod.Put, $"{server.ComputePath(group, "snapshots", "inc-b")}?{DiskServer.DiskApi}",
            DiskServer.CopyBody(sourceId, new JsonObject { ["diskEncryptionSetId"] = setB }, incremental: true));
        Assert.Equal(400, incStatus);
        Assert.Contains("incremental snapshot keeps the encryption", Message(incBody), StringComparison.Ordinal);
        var (fromIncStatus, fromIncBody) = await server.ArmAsync(HttpMethod.Put, $"{server.ComputePath(group, "disks", "from-inc-b")}?{DiskServer.DiskApi}",
            DiskServer.CopyBody(incremental.GetProperty("id").GetString()!, new JsonObject { ["diskEncryptionSetId"] = setB }));
        Assert.Equal(400, fromIncStatus);
        Assert.Contains("is incremental", Message(fromIncBody), StringComparison.Ordinal);

        // A disk from the re-encrypted snapshot keeps set B (shared); a copy to the platform key re-encrypts again.
        var fromB = await Put("disks", "from-b", DiskServer.CopyBody(reencrypted.GetProperty("id").GetString()!));
        Assert.Equal(setB, SetOf(fromB), ignoreCase: true);
        Assert.Equal(reencryptedRows, server.DataKeyRows(UniqueId(fromB)));
        await server.AssertDataAsync(fromB.GetProperty("id").GetString()!, writes);
        var toPlatform = await Put("disks", "to-platform", DiskServer.CopyBody(sourceId, new JsonObject { ["type"] = DiskServer.PlatformKey }));
        Assert.Equal(DiskServer.PlatformKey, toPlatform.GetProperty("properties").GetProperty("encryption").GetProperty("type").GetString());
        Assert.DoesNotContain(keyA.Split("/keys/")[0], server.DataKeyRows(UniqueId(toPlatform))[0].Kid, StringComparison.OrdinalIgnoreCase);
        await server.AssertDataAsync(toPlatform.GetProperty("id").GetString()!, writes);

        // Image from the CMK snapshot with set B on its OS disk (a re-encrypting copy); a disk from the image keeps B.
        var imagePath = server.ComputePath(group, "images", "img");
        await server.ArmOkAsync(HttpMethod.Put, $"{imagePath}?{DiskServer.ImageApi}", new JsonObject
        {
            ["location"] = DiskServer.Location,
            ["properties"] = new JsonObject
            {
                ["storageProfile"] = new JsonObject
                {
                    ["osDisk"] = new JsonObject
                    {
                        ["osType"] = "Linux",
                        ["osState"] = "Generalized",
                        ["snapshot"] = new JsonObject { ["id"] = full.GetProperty("id").GetString() },
                        ["diskEncryptionSet"] = new JsonObject { ["id"] = setB },
                    },
                    ["dataDisks"] = new JsonArray(new JsonObject { ["lun"] = 0, ["managedDisk"] = new JsonObject { ["id"] = sourceId } }),
                },
            },
        }, expected: 201);
        var fromImage = await Put("disks", "from-image", new JsonObject
        {
            ["location"] = DiskServer.Location,
            ["properties"] = new JsonObject { ["creationData"] = new JsonObject { ["createOption"] = "FromImage", ["imageReference"] = new JsonObject { ["id"] = imagePath } } },
        });
        Assert.Equal(setB, SetOf(fromImage), ignoreCase: true);
        await server.AssertDataAsync(fromImage.GetProperty("id").GetString()!, writes);
        var dataFromImage = await Put("disks", "data-from-image", new JsonObject
        {
            ["location"] = DiskServer.Location,
            ["properties"] = new JsonObject
            {
                ["creationData"] = new JsonObject { ["createOption"] = "FromImage", ["imageReference"] = new JsonObject { ["id"] = imagePath, ["lun"] = 0 } },
                ["encryption"] = new JsonObject { ["diskEncryptionSetId"] = setB },
            },
        });
        Assert.Equal(setB, SetOf(dataFromImage), ignoreCase: true);
        await server.AssertDataAsync(dataFromImage.GetProperty("id").GetString()!, writes);

        // Deleting the source disk leaves every derived resource readable.
        await server.ArmOkAsync(HttpMethod.Delete, $"{sourceId}?{DiskServer.DiskApi}", expected: 200);
        Assert.Empty(server.DataKeyRows(UniqueId(source)));
        await server.AssertDataAsync(full.GetProperty("id").GetString()!, writes);
        await server.AssertDataAsync(clone.GetProperty("id").GetString()!, writes);

        async Task<JsonElement> Put(string type, string name, JsonObject body) =>
            await server.ArmOkAsync(HttpMethod.Put, $"{server.ComputePath(group, type, name)}?{(type == "images" ? DiskServer.ImageApi : DiskServer.DiskApi)}", body, expected: 201);
    }

    [Fact]
    public async Task Encryption_patch_rewraps_the_data_key_without_touching_the_data()
    {
        const string group = "rg-cmk-patch";
        await server.CreateGroupAsync(group);
        var (vaultId, vaultUri) = await server.CreateVaultAsync(group, "kv-patch");
        var keyA = await server.CreateKeyAsync(vaultUri, "pa");
        var keyB = await server.CreateKeyAsync(vaultUri, "pb");
        var (setA, _) = await server.CreateSetAsync(group, "des-pa", vaultId, keyA);
        var (setB, _) = await server.CreateSetAsync(group, "des-pb", vaultId, keyB);
        var (doubleSet, _) = await server.CreateSetAsync(group, "des-double", vaultId, keyA, DiskServer.DoubleKeys);
        TestContext.Current.TestOutputHelper?.WriteLine($"seed {Seed} (IRONCLAD_TEST_SEED)");
        var writes = DiskServer.Writes(Seed + 1);
        var disk = await server.UploadDiskAsync(group, "p", writes);
        var id = disk.GetProperty("id").GetString()!;
        var volume = UniqueId(disk);
        var platformRows = server.DataKeyRows(volume);

        async Task<JsonElement> PatchAsync(JsonObject encryption) =>
            await server.ArmOkAsync(HttpMethod.Patch, $"{id}?{DiskServer.DiskApi}", new JsonObject { ["properties"] = new JsonObject { ["encryption"] = encryption } }, expected: 200);

        // platform → set A → set B → platform: each a re-wrap of the same DEK (same volume, new wrapped bytes).
        var toA = await PatchAsync(new JsonObject { ["type"] = DiskServer.CustomerKey, ["diskEncryptionSetId"] = setA });
        Assert.Equal(setA, SetOf(toA), ignoreCase: true);
        Assert.Equal(volume, UniqueId(toA));
        var rowsA = server.DataKeyRows(volume);
        Assert.StartsWith(keyA, rowsA[0].Kid, StringComparison.OrdinalIgnoreCase);
        Assert.NotEqual(platformRows[0].WrappedHash, rowsA[0].WrappedHash);
        await server.AssertDataAsync(id, writes);

        var toB = await PatchAsync(new JsonObject { ["diskEncryptionSetId"] = setB });
        Assert.Equal(setB, SetOf(toB), ignoreCase: true);
        Assert.StartsWith(keyB, server.DataKeyRows(volume)[0].Kid, StringComparison.OrdinalIgnoreCase);
        await server.AssertDataAsync(id, writes);

        // One layer → two layers would rewrite the data: refused, with the way out.
        var (layersStatus, layers) = await server.ArmAsync(HttpMethod.Patch, $"{id}?{DiskServer.DiskApi}",
            new JsonObject { ["properties"] = new JsonObject { ["encryption"] = new JsonObject { ["diskEncryptionSetId"] = doubleSet } } });
        Assert.Equal(409, layersStatus);
        Assert.Contains("createOption Copy", Message(layers), StringComparison.Ordinal);

        // Not while a SAS is open.
        await server.GrantAsync(id, "Read");
        var (busyStatus, busy) = await server.ArmAsync(HttpMethod.Patch, $"{id}?{DiskServer.DiskApi}",
            new JsonObject { ["properties"] = new JsonObject { ["encryption"] = new JsonObject { ["type"] = DiskServer.PlatformKey } } });
        Assert.Equal(409, busyStatus);
        Assert.Contains("endGetAccess", Message(busy), StringComparison.Ordinal);
        var (deleteBusy, _) = await server.ArmAsync(HttpMethod.Delete, $"{id}?{DiskServer.DiskApi}");
        Assert.Equal(409, deleteBusy);
        await server.ArmOkAsync(HttpMethod.Post, $"{id}/endGetAccess?{DiskServer.DiskApi}", expected: 200);

        var back = await PatchAsync(new JsonObject { ["type"] = DiskServer.PlatformKey });
        Assert.Equal(DiskServer.PlatformKey, back.GetProperty("properties").GetProperty("encryption").GetProperty("type").GetString());
        Assert.Equal(platformRows[0].Kid, server.DataKeyRows(volume)[0].Kid);
        await server.AssertDataAsync(id, writes);

        // Crypto-shredding: after delete no wrapped DEK of the volume is left.
        await server.ArmOkAsync(HttpMethod.Delete, $"{id}?{DiskServer.DiskApi}", expected: 200);
        Assert.Empty(server.DataKeyRows(volume));
    }

    [Fact]
    public async Task Double_encryption_disk_has_an_inner_customer_layer_and_an_outer_platform_layer()
    {
        const string group = "rg-cmk-double";
        await server.CreateGroupAsync(group);
        var (vaultId, vaultUri) = await server.CreateVaultAsync(group, "kv-double");
        var key = await server.CreateKeyAsync(vaultUri, "dk");
        var (doubleSet, _) = await server.CreateSetAsync(group, "des-2", vaultId, key, DiskServer.DoubleKeys);
        TestContext.Current.TestOutputHelper?.WriteLine($"seed {Seed} (IRONCLAD_TEST_SEED)");
        var writes = DiskServer.Writes(Seed + 2);
        var disk = await server.UploadDiskAsync(group, "d2", writes, doubleSet);
        Assert.Equal(DiskServer.DoubleKeys, disk.GetProperty("properties").GetProperty("encryption").GetProperty("type").GetString());
        var rows = server.DataKeyRows(UniqueId(disk));
        Assert.Equal(2, rows.Count);
        Assert.StartsWith(key, rows[0].Kid, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(key.Split("/keys/")[0], rows[1].Kid, StringComparison.OrdinalIgnoreCase);
        await server.AssertDataAsync(disk.GetProperty("id").GetString()!, writes);

        var snapshot = await server.ArmOkAsync(HttpMethod.Put, $"{server.ComputePath(group, "snapshots", "s2")}?{DiskServer.DiskApi}",
            DiskServer.CopyBody(disk.GetProperty("id").GetString()!), expected: 201);
        Assert.Equal(rows, server.DataKeyRows(UniqueId(snapshot)));
        await server.AssertDataAsync(snapshot.GetProperty("id").GetString()!, writes);

        // A set of another region is refused by name.
        var (westVault, westUri) = await server.CreateVaultAsync(group, "kv-west", "westus");
        var westKey = await server.CreateKeyAsync(westUri, "wk");
        var (westSet, _) = await server.CreateSetAsync(group, "des-west", westVault, westKey, location: "westus");
        var (status, body) = await server.ArmAsync(HttpMethod.Put, $"{server.ComputePath(group, "disks", "wrong-region")}?{DiskServer.DiskApi}", DiskServer.EmptyDiskBody(1, westSet));
        Assert.Equal(400, status);
        Assert.Contains("in region 'westus'", Message(body), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_caller_needs_read_on_the_set_it_names()
    {
        const string disks = "rg-linked-disks";
        const string sets = "rg-linked-sets";
        await server.CreateGroupAsync(disks);
        await server.CreateGroupAsync(sets);
        var (vaultId, vaultUri) = await server.CreateVaultAsync(sets, "kv-linked");
        var key = await server.CreateKeyAsync(vaultUri, "lk");
        var (setId, _) = await server.CreateSetAsync(sets, "des-linked", vaultId, key);
        var (objectId, clientId, secret) = await server.CreatePrincipalAsync("disk-operator");
        await server.AssignRoleAsync(server.GroupPath(disks), objectId, "b24988ac-6180-42a0-ab88-20f7382dd24c"); // Contributor
        var user = (clientId, secret);

        var platform = await server.ArmAsync(HttpMethod.Put, $"{server.ComputePath(disks, "disks", "mine")}?{DiskServer.DiskApi}", DiskServer.EmptyDiskBody(1), user);
        Assert.True(platform.Status == 201, $"a Contributor of the group creates a platform-key disk: {platform.Status} {platform.Body}");
        var (status, body) = await server.ArmAsync(HttpMethod.Put, $"{server.ComputePath(disks, "disks", "with-set")}?{DiskServer.DiskApi}", DiskServer.EmptyDiskBody(1, setId), user);
        Assert.Equal(403, status);
        Assert.StartsWith("LinkedAuthorizationFailed", Message(body), StringComparison.Ordinal);
        Assert.Contains("Microsoft.Compute/diskEncryptionSets/read", Message(body), StringComparison.Ordinal);

        await server.AssignRoleAsync(server.GroupPath(sets), objectId, "acdd72a7-3385-48ef-bd42-f606fba81ae7"); // Reader
        var allowed = await server.ArmAsync(HttpMethod.Put, $"{server.ComputePath(disks, "disks", "with-set")}?{DiskServer.DiskApi}", DiskServer.EmptyDiskBody(1, setId), user);
        Assert.True(allowed.Status == 201, $"with Reader on the set's group: {allowed.Status} {allowed.Body}");
    }

    [Fact]
    public async Task Reencrypting_copy_throughput_is_measured()
    {
        const string group = "rg-cmk-copy";
        await server.CreateGroupAsync(group);
        var (vaultId, vaultUri) = await server.CreateVaultAsync(group, "kv-copy");
        var key = await server.CreateKeyAsync(vaultUri, "ck");
        var (setId, _) = await server.CreateSetAsync(group, "des-copy", vaultId, key);
        TestContext.Current.TestOutputHelper?.WriteLine($"seed {Seed} (IRONCLAD_TEST_SEED)");
        var random = new Random(Seed);
        var writes = new List<(long Offset, byte[] Data)>();
        for (var i = 0; i < 7; i++)
        {
            var data = new byte[4 << 20];
            random.NextBytes(data);
            writes.Add(((long)i * (4 << 20), data));
        }

        var disk = await server.UploadDiskAsync(group, "big", writes);
        var stopwatch = Stopwatch.StartNew();
        var copy = await server.ArmOkAsync(HttpMethod.Put, $"{server.ComputePath(group, "disks", "big-cmk")}?{DiskServer.DiskApi}",
            DiskServer.CopyBody(disk.GetProperty("id").GetString()!, new JsonObject { ["diskEncryptionSetId"] = setId }), expected: 201);
        stopwatch.Stop();
        var megabytes = writes.Sum(w => w.Data.Length) / 1e6;
        TestContext.Current.TestOutputHelper?.WriteLine($"re-encrypting copy of {megabytes:F1} MB (allocated) through ARM: {stopwatch.Elapsed.TotalMilliseconds:F0} ms, {megabytes / stopwatch.Elapsed.TotalSeconds:F1} MB/s (seed {Seed})");
        await server.AssertDataAsync(copy.GetProperty("id").GetString()!, writes);
    }

    private static string? SetOf(JsonElement resource) =>
        resource.GetProperty("properties").GetProperty("encryption").TryGetProperty("diskEncryptionSetId", out var set) ? set.GetString() : null;
}
