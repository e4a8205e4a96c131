// Disk encryption sets through ARM against a real server: creation with a system-assigned identity
// (stored NotVerified until the vault grants it), with a user-assigned identity (access checked at
// once), a versionless keyUrl, and every validation refusal — each a 400 whose code and message name
// what is missing — with nothing created by a refused request.
using System.Text.Json.Nodes;

namespace Ironclad.Compute.Tests.EncryptionSets;

public sealed class ValidationServer : IAsyncLifetime
{
    public SetsServer Sets { get; private set; } = null!;

    public async ValueTask InitializeAsync() => Sets = await SetsServer.StartAsync(25100, cancellationToken: TestContext.Current.CancellationToken);

    public async ValueTask DisposeAsync() => await Sets.DisposeAsync();
}

public sealed class EncryptionSetValidationTests(ValidationServer fixture) : IClassFixture<ValidationServer>
{
    private readonly SetsServer _sets = fixture.Sets;

    [Fact]
    public async Task A_system_assigned_set_is_created_pending_access_and_verified_once_granted()
    {
        var ct = TestContext.Current.CancellationToken;
        var (vaultId, vaultUri) = await _sets.CreateVaultAsync("sys-kv", cancellationToken: ct);
        var kid = await _sets.CreateKeyAsync(vaultUri, "sys-key", cancellationToken: ct);

        var created = await _sets.ArmAsync(HttpMethod.Put, _sets.SetPath("sys-des"), SetsServer.SetBody(kid, vaultId), ct);
        Assert.True(created.Status == 201, created.ToString());
        var set = created.Json;
        Assert.Equal(_sets.SetId("sys-des"), set.GetProperty("id").GetString());
        Assert.Equal("Microsoft.Compute/diskEncryptionSets", set.GetProperty("type").GetString());
        var identity = set.GetProperty("identity");
        Assert.Equal("SystemAssigned", identity.GetProperty("type").GetString());
        var principal = identity.GetProperty("principalId").GetString()!;
        Assert.True(Guid.TryParse(principal, out _));
        Assert.Equal(_sets.TenantId, identity.GetProperty("tenantId").GetString());
        var properties = set.GetProperty("properties");
        Assert.Equal("Succeeded", properties.GetProperty("provisioningState").GetString());
        Assert.Equal(kid, properties.GetProperty("activeKey").GetProperty("keyUrl").GetString());
        Assert.Equal(vaultId, properties.GetProperty("activeKey").GetProperty("sourceVault").GetProperty("id").GetString());
        Assert.Equal(0, properties.GetProperty("previousKeys").GetArrayLength());
        Assert.False(properties.GetProperty("rotationToLatestKeyVersionEnabled").GetBoolean());
        var status = properties.GetProperty("keyAccessStatus");
        Assert.Equal("NotVerified", status.GetProperty("state").GetString());
        var message = status.GetProperty("message").GetString()!;
        Assert.Contains(principal, message, StringComparison.Ordinal);
        Assert.Contains("wrapKey", message, StringComparison.Ordinal);
        Assert.Contains("Key Vault Crypto Service Encryption User", message, StringComparison.Ordinal);

        await _sets.GrantPolicyAsync("sys-kv", principal, cancellationToken: ct);
        var verified = await _sets.ArmOkAsync(HttpMethod.Get, _sets.SetPath("sys-des"), cancellationToken: ct);
        Assert.Equal("Verified", verified.GetProperty("properties").GetProperty("keyAccessStatus").GetProperty("state").GetString());
        Assert.Equal(principal, verified.GetProperty("identity").GetProperty("principalId").GetString());

        // Listed by group and by subscription; associatedResources empty; delete 200 then 204.
        var byGroup = await _sets.ArmOkAsync(HttpMethod.Get, $"{_sets.GroupId}/providers/Microsoft.Compute/diskEncryptionSets?{SetsServer.ArmApi}", cancellationToken: ct);
        Assert.Contains(byGroup.GetProperty("value").EnumerateArray(), s => s.GetProperty("name").GetString() == "sys-des");
        var bySubscription = await _sets.ArmOkAsync(HttpMethod.Get, $"/subscriptions/{_sets.SubscriptionId}/providers/Microsoft.Compute/diskEncryptionSets?{SetsServer.ArmApi}", cancellationToken: ct);
        Assert.Contains(bySubscription.GetProperty("value").EnumerateArray(), s => s.GetProperty("name").GetString() == "sys-des");
        var associated = await _sets.ArmOkAsync(HttpMethod.Get,
            $"{_sets.SetId("sys-des")}/associatedResources?{SetsServer.ArmApi}", cancellationToken: ct);
        Assert.Equal(0, associated.GetProperty("value").GetArrayLength());
        Assert.Equal(200, (await _sets.ArmAsync(HttpMethod.Delete, _sets.SetPath("sys-des"), cancellationToken: ct)).Status);
        Assert.Equal(204, (await _sets.ArmAsync(HttpMethod.Delete, _sets.SetPath("sys-des"), cancellationToken: ct)).Status);
        Assert.Equal(404, (await _sets.ArmAsync(HttpMethod.Get, _sets.SetPath("sys-des"), cancellationToken: ct)).Status);
    }

