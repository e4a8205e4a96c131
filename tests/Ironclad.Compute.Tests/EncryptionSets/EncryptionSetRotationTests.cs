// Rotation of a disk encryption set's key against a real server with real customer-key disks: a new
// key version moves every set with rotationToLatestKeyVersionEnabled to it and re-wraps every customer
// layer (double-encryption outer layers stay under the platform key); previousKeys lists the old version
// until done, and when a re-wrap is refused autoKeyRotationError says why and the next try finishes it.
// Also: a set in use cannot be deleted (409 naming its users) and associatedResources lists them.
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ironclad.Compute.Tests.EncryptionSets;

public sealed class RotationServer : IAsyncLifetime
{
    public SetsServer Sets { get; private set; } = null!;

    public async ValueTask InitializeAsync() => Sets = await SetsServer.StartAsync(25110, cancellationToken: TestContext.Current.CancellationToken);

    public async ValueTask DisposeAsync() => await Sets.DisposeAsync();
}

public sealed class EncryptionSetRotationTests(RotationServer fixture) : IClassFixture<RotationServer>
{
    private const long Customer = 1;
    private static readonly TimeSpan RotationTimeout = TimeSpan.FromSeconds(30);
    private readonly SetsServer _sets = fixture.Sets;

    [Fact]
    public async Task A_new_key_version_re_wraps_every_customer_layer_of_every_set_on_the_key()
    {
        var ct = TestContext.Current.CancellationToken;
        var (vaultId, vaultUri) = await _sets.CreateVaultAsync("rot-kv", cancellationToken: ct);
        var oldKid = await _sets.CreateKeyAsync(vaultUri, "rot-key", cancellationToken: ct);
        var (uaiId, uaiPrincipal, _) = await _sets.CreateUserAssignedIdentityAsync("rot-uai", ct);
        await _sets.GrantPolicyAsync("rot-kv", uaiPrincipal, cancellationToken: ct);
        var setId = (await _sets.ArmOkAsync(HttpMethod.Put, _sets.SetPath("rot-des"),
            SetsServer.SetBody(oldKid, vaultId, SetsServer.UserAssigned(uaiId), rotation: true), ct)).GetProperty("id").GetString()!;
        var doubleId = (await _sets.ArmOkAsync(HttpMethod.Put, _sets.SetPath("rot-des-double"),
            SetsServer.SetBody(oldKid, vaultId, SetsServer.UserAssigned(uaiId), encryptionType: "EncryptionAtRestWithPlatformAndCustomerKeys", rotation: true), ct))
            .GetProperty("id").GetString()!;

        var disks = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            disks.Add((await _sets.CreateDiskAsync($"rot-d{i}", setId, cancellationToken: ct)).Id);
        }

        var snapshot = await _sets.CreateSnapshotAsync("rot-snap", disks[0], setId, ct);
        var (doubleDisk, doubleVolume) = await _sets.CreateDiskAsync("rot-dd", doubleId, "EncryptionAtRestWithPlatformAndCustomerKeys", ct);
        var platformKidBefore = _sets.DataKeyRows().Single(r => r.VolumeId.Equals(doubleVolume, StringComparison.OrdinalIgnoreCase) && r.Kind != Customer).Kid;

        // associatedResources lists the users; a set in use cannot be deleted.
        var associated = await _sets.ArmOkAsync(HttpMethod.Get, $"{setId}/associatedResources?{SetsServer.ArmApi}", cancellationToken: ct);
        var listed = associated.GetProperty("value").EnumerateArray().Select(v => v.GetString()!).ToList();
        Assert.Equal(
            string.Join("\n", disks.Append(snapshot).Select(i => i.ToUpperInvariant()).Order(StringComparer.Ordinal)),
            string.Join("\n", listed.Select(i => i.ToUpperInvariant()).Order(StringComparer.Ordinal)));
        var refused = await _sets.ArmAsync(HttpMethod.Delete, _sets.SetPath("rot-des"), cancellationToken: ct);
        Assert.Equal(409, refused.Status);
        Assert.Equal("DiskEncryptionSetInUse", refused.ErrorCode);
        Assert.Contains(disks[0], refused.ErrorMessage, StringComparison.OrdinalIgnoreCase);

