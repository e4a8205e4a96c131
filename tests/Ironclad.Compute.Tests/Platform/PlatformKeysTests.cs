// Platform keys in a real server: the first platform-key disk of a region creates the region's vault
// in the platform's own tenant (RSA-3072 key, wrapped as the platform's managed identity), which no
// customer can see or reach; a restart reuses the same vault, key and identity; and the periodic
// rotation (--platform-key-rotation-days, here a few seconds) re-wraps every platform layer under the
// new key version in the background while the disks stay usable.
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ironclad.Compute.DataKeys;
using Ironclad.Compute.Tests.KeyAccess;
using Ironclad.Metadata;

namespace Ironclad.Compute.Tests.Platform;

/// <summary>Platform tests' server (vault ports 25030-25031: one platform vault per region used, plus one customer vault).</summary>
public sealed class PlatformServer : VaultTestServer
{
    protected override string VaultPorts => "25030-25032";
}

/// <summary>A server whose platform keys rotate every ~4 s (vault ports 25033-25034).</summary>
public sealed class FastRotationServer : VaultTestServer
{
    protected override string VaultPorts => "25033-25034";

    protected override IReadOnlyList<string> ExtraArguments => ["--platform-key-rotation-days", "0.00005"];
}

public sealed class PlatformKeysTests(PlatformServer server) : IClassFixture<PlatformServer>
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Platform_key_disk_is_wrapped_in_a_platform_vault_customers_cannot_see_and_a_restart_reuses_it()
    {
        var customerVault = await server.CreateVaultAsync("pk-customer-vault", Cancel);
        var first = await PlatformDisk.CreateAsync(server, "pk-disk-1", Cancel);
        Assert.Equal("EncryptionAtRestWithPlatformKey", first.Body.GetProperty("properties").GetProperty("encryption").GetProperty("type").GetString());

        var layer = Layers(server, first.UniqueId).Single();
        Assert.Equal(KeyEncryptionKind.Platform, layer.Kind);
        Assert.Equal("eastus", layer.PlatformRegion);
        Assert.Equal(384, layer.Wrapped.Value.Length); // RSA-3072
        Assert.NotEqual(customerVault.GetLeftPart(UriPartial.Authority), layer.Wrapped.Kid.VaultUri.GetLeftPart(UriPartial.Authority));

        // The customer sees only their own vault: in the vault list, the generic resource list and the subscription list.
        Assert.Equal(["pk-customer-vault"], await server.ListVaultNamesAsync(Cancel));
        var resources = await server.ArmAsync(HttpMethod.Get, $"/subscriptions/{server.SubscriptionId}/resources?api-version=2021-04-01", null, Cancel);
        Assert.DoesNotContain(resources!.Value.GetProperty("value").EnumerateArray(),
            r => r.GetProperty("type").GetString()!.Equals("Microsoft.KeyVault/vaults", StringComparison.OrdinalIgnoreCase)
                && r.GetProperty("name").GetString() != "pk-customer-vault");
        var subscriptions = await server.ArmAsync(HttpMethod.Get, "/subscriptions?api-version=2022-12-01", null, Cancel);
        Assert.Equal([server.SubscriptionId.ToString()], subscriptions!.Value.GetProperty("value").EnumerateArray().Select(s => s.GetProperty("subscriptionId").GetString()));

        // The administrator's vault token cannot use the platform key (another tenant): 401.
        var token = await server.AdminTokenAsync(VaultTestServer.VaultScope, Cancel);
        using (var request = new HttpRequestMessage(HttpMethod.Get, new Uri(layer.Wrapped.Kid.VaultUri, $"keys/{layer.Wrapped.Kid.Name}?api-version=7.4")))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var response = await server.VaultHttp.SendAsync(request, Cancel);
            Assert.Equal(401, (int)response.StatusCode);
        }

        // A restart reuses the same vault and key version for the next disk of the region; the first disk still opens.
        await server.RestartAsync(Cancel);
        var second = await PlatformDisk.CreateAsync(server, "pk-disk-2", Cancel);
        Assert.Equal(layer.Wrapped.Kid, Layers(server, second.UniqueId).Single().Wrapped.Kid);
        await PlatformDisk.ReadFirstPageAsync(server, "pk-disk-1", Cancel);
        Assert.Equal(["pk-customer-vault"], await server.ListVaultNamesAsync(Cancel));
    }

    internal static IReadOnlyList<DataKeyRecord> Layers(VaultTestServer server, Guid volumeId) =>
        new SqliteDataKeyStore(MetadataDatabase.Open(Path.Combine(server.DataDirectory, "metadata.db"))).ForVolume(volumeId);
}