    [Fact]
    public async Task A_system_assigned_set_refuses_a_bad_key_at_creation()
    {
        var ct = TestContext.Current.CancellationToken;
        var (vaultId, vaultUri) = await _sets.CreateVaultAsync("sysbad-kv", cancellationToken: ct);
        var disabled = await _sets.CreateKeyAsync(vaultUri, "sysbad-disabled", enabled: false, cancellationToken: ct);
        await AssertRefusedAsync("sysbad-des1", SetsServer.SetBody(disabled, vaultId), "KeyDisabled", ct, "sysbad-disabled", "disabled");
        await AssertRefusedAsync("sysbad-des2", SetsServer.SetBody($"{vaultUri}keys/sysbad-nokey", vaultId), "KeyNotFound", ct, "sysbad-nokey");
    }

    [Fact]
    public async Task A_user_assigned_set_needs_get_wrap_and_unwrap_before_it_is_created()
    {
        var ct = TestContext.Current.CancellationToken;
        var (vaultId, vaultUri) = await _sets.CreateVaultAsync("uai-kv", cancellationToken: ct);
        var kid = await _sets.CreateKeyAsync(vaultUri, "uai-key", cancellationToken: ct);
        var (uaiId, uaiPrincipal, uaiClient) = await _sets.CreateUserAssignedIdentityAsync("uai-1", ct);
        var body = SetsServer.SetBody(kid, vaultId, SetsServer.UserAssigned(uaiId));

        var none = await AssertRefusedAsync("uai-des", body, "KeyVaultAccessDenied", ct, uaiPrincipal, "get", "wrapKey", "unwrapKey", "uai-key", "accessPolicies");
        Assert.Contains("Key Vault Crypto Service Encryption User", none, StringComparison.Ordinal);

        await _sets.GrantPolicyAsync("uai-kv", uaiPrincipal, ["get"], ct);
        var getOnly = await AssertRefusedAsync("uai-des", body, "KeyVaultAccessDenied", ct, uaiPrincipal, "wrapKey", "unwrapKey");
        Assert.DoesNotContain("permission(s) get", getOnly, StringComparison.Ordinal);

        await _sets.GrantPolicyAsync("uai-kv", uaiPrincipal, cancellationToken: ct);
        var created = await _sets.ArmAsync(HttpMethod.Put, _sets.SetPath("uai-des"), body, ct);
        Assert.True(created.Status == 201, created.ToString());
        var identity = created.Json.GetProperty("identity");
        Assert.Equal("UserAssigned", identity.GetProperty("type").GetString());
        Assert.False(identity.TryGetProperty("principalId", out _));
        var entry = identity.GetProperty("userAssignedIdentities").EnumerateObject().Single();
        Assert.Equal(uaiId, entry.Name, ignoreCase: true);
        Assert.Equal(uaiPrincipal, entry.Value.GetProperty("principalId").GetString());
        Assert.Equal(uaiClient, entry.Value.GetProperty("clientId").GetString());
        Assert.Equal("Verified", created.Json.GetProperty("properties").GetProperty("keyAccessStatus").GetProperty("state").GetString());

        // Both identities: the single user-assigned one acts, the system-assigned one is reported too.
        var both = SetsServer.SetBody(kid, vaultId, new JsonObject
        {
            ["type"] = "SystemAssigned, UserAssigned",
            ["userAssignedIdentities"] = new JsonObject { [uaiId] = new JsonObject() },
        });
        var replaced = await _sets.ArmAsync(HttpMethod.Put, _sets.SetPath("uai-des"), both, ct);
        Assert.True(replaced.Status == 200, replaced.ToString());
        Assert.Equal("SystemAssigned, UserAssigned", replaced.Json.GetProperty("identity").GetProperty("type").GetString());
        Assert.True(replaced.Json.GetProperty("identity").TryGetProperty("principalId", out _));
        Assert.Equal("Verified", replaced.Json.GetProperty("properties").GetProperty("keyAccessStatus").GetProperty("state").GetString());
    }

