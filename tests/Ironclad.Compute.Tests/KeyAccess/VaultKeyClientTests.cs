// VaultKeyClient against a real server: wrap/unwrap round trips for an identity granted by access
// policy, the probe naming exactly the missing permissions, and each vault refusal mapped to its
// KeyAccessFailure — with messages that never carry the DEK or a token.
using System.Buffers.Text;
using System.Security.Cryptography;
using Ironclad.Compute.KeyAccess;
using Ironclad.Testing;

namespace Ironclad.Compute.Tests.KeyAccess;

public sealed class VaultKeyClientTests(KeyAccessServer server) : IClassFixture<KeyAccessServer>
{
    private static readonly string[] Full = ["get", "wrapKey", "unwrapKey"];

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Wrap_then_unwrap_round_trips_as_an_identity_granted_by_access_policy()
    {
        var (vault, key, principal) = await VaultWithKeyAsync("kc-roundtrip", 3072, Full);
        var client = server.CreateVaultKeyClient();
        var seed = Seeds.FromEnvironmentOrRandom();
        var dek = new byte[64];
        new Random(seed).NextBytes(dek);

        var wrapped = await client.WrapKeyAsync(principal.ObjectId, key.Versionless(), dek, Cancel);
        Assert.True(wrapped.Kid.IsVersioned, $"seed {seed}");
        Assert.Equal(key, wrapped.Kid);
        Assert.Equal(WrappedKey.DefaultAlgorithm, wrapped.Algorithm);
        Assert.Equal(384, wrapped.Value.Length);

        var unwrapped = await client.UnwrapKeyAsync(principal.ObjectId, wrapped, Cancel);
        Assert.Equal(dek, unwrapped);

        // A versionless wrap after a rotation names the new version; the old wrapped key still unwraps.
        var rotated = await server.RotateKeyAsync(key, Cancel);
        var rewrapped = await client.WrapKeyAsync(principal.ObjectId, key.Versionless(), dek, Cancel);
        Assert.Equal(rotated, rewrapped.Kid);
        Assert.NotEqual(key.Version, rewrapped.Kid.Version);
        Assert.Equal(dek, await client.UnwrapKeyAsync(principal.ObjectId, wrapped, Cancel));
        Assert.Equal(dek, await client.UnwrapKeyAsync(principal.ObjectId, rewrapped, Cancel));

        var properties = await client.GetKeyAsync(principal.ObjectId, key.Versionless(), Cancel);
        Assert.Equal(rotated, properties.Kid);
        Assert.Equal(3072, properties.KeySizeBits);
        Assert.Equal("RSA", properties.KeyType);
        Assert.True(properties.Enabled);
        Assert.Equal("CustomizedRecoverable", properties.RecoveryLevel); // purge protection, 7-day retention
        _ = vault;
    }

    [Theory]
    [InlineData(new string[0], "get,wrapKey,unwrapKey")]
    [InlineData(new[] { "get" }, "wrapKey,unwrapKey")]
    [InlineData(new[] { "get", "wrapKey" }, "unwrapKey")]
    [InlineData(new[] { "wrapKey", "unwrapKey" }, "get")]
    [InlineData(new[] { "unwrapKey" }, "get,wrapKey")]
    [InlineData(new[] { "get", "wrapKey", "unwrapKey" }, "")]
    public async Task Probe_names_exactly_the_missing_permissions(string[] granted, string missing)
    {
        var name = "kc-probe-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
        var (_, key, principal) = await VaultWithKeyAsync(name, 2048, granted);
        var probe = await server.CreateVaultKeyClient().ProbeAsync(principal.ObjectId, key.Versionless(), Cancel);
        Assert.Equal(missing, string.Join(',', probe.Missing));
        Assert.Equal(missing.Length == 0, probe.IsSufficient);
        Assert.Equal(granted.Contains("get"), probe.Key is not null);
    }

    [Fact]
    public async Task Missing_unwrap_permission_is_PermissionDenied_naming_unwrapKey_and_no_secret()
    {
        var (_, key, principal) = await VaultWithKeyAsync("kc-denied", 2048, ["get", "wrapKey"]);
        var client = server.CreateVaultKeyClient();
        var dek = RandomNumberGenerator.GetBytes(64);
        var wrapped = await client.WrapKeyAsync(principal.ObjectId, key, dek, Cancel);

        var e = await Assert.ThrowsAsync<KeyAccessException>(() => client.UnwrapKeyAsync(principal.ObjectId, wrapped, Cancel));
        Assert.Equal(KeyAccessFailure.PermissionDenied, e.Failure);
        Assert.Equal("unwrapKey", e.MissingPermission);
        Assert.Equal(key.ToString(), e.KeyUrl);
        Assert.Contains(principal.ObjectId.ToString(), e.Message, StringComparison.Ordinal);
        Assert.Contains(key.ToString(), e.Message, StringComparison.Ordinal);
        AssertNoSecrets(e.Message, dek, wrapped.Value);
    }