public sealed class PlatformRotationTests(FastRotationServer server) : IClassFixture<FastRotationServer>
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Periodic_rotation_rewraps_every_platform_layer_under_a_new_version_and_disks_stay_usable()
    {
        var disks = new List<(string Name, Guid Volume)>();
        for (var i = 0; i < 3; i++)
        {
            var disk = await PlatformDisk.CreateAsync(server, $"rot-disk-{i}", Cancel);
            disks.Add(($"rot-disk-{i}", disk.UniqueId));
        }

        var initial = disks.Select(d => PlatformKeysTests.Layers(server, d.Volume).Single()).ToList();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        IReadOnlyList<DataKeyRecord> current;
        do
        {
            await Task.Delay(500, Cancel);
            current = [.. disks.Select(d => PlatformKeysTests.Layers(server, d.Volume).Single())];
        }
        while (DateTime.UtcNow < deadline && current.Zip(initial).Any(p => p.First.Wrapped.Kid.Version == p.Second.Wrapped.Kid.Version));

        foreach (var (after, before) in current.Zip(initial))
        {
            Assert.True(after.Wrapped.Kid.IsSameKey(before.Wrapped.Kid), "the platform key is rotated, not replaced");
            Assert.NotEqual(before.Wrapped.Kid.Version, after.Wrapped.Kid.Version);
            Assert.True(after.Revision > before.Revision);
            Assert.NotEqual(before.Wrapped.Value, after.Wrapped.Value);
        }

        foreach (var (name, _) in disks)
        {
            await PlatformDisk.ReadFirstPageAsync(server, name, Cancel);
        }
    }
}

/// <summary>Platform-key disks through ARM (no encryption given = EncryptionAtRestWithPlatformKey).</summary>
internal static class PlatformDisk
{
    public static async Task<(JsonElement Body, Guid UniqueId)> CreateAsync(VaultTestServer server, string name, CancellationToken cancellationToken)
    {
        var body = await server.ArmAsync(HttpMethod.Put, DiskPath(server, name) + "?api-version=2025-01-02", new JsonObject
        {
            ["location"] = VaultTestServer.Location,
            ["properties"] = new JsonObject
            {
                ["creationData"] = new JsonObject { ["createOption"] = "Empty" },
                ["diskSizeGB"] = 1,
            },
        }, cancellationToken);
        return (body!.Value, Guid.Parse(body.Value.GetProperty("properties").GetProperty("uniqueId").GetString()!));
    }

    /// <summary>Opens the disk through a read SAS (which unwraps its DEK as the platform identity) and reads its first page.</summary>
    public static async Task ReadFirstPageAsync(VaultTestServer server, string name, CancellationToken cancellationToken)
    {
        var grant = await server.ArmAsync(HttpMethod.Post, DiskPath(server, name) + "/beginGetAccess?api-version=2025-01-02",
            new JsonObject { ["access"] = "Read", ["durationInSeconds"] = 300 }, cancellationToken);
        var sas = new Uri(grant!.Value.GetProperty("accessSAS").GetString()!);
        try
        {
            using var http = server.Server.CreateHttpClient();
            using var request = new HttpRequestMessage(HttpMethod.Get, sas);
            request.Headers.Range = new RangeHeaderValue(0, 511);
            using var response = await http.SendAsync(request, cancellationToken);
            var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken);
            Assert.True(response.IsSuccessStatusCode, $"SAS read of {name} failed: {(int)response.StatusCode}");
            Assert.Equal(512, bytes.Length);
            Assert.All(bytes, b => Assert.Equal(0, b)); // an Empty disk reads as zeros (decrypted with the right DEK)
        }
        finally
        {
            await server.ArmAsync(HttpMethod.Post, DiskPath(server, name) + "/endGetAccess?api-version=2025-01-02", null, cancellationToken);
        }
    }

    private static string DiskPath(VaultTestServer server, string name) =>
        $"/subscriptions/{server.SubscriptionId}/resourceGroups/{VaultTestServer.ResourceGroup}/providers/Microsoft.Compute/disks/{name}";
}