    [Fact]
    public async Task A_versionless_key_url_is_resolved_to_the_current_version_and_follows_rotation_by_default()
    {
        var ct = TestContext.Current.CancellationToken;
        var (vaultId, vaultUri) = await _sets.CreateVaultAsync("vless-kv", cancellationToken: ct);
        var kid = await _sets.CreateKeyAsync(vaultUri, "vless-key", cancellationToken: ct);
        var (uaiId, uaiPrincipal, _) = await _sets.CreateUserAssignedIdentityAsync("vless-uai", ct);
        await _sets.GrantPolicyAsync("vless-kv", uaiPrincipal, cancellationToken: ct);
        var versionless = $"{vaultUri}keys/vless-key";

        var created = await _sets.ArmOkAsync(HttpMethod.Put, _sets.SetPath("vless-des"), SetsServer.SetBody(versionless, vaultId, SetsServer.UserAssigned(uaiId)), ct);
        var properties = created.GetProperty("properties");
        Assert.Equal(kid, properties.GetProperty("activeKey").GetProperty("keyUrl").GetString());
        Assert.True(properties.GetProperty("rotationToLatestKeyVersionEnabled").GetBoolean());

        // Explicitly pinned: still resolved, rotation stays off.
        var pinned = await _sets.ArmOkAsync(HttpMethod.Put, _sets.SetPath("vless-des2"),
            SetsServer.SetBody(versionless, vaultId, SetsServer.UserAssigned(uaiId), rotation: false), ct);
        Assert.Equal(kid, pinned.GetProperty("properties").GetProperty("activeKey").GetProperty("keyUrl").GetString());
        Assert.False(pinned.GetProperty("properties").GetProperty("rotationToLatestKeyVersionEnabled").GetBoolean());

        // Re-stating the same versionless URL (infrastructure as code re-applying) changes nothing.
        var again = await _sets.ArmOkAsync(HttpMethod.Put, _sets.SetPath("vless-des2"),
            SetsServer.SetBody(versionless, vaultId, SetsServer.UserAssigned(uaiId), rotation: false), ct);
        Assert.Equal(kid, again.GetProperty("properties").GetProperty("activeKey").GetProperty("keyUrl").GetString());
        Assert.Equal(0, again.GetProperty("properties").GetProperty("previousKeys").GetArrayLength());

        // No sourceVault: the vault is found from the key URL.
        var inferred = await _sets.ArmOkAsync(HttpMethod.Put, _sets.SetPath("vless-des3"),
            SetsServer.SetBody(kid, null, SetsServer.UserAssigned(uaiId)), ct);
        Assert.Equal(vaultId, inferred.GetProperty("properties").GetProperty("activeKey").GetProperty("sourceVault").GetProperty("id").GetString());
    }