    [Fact]
    public async Task Disabled_key_refuses_unwrap_with_KeyDisabled_and_enabling_restores_it()
    {
        var (_, key, principal) = await VaultWithKeyAsync("kc-disabled", 2048, Full);
        var client = server.CreateVaultKeyClient();
        var dek = RandomNumberGenerator.GetBytes(64);
        var wrapped = await client.WrapKeyAsync(principal.ObjectId, key, dek, Cancel);

        await server.SetEnabledAsync(key, enabled: false, Cancel);
        var e = await Assert.ThrowsAsync<KeyAccessException>(() => client.UnwrapKeyAsync(principal.ObjectId, wrapped, Cancel));
        Assert.Equal(KeyAccessFailure.KeyDisabled, e.Failure);
        Assert.Equal("KeyDisabled", e.VaultErrorCode);
        AssertNoSecrets(e.Message, dek, wrapped.Value);
        var probe = await client.ProbeAsync(principal.ObjectId, key, Cancel);
        Assert.True(probe.IsSufficient, "a disabled key does not take the identity's permissions away");
        Assert.False(probe.Key!.Enabled);

        await server.SetEnabledAsync(key, enabled: true, Cancel);
        Assert.Equal(dek, await client.UnwrapKeyAsync(principal.ObjectId, wrapped, Cancel));
    }

    [Fact]
    public async Task Unknown_key_is_KeyNotFound_and_a_port_without_a_vault_is_VaultUnavailable()
    {
        var (vault, _, principal) = await VaultWithKeyAsync("kc-missing", 2048, Full);
        var client = server.CreateVaultKeyClient();

        var missing = new KeyReference(vault, "no-such-key", null);
        var notFound = await Assert.ThrowsAsync<KeyAccessException>(() => client.GetKeyAsync(principal.ObjectId, missing, Cancel));
        Assert.Equal(KeyAccessFailure.KeyNotFound, notFound.Failure);

        // The last port of this fixture's range: no vault is ever created there in these tests.
        var nowhere = KeyReference.Parse("https://127.0.0.1:25019/keys/k1");
        var unavailable = await Assert.ThrowsAsync<KeyAccessException>(() => client.GetKeyAsync(principal.ObjectId, nowhere, Cancel));
        Assert.Equal(KeyAccessFailure.VaultUnavailable, unavailable.Failure);

        // A key URL off this machine is refused before any connection is made.
        var remote = new KeyReference(new Uri("https://vault.example.com/"), "k1", null);
        var refused = await Assert.ThrowsAsync<KeyAccessException>(() => client.GetKeyAsync(principal.ObjectId, remote, Cancel));
        Assert.Equal(KeyAccessFailure.VaultUnavailable, refused.Failure);
    }

    [Fact]
    public async Task Token_of_another_tenant_is_IdentityRejected()
    {
        var (_, key, _) = await VaultWithKeyAsync("kc-foreign", 2048, Full);
        var foreign = await server.CreateForeignPrincipalAsync(Cancel);
        var e = await Assert.ThrowsAsync<KeyAccessException>(() => server.CreateVaultKeyClient().GetKeyAsync(foreign.ObjectId, key, Cancel));
        Assert.Equal(KeyAccessFailure.IdentityRejected, e.Failure);
    }

    private async Task<(Uri Vault, KeyReference Key, TestPrincipal Principal)> VaultWithKeyAsync(string name, int sizeBits, string[] granted)
    {
        var vault = await server.CreateVaultAsync(name, Cancel);
        var key = await server.CreateKeyAsync(vault, "disk-key", sizeBits, Cancel);
        var principal = await server.CreatePrincipalAsync(Cancel);
        if (granted.Length > 0)
        {
            await server.GrantAsync(name, principal.ObjectId, granted, Cancel);
        }

        return (vault, key, principal);
    }

    private static void AssertNoSecrets(string message, byte[] dek, byte[] wrapped)
    {
        foreach (var secret in new[] { dek, wrapped })
        {
            Assert.DoesNotContain(Base64Url.EncodeToString(secret), message, StringComparison.Ordinal);
            Assert.DoesNotContain(Convert.ToBase64String(secret), message, StringComparison.Ordinal);
            Assert.DoesNotContain(Convert.ToHexString(secret), message, StringComparison.OrdinalIgnoreCase);
        }

        Assert.DoesNotContain("eyJ", message, StringComparison.Ordinal);
    }
}
