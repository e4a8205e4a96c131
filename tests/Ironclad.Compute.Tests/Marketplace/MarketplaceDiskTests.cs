// Marketplace images through ARM on a real server: the publishers / offers / skus / versions listing,
// disks made FromImage with a platform image id under platform keys, a customer key and double
// encryption, read back through their SAS into a file the real tools (sfdisk, fsck.fat, mtype) check;
// the image is built once per region (across a restart too), never shares DEKs with a disk, is no
// customer resource, and leaves no plaintext in the data directory.
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ironclad.Compute.Marketplace;
using Ironclad.Compute.Tests.Disks;
using Ironclad.Testing;
using Ironclad.Testing.Processes;
using Microsoft.Data.Sqlite;

namespace Ironclad.Compute.Tests.Marketplace;

public sealed class MarketplaceServer : DiskServer
{
    protected override string VaultPorts => "26000-26009";

    public const string VmImageApi = "api-version=2024-07-01";

    public string ImageListPath(string location = Location) => $"/subscriptions/{SubscriptionId}/providers/Microsoft.Compute/locations/{location}";

    public string PlatformImageId(string publisher, string offer, string sku, string version, string location = Location) =>
        $"/Subscriptions/{SubscriptionId}/Providers/Microsoft.Compute/Locations/{location}/Publishers/{publisher}/ArtifactTypes/VMImage/Offers/{offer}/Skus/{sku}/Versions/{version}";

    public static JsonObject FromImageBody(string imageId, string? setId = null, string location = Location)
    {
        var properties = new JsonObject { ["creationData"] = new JsonObject { ["createOption"] = "FromImage", ["imageReference"] = new JsonObject { ["id"] = imageId } } };
        if (setId is not null)
        {
            properties["encryption"] = new JsonObject { ["diskEncryptionSetId"] = setId };
        }

        return new JsonObject { ["location"] = location, ["properties"] = properties };
    }

    /// <summary>The image volumes recorded in compute-marketplace: (image key, region, volume id).</summary>
    public IReadOnlyList<(string Image, string Region, string VolumeId)> ImageVolumes()
    {
        using var connection = new SqliteConnection($"Data Source={Path.Combine(DataDirectory, "metadata.db")};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT image_key, region, volume_id FROM compute_marketplace_volumes ORDER BY image_key, region";
        var rows = new List<(string, string, string)>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            rows.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2)));
        }

        return rows;
    }

    /// <summary>Reads the disk's first <paramref name="sizeBytes"/> through a Read SAS into a sparse file (the VHD footer is left out).</summary>
    public Task DownloadAsync(string diskPath, long sizeBytes, string file) => DownloadAsync(this, diskPath, sizeBytes, file);

    /// <inheritdoc cref="DownloadAsync(string, long, string)"/>
    public static async Task DownloadAsync(DiskServer server, string diskPath, long sizeBytes, string file)
    {
        ArgumentNullException.ThrowIfNull(server);
        var sas = await server.GrantAsync(diskPath, "Read");
        using var blob = CaTrust.CreateHttpClient(server.Server.Endpoints.CaCertificate, server.Server.Endpoints.Url);
        blob.Timeout = TimeSpan.FromMinutes(5);
        await using (var output = new FileStream(file, FileMode.CreateNew, FileAccess.Write))
        {
            output.SetLength(sizeBytes);
            const long Chunk = 16L << 20;
            for (long offset = 0; offset < sizeBytes; offset += Chunk)
            {
                var length = Math.Min(Chunk, sizeBytes - offset);
                using var request = new HttpRequestMessage(HttpMethod.Get, sas);
                request.Headers.TryAddWithoutValidation("x-ms-range", $"bytes={offset}-{offset + length - 1}");
                request.Headers.TryAddWithoutValidation("x-ms-version", "2021-08-06");
                using var response = await blob.SendAsync(request, TestContext.Current.CancellationToken);
                var data = await response.Content.ReadAsByteArrayAsync(TestContext.Current.CancellationToken);
                Assert.True((int)response.StatusCode is 200 or 206, $"ranged GET {offset}+{length} of {diskPath} answered {(int)response.StatusCode}");
                Assert.Equal(length, data.Length);
                if (data.AsSpan().ContainsAnyExcept((byte)0))
                {
                    output.Position = offset;
                    await output.WriteAsync(data, TestContext.Current.CancellationToken);
                }
            }
        }

        await server.ArmOkAsync(HttpMethod.Post, $"{diskPath}/endGetAccess?{DiskApi}", expected: 200);
    }
}