        var newKid = await _sets.RotateKeyAsync(vaultUri, "rot-key", ct);
        Assert.NotEqual(oldKid, newKid);
        foreach (var name in new[] { "rot-des", "rot-des-double" })
        {
            var done = await SetsServer.WaitForAsync($"{name} to move to {newKid} with previousKeys empty", async () =>
            {
                var set = (await _sets.ArmOkAsync(HttpMethod.Get, _sets.SetPath(name), cancellationToken: ct)).GetProperty("properties");
                return set.GetProperty("activeKey").GetProperty("keyUrl").GetString() == newKid && set.GetProperty("previousKeys").GetArrayLength() == 0
                    ? (object)set.Clone()
                    : null;
            }, RotationTimeout, ct);
            var properties = (JsonElement)done;
            Assert.True(properties.TryGetProperty("lastKeyRotationTimestamp", out _), $"{name}: {properties}");
            Assert.False(properties.TryGetProperty("autoKeyRotationError", out _), $"{name}: {properties}");
        }

        var rows = _sets.DataKeyRows();
        var customerRows = rows.Where(r => r.Kind == Customer && (Same(r.SetId, setId) || Same(r.SetId, doubleId))).ToList();
        Assert.Equal(disks.Count + 2, customerRows.Count); // four disks, the snapshot, the double-encrypted disk
        Assert.All(customerRows, r => Assert.Equal(newKid, r.Kid, ignoreCase: true));
        Assert.Equal(platformKidBefore, rows.Single(r => Same(r.VolumeId, doubleVolume) && r.Kind != Customer).Kid);

        // The old version is no longer needed: disabled, every disk still opens (a SAS grant unwraps its DEKs).
        await _sets.SetKeyEnabledAsync(oldKid, false, ct);
        foreach (var (type, name) in new[] { ("disks", "rot-d1"), ("snapshots", "rot-snap"), ("disks", "rot-dd") })
        {
            var grant = await _sets.ArmAsync(HttpMethod.Post, _sets.DiskPath(name, type).Replace("?", "/beginGetAccess?", StringComparison.Ordinal),
                new JsonObject { ["access"] = "Read", ["durationInSeconds"] = 60 }, ct);
            Assert.True(grant.Status == 200, $"{name}: {grant}");
            Assert.Equal(200, (await _sets.ArmAsync(HttpMethod.Post, _sets.DiskPath(name, type).Replace("?", "/endGetAccess?", StringComparison.Ordinal), cancellationToken: ct)).Status);
        }