    [Fact]
    public async Task Every_rule_is_refused_with_a_code_and_a_message_that_names_what_is_missing()
    {
        var ct = TestContext.Current.CancellationToken;
        var (vaultId, vaultUri) = await _sets.CreateVaultAsync("val-kv", cancellationToken: ct);
        var (uaiId, uaiPrincipal, _) = await _sets.CreateUserAssignedIdentityAsync("val-uai", ct);
        await _sets.GrantPolicyAsync("val-kv", uaiPrincipal, cancellationToken: ct);
        var uai = SetsServer.UserAssigned(uaiId);
        var kid = await _sets.CreateKeyAsync(vaultUri, "val-key", cancellationToken: ct);

        var (noPpId, noPpUri) = await _sets.CreateVaultAsync("val-kv-nopp", purgeProtection: false, cancellationToken: ct);
        var noPpKey = await _sets.CreateKeyAsync(noPpUri, "val-nopp-key", cancellationToken: ct);
        await AssertRefusedAsync("val-1", SetsServer.SetBody(noPpKey, noPpId, uai), "KeyVaultPurgeProtectionRequired", ct, "val-kv-nopp", "purge protection");

        var (westId, westUri) = await _sets.CreateVaultAsync("val-kv-west", location: "westus", cancellationToken: ct);
        var westKey = await _sets.CreateKeyAsync(westUri, "val-west-key", cancellationToken: ct);
        await AssertRefusedAsync("val-2", SetsServer.SetBody(westKey, westId, uai), "KeyVaultInDifferentRegion", ct, "westus", "eastus");

        await AssertRefusedAsync("val-3", SetsServer.SetBody(kid, _sets.VaultId("val-kv-none"), uai), "KeyVaultNotFound", ct, "val-kv-none");
        await AssertRefusedAsync("val-4", SetsServer.SetBody(noPpKey, vaultId, uai), "KeyUrlNotInSourceVault", ct, "val-kv", noPpUri.ToString());
        await AssertRefusedAsync("val-5", SetsServer.SetBody("http://127.0.0.1/keys/x", vaultId, uai), "InvalidKeyUrl", ct, "keyUrl");
        await AssertRefusedAsync("val-6", SetsServer.SetBody($"{vaultUri}keys/val-nokey/0123456789abcdef0123456789abcdef", vaultId, uai), "KeyNotFound", ct, "val-nokey");
        await AssertRefusedAsync("val-7", SetsServer.SetBody($"{vaultUri}keys/val-nokey", vaultId, uai), "KeyNotFound", ct, "val-nokey");

        var disabled = await _sets.CreateKeyAsync(vaultUri, "val-disabled", enabled: false, cancellationToken: ct);
        await AssertRefusedAsync("val-8", SetsServer.SetBody(disabled, vaultId, uai), "KeyDisabled", ct, "val-disabled", "disabled");

        var expired = await _sets.CreateKeyAsync(vaultUri, "val-expired", expires: DateTimeOffset.UtcNow.AddDays(-1), cancellationToken: ct);
        await AssertRefusedAsync("val-9", SetsServer.SetBody(expired, vaultId, uai), "KeyExpired", ct, "val-expired", "expired");

        var signOnly = await _sets.CreateKeyAsync(vaultUri, "val-sign-only", keyOps: ["sign", "verify"], cancellationToken: ct);
        await AssertRefusedAsync("val-10", SetsServer.SetBody(signOnly, vaultId, uai), "KeyTypeNotSupported", ct, "val-sign-only", "wrapKey");

        await AssertRefusedAsync("val-11", SetsServer.SetBody(kid, vaultId, uai, encryptionType: "ConfidentialVmEncryptedWithCustomerKey"),
            "DiskEncryptionSetEncryptionTypeNotSupported", ct, "ConfidentialVmEncryptedWithCustomerKey");
        await AssertRefusedAsync("val-12", SetsServer.SetBody(kid, vaultId, new JsonObject { ["type"] = "None" }), "DiskEncryptionSetIdentityRequired", ct, "identity");
        var missingUai = $"{_sets.GroupId}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/val-uai-none";
        await AssertRefusedAsync("val-13", SetsServer.SetBody(kid, vaultId, SetsServer.UserAssigned(missingUai)), "UserAssignedIdentityNotFound", ct, "val-uai-none");
        var (uai2, _, _) = await _sets.CreateUserAssignedIdentityAsync("val-uai-2", ct);
        await AssertRefusedAsync("val-14", SetsServer.SetBody(kid, vaultId, SetsServer.UserAssigned(uaiId, uai2)), "DiskEncryptionSetIdentityRequired", ct, "exactly one");

        var body = SetsServer.SetBody(kid, vaultId, uai);
        body.Remove("location");
        await AssertRefusedAsync("val-15", body, "LocationRequired", ct, "location");

        // Nothing refused exists.
        var list = await _sets.ArmOkAsync(HttpMethod.Get, $"{_sets.GroupId}/providers/Microsoft.Compute/diskEncryptionSets?{SetsServer.ArmApi}", cancellationToken: ct);
        Assert.DoesNotContain(list.GetProperty("value").EnumerateArray(), s => s.GetProperty("name").GetString()!.StartsWith("val-", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Patch_merges_and_a_manual_key_change_moves_the_old_key_to_previous_keys_until_re_wrapped()
    {
        var ct = TestContext.Current.CancellationToken;
        var (vaultId, vaultUri) = await _sets.CreateVaultAsync("patch-kv", cancellationToken: ct);
        var (uaiId, uaiPrincipal, _) = await _sets.CreateUserAssignedIdentityAsync("patch-uai", ct);
        await _sets.GrantPolicyAsync("patch-kv", uaiPrincipal, cancellationToken: ct);
        var first = await _sets.CreateKeyAsync(vaultUri, "patch-key1", cancellationToken: ct);
        var second = await _sets.CreateKeyAsync(vaultUri, "patch-key2", size: 3072, cancellationToken: ct);
        await _sets.ArmOkAsync(HttpMethod.Put, _sets.SetPath("patch-des"), SetsServer.SetBody(first, vaultId, SetsServer.UserAssigned(uaiId)), ct);

        var tagged = await _sets.ArmOkAsync(HttpMethod.Patch, _sets.SetPath("patch-des"), new JsonObject { ["tags"] = new JsonObject { ["env"] = "test" } }, ct);
        Assert.Equal("test", tagged.GetProperty("tags").GetProperty("env").GetString());
        Assert.Equal(first, tagged.GetProperty("properties").GetProperty("activeKey").GetProperty("keyUrl").GetString());
        Assert.Equal("UserAssigned", tagged.GetProperty("identity").GetProperty("type").GetString());

        var patched = await _sets.ArmOkAsync(HttpMethod.Patch, _sets.SetPath("patch-des"),
            new JsonObject { ["properties"] = new JsonObject { ["activeKey"] = new JsonObject { ["keyUrl"] = second, ["sourceVault"] = new JsonObject { ["id"] = vaultId } } } }, ct);
        var properties = patched.GetProperty("properties");
        Assert.Equal(second, properties.GetProperty("activeKey").GetProperty("keyUrl").GetString());
        Assert.True(properties.TryGetProperty("lastKeyRotationTimestamp", out _));
        Assert.Equal("test", patched.GetProperty("tags").GetProperty("env").GetString());

        // The set has no disks: the re-wrap pass finds nothing under the old key and previousKeys empties.
        await SetsServer.WaitForAsync("previousKeys to empty", async () =>
        {
            var set = await _sets.ArmOkAsync(HttpMethod.Get, _sets.SetPath("patch-des"), cancellationToken: ct);
            return set.GetProperty("properties").GetProperty("previousKeys").GetArrayLength() == 0 ? (object)set : null;
        }, TimeSpan.FromSeconds(20), ct);

        // A PATCH to a key the identity cannot use is refused, and the set keeps its key.
        var (otherVaultId, otherUri) = await _sets.CreateVaultAsync("patch-kv2", cancellationToken: ct);
        var other = await _sets.CreateKeyAsync(otherUri, "patch-other", cancellationToken: ct);
        var refused = await _sets.ArmAsync(HttpMethod.Patch, _sets.SetPath("patch-des"),
            new JsonObject { ["properties"] = new JsonObject { ["activeKey"] = new JsonObject { ["keyUrl"] = other, ["sourceVault"] = new JsonObject { ["id"] = otherVaultId } } } }, ct);
        Assert.Equal(400, refused.Status);
        Assert.Equal("KeyVaultAccessDenied", refused.ErrorCode);
        var kept = await _sets.ArmOkAsync(HttpMethod.Get, _sets.SetPath("patch-des"), cancellationToken: ct);
        Assert.Equal(second, kept.GetProperty("properties").GetProperty("activeKey").GetProperty("keyUrl").GetString());
    }

    /// <summary>PUTs <paramref name="body"/>, expects 400 <paramref name="code"/> whose message contains each of <paramref name="names"/>, and that the set does not exist.</summary>
    private async Task<string> AssertRefusedAsync(string name, JsonObject body, string code, CancellationToken ct, params string[] names)
    {
        var response = await _sets.ArmAsync(HttpMethod.Put, _sets.SetPath(name), body, ct);
        Assert.True(response.Status == 400, $"{name}: expected 400 {code}, got {response}");
        Assert.Equal(code, response.ErrorCode);
        foreach (var expected in names)
        {
            Assert.True(response.ErrorMessage.Contains(expected, StringComparison.OrdinalIgnoreCase), $"{name}: '{response.ErrorMessage}' does not name '{expected}'");
        }

        Assert.Equal(404, (await _sets.ArmAsync(HttpMethod.Get, _sets.SetPath(name), cancellationToken: ct)).Status);
        return response.ErrorMessage;
    }

}