public sealed class MarketplaceDiskTests(MarketplaceServer server) : IClassFixture<MarketplaceServer>
{
    [Fact]
    public async Task Listing_shows_publishers_offers_skus_versions_and_one_version()
    {
        var root = server.ImageListPath();
        var publishers = await server.ArmOkAsync(HttpMethod.Get, $"{root}/publishers?{MarketplaceServer.VmImageApi}", expected: 200);
        Assert.Equal(JsonValueKind.Array, publishers.ValueKind);
        var names = publishers.EnumerateArray().Select(p => p.GetProperty("name").GetString()).ToList();
        Assert.Contains("Canonical", names);
        Assert.Contains("Ironclad", names);
        var canonical = publishers.EnumerateArray().Single(p => p.GetProperty("name").GetString() == "Canonical");
        Assert.Equal(DiskServer.Location, canonical.GetProperty("location").GetString());
        Assert.Equal($"/Subscriptions/{server.SubscriptionId}/Providers/Microsoft.Compute/Locations/eastus/Publishers/Canonical", canonical.GetProperty("id").GetString());

        var offers = await server.ArmOkAsync(HttpMethod.Get, $"{root}/publishers/canonical/artifacttypes/vmimage/offers?{MarketplaceServer.VmImageApi}", expected: 200);
        var offer = Assert.Single(offers.EnumerateArray());
        Assert.Equal("ubuntu-24_04-lts", offer.GetProperty("name").GetString());
        Assert.EndsWith("/Publishers/Canonical/ArtifactTypes/VMImage/Offers/ubuntu-24_04-lts", offer.GetProperty("id").GetString(), StringComparison.Ordinal);

        var skus = await server.ArmOkAsync(HttpMethod.Get, $"{root}/publishers/Canonical/artifacttypes/vmimage/offers/ubuntu-24_04-lts/skus?{MarketplaceServer.VmImageApi}", expected: 200);
        Assert.Contains("server", skus.EnumerateArray().Select(s => s.GetProperty("name").GetString()));

        var versionsPath = $"{root}/publishers/Ironclad/artifacttypes/vmimage/offers/minimal/skus/v1/versions";
        var versions = await server.ArmOkAsync(HttpMethod.Get, $"{versionsPath}?{MarketplaceServer.VmImageApi}", expected: 200);
        Assert.Equal(["1.0.0", "1.1.0"], versions.EnumerateArray().Select(v => v.GetProperty("name").GetString()!));
        Assert.Equal(server.PlatformImageId("Ironclad", "minimal", "v1", "1.0.0"), versions[0].GetProperty("id").GetString());
        var newest = await server.ArmOkAsync(HttpMethod.Get, $"{versionsPath}?{MarketplaceServer.VmImageApi}&$orderby=name%20desc&$top=1", expected: 200);
        Assert.Equal("1.1.0", Assert.Single(newest.EnumerateArray()).GetProperty("name").GetString());

        var version = await server.ArmOkAsync(HttpMethod.Get, $"{versionsPath}/1.1.0?{MarketplaceServer.VmImageApi}", expected: 200);
        Assert.Equal("1.1.0", version.GetProperty("name").GetString());
        Assert.Equal("Linux", version.GetProperty("properties").GetProperty("osDiskImage").GetProperty("operatingSystem").GetString());
        Assert.Equal("V2", version.GetProperty("properties").GetProperty("hyperVGeneration").GetString());
        Assert.Equal(server.PlatformImageId("Ironclad", "minimal", "v1", "1.1.0"), version.GetProperty("id").GetString());

        // Unknown names name what exists; writes are refused; the listing built no image.
        var (status, body) = await server.ArmAsync(HttpMethod.Get, $"{root}/publishers/Contoso/artifacttypes/vmimage/offers?{MarketplaceServer.VmImageApi}");
        Assert.Equal(404, status);
        Assert.Equal("PlatformImageNotFound", body!.Value.GetProperty("error").GetProperty("code").GetString());
        Assert.Contains("Canonical", body.Value.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        (status, body) = await server.ArmAsync(HttpMethod.Get, $"{versionsPath}/9.9.9?{MarketplaceServer.VmImageApi}");
        Assert.Equal(404, status);
        Assert.Contains("1.0.0, 1.1.0", body!.Value.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        (status, _) = await server.ArmAsync(HttpMethod.Put, $"{versionsPath}/1.1.0?{MarketplaceServer.VmImageApi}", new JsonObject());
        Assert.Equal(405, status);
        (status, _) = await server.ArmAsync(HttpMethod.Get, $"{root}/vmSizes?{MarketplaceServer.VmImageApi}");
        Assert.Equal(404, status);
    }

    [Fact]
    public async Task A_reader_of_the_subscription_may_list_images_and_a_principal_without_a_role_may_not()
    {
        var reader = await server.CreatePrincipalAsync("image-reader");
        var stranger = await server.CreatePrincipalAsync("image-stranger");
        await server.AssignRoleAsync($"/subscriptions/{server.SubscriptionId}", reader.ObjectId, "acdd72a7-3385-48ef-bd42-f606fba81ae7");
        var path = $"{server.ImageListPath()}/publishers?{MarketplaceServer.VmImageApi}";
        var (status, body) = await server.ArmAsync(HttpMethod.Get, path, client: (reader.ClientId, reader.Secret));
        Assert.True(status == 200, $"a Reader listed publishers: {status} {body}");
        (status, body) = await server.ArmAsync(HttpMethod.Get, path, client: (stranger.ClientId, stranger.Secret));
        Assert.True(status == 403, $"a principal without a role listed publishers: {status} {body}");
    }

    [Fact]
    public async Task Platform_key_disk_from_a_marketplace_image_is_a_gpt_fat_disk_naming_its_image_with_its_own_deks()
    {
        const string group = "rg-market-platform";
        await server.CreateGroupAsync(group);
        var path = server.ComputePath(group, "disks", "os-platform");
        var created = await server.ArmOkAsync(HttpMethod.Put, $"{path}?{DiskServer.DiskApi}",
            MarketplaceServer.FromImageBody(server.PlatformImageId("Ironclad", "minimal", "v1", "latest")), expected: 201);
        var properties = created.GetProperty("properties");
        Assert.Equal(DiskServer.PlatformKey, properties.GetProperty("encryption").GetProperty("type").GetString());
        Assert.Equal("Linux", properties.GetProperty("osType").GetString());
        Assert.Equal("V2", properties.GetProperty("hyperVGeneration").GetString());
        Assert.Equal(256L << 20, properties.GetProperty("diskSizeBytes").GetInt64());
        Assert.Equal("FromImage", properties.GetProperty("creationData").GetProperty("createOption").GetString());
        // "latest" is resolved: the disk names the exact version it was made from.
        Assert.Equal(server.PlatformImageId("Ironclad", "minimal", "v1", "1.1.0"),
            properties.GetProperty("creationData").GetProperty("imageReference").GetProperty("id").GetString());

        var image = Assert.Single(server.ImageVolumes(), v => v.Image == "IRONCLAD/MINIMAL/V1/1.1.0");
        Assert.Equal("eastus", image.Region);
        var diskVolume = properties.GetProperty("uniqueId").GetString()!;
        AssertOwnDeks(diskVolume, image.VolumeId);

        using var directory = new TempDirectory("ironclad-marketplace-disk");
        var file = directory.Combine("os-platform.raw");
        await server.DownloadAsync(path, 256L << 20, file);
        await ImageChecks.AssertImageAsync(file, "Ironclad", "minimal", "v1", "1.1.0");

        // The image volume is nobody's resource: no disk of the subscription is it.
        var disks = await server.ArmOkAsync(HttpMethod.Get, $"/subscriptions/{server.SubscriptionId}/providers/Microsoft.Compute/disks?{DiskServer.DiskApi}", expected: 200);
        Assert.DoesNotContain(disks.GetProperty("value").EnumerateArray(), d => d.GetProperty("properties").GetProperty("uniqueId").GetString() == image.VolumeId);
    }

    [Fact]
    public async Task Customer_key_and_double_encryption_disks_from_a_marketplace_image_read_back_through_sas()
    {
        const string group = "rg-market-cmk";
        await server.CreateGroupAsync(group);
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var (vaultId, vaultUri) = await server.CreateVaultAsync(group, $"kv-market-{suffix}");
        var kid = await server.CreateKeyAsync(vaultUri, "disk-key");
        var (setId, _) = await server.CreateSetAsync(group, "set-cmk", vaultId, kid);
        var (doubleSetId, _) = await server.CreateSetAsync(group, "set-double", vaultId, kid, DiskServer.DoubleKeys);
        var imageId = server.PlatformImageId("Ironclad", "minimal", "v1", "1.0.0");

        foreach (var (name, set, type, layers) in new[] { ("os-cmk", setId, DiskServer.CustomerKey, 1), ("os-double", doubleSetId, DiskServer.DoubleKeys, 2) })
        {
            var path = server.ComputePath(group, "disks", name);
            var created = await server.ArmOkAsync(HttpMethod.Put, $"{path}?{DiskServer.DiskApi}", MarketplaceServer.FromImageBody(imageId, set), expected: 201);
            var encryption = created.GetProperty("properties").GetProperty("encryption");
            Assert.Equal(type, encryption.GetProperty("type").GetString());
            Assert.Equal(set, encryption.GetProperty("diskEncryptionSetId").GetString(), ignoreCase: true);
            var volume = created.GetProperty("properties").GetProperty("uniqueId").GetString()!;
            var image = Assert.Single(server.ImageVolumes(), v => v.Image == "IRONCLAD/MINIMAL/V1/1.0.0");
            Assert.Equal(layers, server.DataKeyRows(volume).Count);
            Assert.Contains(server.DataKeyRows(volume), row => row.Kid.StartsWith(kid.Split("/keys/")[0], StringComparison.OrdinalIgnoreCase));
            AssertOwnDeks(volume, image.VolumeId);

            using var directory = new TempDirectory("ironclad-marketplace-disk");
            var file = directory.Combine($"{name}.raw");
            await server.DownloadAsync(path, 256L << 20, file);
            await ImageChecks.AssertImageAsync(file, "Ironclad", "minimal", "v1", "1.0.0");
        }

        // Built once for both disks.
        Assert.Single(server.ImageVolumes(), v => v.Image == "IRONCLAD/MINIMAL/V1/1.0.0");
    }

    [Fact]
    public async Task An_image_is_built_once_per_region_across_a_restart_and_leaves_no_plaintext()
    {
        const string group = "rg-market-once";
        await server.CreateGroupAsync(group);
        var imageId = server.PlatformImageId("Canonical", "ubuntu-24_04-lts", "server", "latest");
        var first = await server.ArmOkAsync(HttpMethod.Put, $"{server.ComputePath(group, "disks", "first")}?{DiskServer.DiskApi}", MarketplaceServer.FromImageBody(imageId), expected: 201);
        Assert.Equal("V2", first.GetProperty("properties").GetProperty("hyperVGeneration").GetString());
        var before = Assert.Single(server.ImageVolumes(), v => v.Image == "CANONICAL/UBUNTU-24_04-LTS/SERVER/24.04.202611");
        var keysBefore = server.DataKeyRows(before.VolumeId);

        // Concurrent first users of another region wait for one build.
        await server.CreateGroupAsync("rg-market-west", "westus");
        var westId = server.PlatformImageId("Canonical", "ubuntu-24_04-lts", "server", "24.04.202611", "westus");
        var concurrent = await Task.WhenAll(Enumerable.Range(0, 3).Select(i =>
            server.ArmAsync(HttpMethod.Put, $"{server.ComputePath("rg-market-west", "disks", $"west{i}")}?{DiskServer.DiskApi}", MarketplaceServer.FromImageBody(westId, location: "westus"))));
        Assert.All(concurrent, r => Assert.True(r.Status == 201, $"a concurrent disk from the image answered {r.Status}: {r.Body}"));
        Assert.Single(server.ImageVolumes(), v => v.Image == "CANONICAL/UBUNTU-24_04-LTS/SERVER/24.04.202611" && v.Region == "westus");

        // Stopped, the whole data directory (volume store included) is scanned: the marker text and the GPT
        // signature are in every image and disk made so far, and none of it is readable at rest.
        var patterns = MarketplaceImages.BuiltIn.Select(i => Encoding.ASCII.GetBytes(MarketplaceImageGenerator.MarkerText(i))).Append("EFI PART"u8.ToArray()).ToList();
        IReadOnlyList<PlaintextScanner.Finding> findings = [];
        await server.RestartAsync(() => findings = PlaintextScanner.Scan(server.DataDirectory, patterns));
        Assert.True(findings.Count == 0, $"plaintext image data found at rest: {string.Join(", ", findings.Take(5))}");

        var second = await server.ArmOkAsync(HttpMethod.Put, $"{server.ComputePath(group, "disks", "second")}?{DiskServer.DiskApi}", MarketplaceServer.FromImageBody(imageId), expected: 201);
        Assert.Equal("24.04.202611", second.GetProperty("properties").GetProperty("creationData").GetProperty("imageReference").GetProperty("id").GetString()!.Split('/')[^1]);
        var after = Assert.Single(server.ImageVolumes(), v => v.Image == "CANONICAL/UBUNTU-24_04-LTS/SERVER/24.04.202611" && v.Region == "eastus");
        Assert.Equal(before.VolumeId, after.VolumeId);
        Assert.Equal(keysBefore, server.DataKeyRows(after.VolumeId));
    }

    [Fact]
    public async Task Platform_image_ids_that_do_not_fit_are_refused_naming_why()
    {
        const string group = "rg-market-refused";
        await server.CreateGroupAsync(group);
        var path = $"{server.ComputePath(group, "disks", "refused")}?{DiskServer.DiskApi}";

        var (status, body) = await server.ArmAsync(HttpMethod.Put, path, MarketplaceServer.FromImageBody(server.PlatformImageId("Ironclad", "minimal", "v1", "latest", "westus")));
        Assert.Equal(400, status);
        Assert.Contains("westus", body!.Value.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);

        (status, body) = await server.ArmAsync(HttpMethod.Put, path, MarketplaceServer.FromImageBody(server.PlatformImageId("Ironclad", "minimal", "v9", "latest")));
        Assert.Equal(404, status);
        Assert.Equal("PlatformImageNotFound", body!.Value.GetProperty("error").GetProperty("code").GetString());
        Assert.Contains("v1", body.Value.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);

        var withLun = MarketplaceServer.FromImageBody(server.PlatformImageId("Ironclad", "minimal", "v1", "latest"));
        withLun["properties"]!["creationData"]!["imageReference"]!["lun"] = 0;
        (status, body) = await server.ArmAsync(HttpMethod.Put, path, withLun);
        Assert.Equal(400, status);
        Assert.Contains("no data disks", body!.Value.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);

        var (missing, _) = await server.ArmAsync(HttpMethod.Get, path);
        Assert.Equal(404, missing);
    }

    /// <summary>A disk from an image has wrapped DEKs of its own: shared layers would copy the image's wrapped bytes.</summary>
    private void AssertOwnDeks(string diskVolumeId, string imageVolumeId)
    {
        var imageRows = server.DataKeyRows(imageVolumeId);
        var diskRows = server.DataKeyRows(diskVolumeId);
        Assert.Single(imageRows);
        Assert.NotEmpty(diskRows);
        Assert.DoesNotContain(diskRows, row => row.WrappedHash == imageRows[0].WrappedHash);
    }
}