        _ = doubleDisk;
    }

    [Fact]
    public async Task A_refused_re_wrap_keeps_the_old_version_in_previous_keys_and_reports_why_until_access_returns()
    {
        var ct = TestContext.Current.CancellationToken;
        var (vaultId, vaultUri) = await _sets.CreateVaultAsync("rotfail-kv", cancellationToken: ct);
        var oldKid = await _sets.CreateKeyAsync(vaultUri, "rotfail-key", cancellationToken: ct);
        var (uaiId, uaiPrincipal, _) = await _sets.CreateUserAssignedIdentityAsync("rotfail-uai", ct);
        await _sets.GrantPolicyAsync("rotfail-kv", uaiPrincipal, cancellationToken: ct);
        var setId = (await _sets.ArmOkAsync(HttpMethod.Put, _sets.SetPath("rotfail-des"),
            SetsServer.SetBody(oldKid, vaultId, SetsServer.UserAssigned(uaiId), rotation: true), ct)).GetProperty("id").GetString()!;
        var (_, volume) = await _sets.CreateDiskAsync("rotfail-d", setId, cancellationToken: ct);

        // The identity keeps get and unwrapKey but loses wrapKey: the set follows the new version, the DEK cannot be re-wrapped.
        await _sets.RemovePolicyAsync("rotfail-kv", uaiPrincipal, ct);
        await _sets.GrantPolicyAsync("rotfail-kv", uaiPrincipal, ["get", "unwrapKey"], ct);
        var newKid = await _sets.RotateKeyAsync(vaultUri, "rotfail-key", ct);
        var failed = (JsonElement)await SetsServer.WaitForAsync("autoKeyRotationError", async () =>
        {
            var set = (await _sets.ArmOkAsync(HttpMethod.Get, _sets.SetPath("rotfail-des"), cancellationToken: ct)).GetProperty("properties");
            return set.TryGetProperty("autoKeyRotationError", out _) ? (object)set.Clone() : null;
        }, RotationTimeout, ct);
        Assert.Equal(newKid, failed.GetProperty("activeKey").GetProperty("keyUrl").GetString());
        Assert.Equal([oldKid], failed.GetProperty("previousKeys").EnumerateArray().Select(k => k.GetProperty("keyUrl").GetString()!));
        var error = failed.GetProperty("autoKeyRotationError");
        Assert.False(string.IsNullOrEmpty(error.GetProperty("code").GetString()));
        var message = error.GetProperty("message").GetString()!;
        Assert.Contains(uaiPrincipal, message, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("rotfail-key", message, StringComparison.Ordinal);
        Assert.Equal(oldKid, _sets.DataKeyRows().Single(r => Same(r.VolumeId, volume)).Kid, ignoreCase: true);

        // Access back: the next try (a GET retries a failed set at once) finishes the re-wrap and clears the error.
        await _sets.GrantPolicyAsync("rotfail-kv", uaiPrincipal, cancellationToken: ct);
        await SetsServer.WaitForAsync("the re-wrap to finish", async () =>
        {
            var set = (await _sets.ArmOkAsync(HttpMethod.Get, _sets.SetPath("rotfail-des"), cancellationToken: ct)).GetProperty("properties");
            return set.GetProperty("previousKeys").GetArrayLength() == 0 && !set.TryGetProperty("autoKeyRotationError", out _) ? (object)set.Clone() : null;
        }, RotationTimeout, ct);
        Assert.Equal(newKid, _sets.DataKeyRows().Single(r => Same(r.VolumeId, volume)).Kid, ignoreCase: true);
    }

    [Fact]
    public async Task A_manual_active_key_change_re_wraps_the_disks_and_a_set_without_rotation_stays_on_its_version()
    {
        var ct = TestContext.Current.CancellationToken;
        var (vaultId, vaultUri) = await _sets.CreateVaultAsync("man-kv", cancellationToken: ct);
        var first = await _sets.CreateKeyAsync(vaultUri, "man-key1", cancellationToken: ct);
        var second = await _sets.CreateKeyAsync(vaultUri, "man-key2", size: 4096, cancellationToken: ct);
        var (uaiId, uaiPrincipal, _) = await _sets.CreateUserAssignedIdentityAsync("man-uai", ct);
        await _sets.GrantPolicyAsync("man-kv", uaiPrincipal, cancellationToken: ct);
        var setId = (await _sets.ArmOkAsync(HttpMethod.Put, _sets.SetPath("man-des"),
            SetsServer.SetBody(first, vaultId, SetsServer.UserAssigned(uaiId), rotation: false), ct)).GetProperty("id").GetString()!;
        var volumes = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            volumes.Add((await _sets.CreateDiskAsync($"man-d{i}", setId, cancellationToken: ct)).UniqueId);
        }

        // Rotation is off: a new version of the first key changes nothing.
        await _sets.RotateKeyAsync(vaultUri, "man-key1", ct);
        await Task.Delay(TimeSpan.FromSeconds(1), ct);
        var pinned = await _sets.ArmOkAsync(HttpMethod.Get, _sets.SetPath("man-des"), cancellationToken: ct);
        Assert.Equal(first, pinned.GetProperty("properties").GetProperty("activeKey").GetProperty("keyUrl").GetString());

        var patched = await _sets.ArmOkAsync(HttpMethod.Patch, _sets.SetPath("man-des"),
            new JsonObject { ["properties"] = new JsonObject { ["activeKey"] = new JsonObject { ["keyUrl"] = second, ["sourceVault"] = new JsonObject { ["id"] = vaultId } } } }, ct);
        Assert.Equal(second, patched.GetProperty("properties").GetProperty("activeKey").GetProperty("keyUrl").GetString());
        await SetsServer.WaitForAsync("previousKeys to empty after the manual change", async () =>
        {
            var set = (await _sets.ArmOkAsync(HttpMethod.Get, _sets.SetPath("man-des"), cancellationToken: ct)).GetProperty("properties");
            return set.GetProperty("previousKeys").GetArrayLength() == 0 ? (object)set.Clone() : null;
        }, RotationTimeout, ct);
        var rows = _sets.DataKeyRows().Where(r => volumes.Contains(r.VolumeId, StringComparer.OrdinalIgnoreCase)).ToList();
        Assert.Equal(3, rows.Count);
        Assert.All(rows, r => Assert.Equal(second, r.Kid, ignoreCase: true));
    }

    private static bool Same(string? a, string? b) => string.Equals(a, b, StringComparison.OrdinalIgnoreCase);
}
