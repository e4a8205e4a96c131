// @azure/keyvault-keys 4.10.2 (the real npm package) against the real server's keys data plane, on
// vaults made through ARM: every KeyClient and CryptographyClient call (tests/sdk-js/keys-*.mjs), access
// policies and RBAC enforced on every call, and no DEK, plaintext or private key on disk afterwards.
// One server per class (vault ports 21460-21469); the scripts use distinct vault names.
using System.Text;

namespace Ironclad.Sdk.Tests;

public sealed class KeysSdkTests : IAsyncLifetime
{
    private readonly SdkServer _server = new() { ExtraArguments = ["--vault-ports", "21460-21469"] };

    public ValueTask InitializeAsync() => _server.InitializeAsync();

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task Key_client_and_cryptography_clients_run_every_call_and_no_plaintext_reaches_the_disk()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var output = (await _server.RunNodeAsync("keys-basic.mjs", new Dictionary<string, string?> { ["IRONCLAD_VAULT"] = "keys-basic" }, cancellationToken)).EnsureSuccess();

        Assert.Matches(@"^https://127\.0\.0\.1:2146\d/$", output.GetProperty("vaultUri").GetString());
        var crypto = output.GetProperty("crypto");
        foreach (var client in new[] { "versioned", "versionless", "object" })
        {
            foreach (var algorithm in new[] { "RSA-OAEP", "RSA-OAEP-256", "RSA1_5" })
            {
                Assert.True(crypto.GetProperty($"{client}:{algorithm}").GetBoolean(), $"{client} {algorithm}");
            }
        }

        foreach (var algorithm in new[] { "RS256", "RS384", "RS512", "PS256", "PS384", "PS512" })
        {
            Assert.True(crypto.GetProperty(algorithm).GetBoolean(), algorithm);
        }

        Assert.Equal("Operation unwrapKey is not allowed on a disabled key.", output.GetProperty("disabled").GetProperty("message").GetString());
        Assert.Equal(400, output.GetProperty("tampered").GetProperty("statusCode").GetInt32());
        Assert.Contains("deleted but recoverable", output.GetProperty("conflict").GetProperty("message").GetString(), StringComparison.Ordinal);

        // The DEK the script wrapped and unwrapped dozens of times, in every encoding it travelled in.
        var dek = Convert.FromBase64String(output.GetProperty("dek").GetString()!);
        var patterns = new List<byte[]>
        {
            dek,
            Encoding.ASCII.GetBytes(Convert.ToBase64String(dek).TrimEnd('=')),
            Encoding.ASCII.GetBytes(Convert.ToBase64String(dek).TrimEnd('=').Replace('+', '-').Replace('/', '_')),
            Encoding.ASCII.GetBytes("attack at dawn"),
        };
        var findings = KeysTestSupport.ScanDataDirectory(_server, patterns);
        Assert.True(findings.Count == 0, "plaintext at rest: " + string.Join(", ", findings.Select(f => $"{f.FilePath}@{f.OffsetBytes} (pattern {f.PatternIndex})")));
    }

    [Fact]
    public async Task Rotation_rotation_policy_backup_restore_import_and_purge_protection_work_through_the_sdk()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var output = (await _server.RunNodeAsync("keys-lifecycle.mjs", new Dictionary<string, string?> { ["IRONCLAD_PREFIX"] = "life" }, cancellationToken)).EnsureSuccess();

        Assert.Equal("""[["Notify",null,"P30D"]]""", output.GetProperty("defaultPolicy").GetProperty("actions").GetRawText());
        Assert.Equal(409, output.GetProperty("restoreConflict").GetProperty("statusCode").GetInt32());
        Assert.Equal(400, output.GetProperty("badBackup").GetProperty("statusCode").GetInt32());
        Assert.Equal(400, output.GetProperty("badPolicy").GetProperty("statusCode").GetInt32());
        Assert.Equal(403, output.GetProperty("purgeRefused").GetProperty("statusCode").GetInt32());

        // Neither the imported private key nor the DEK is anywhere in the data directory.
        var patterns = new List<byte[]>
        {
            Convert.FromBase64String(output.GetProperty("dek").GetString()!),
            FromBase64Url(output.GetProperty("importedD").GetString()!),
            FromBase64Url(output.GetProperty("importedP").GetString()!),
            Encoding.ASCII.GetBytes(output.GetProperty("importedD").GetString()![..40]),
        };
        var findings = KeysTestSupport.ScanDataDirectory(_server, patterns);
        Assert.True(findings.Count == 0, "plaintext at rest: " + string.Join(", ", findings.Select(f => $"{f.FilePath}@{f.OffsetBytes} (pattern {f.PatternIndex})")));
    }

    [Fact]
    public async Task Access_policies_and_roles_are_checked_on_every_call()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var user = ArmTestPrincipals.Create(_server);
        var output = (await _server.RunNodeAsync("keys-access.mjs", new Dictionary<string, string?>
        {
            ["IRONCLAD_PREFIX"] = "access",
            ["IRONCLAD_USER_APP"] = user.AppId.ToString(),
            ["IRONCLAD_USER_SECRET"] = user.Secret,
            ["IRONCLAD_USER_OID"] = user.ObjectId.ToString(),
        }, cancellationToken)).EnsureSuccess();

        var noRole = output.GetProperty("noRole").GetProperty("message").GetString()!;
        Assert.Contains("Caller is not authorized to perform action on resource", noRole, StringComparison.Ordinal);
        Assert.Contains("Microsoft.KeyVault/vaults/keys/create/action", noRole, StringComparison.Ordinal);
        Assert.Contains($"oid={user.ObjectId}", noRole, StringComparison.Ordinal);
        Assert.Contains("Microsoft.KeyVault/vaults/keys/read", output.GetProperty("owner").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains("keys/create/action", output.GetProperty("encryptionUserCreate").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains("keys/unwrap/action", output.GetProperty("roleRemoved").GetProperty("message").GetString(), StringComparison.Ordinal);

        var missing = output.GetProperty("missingPermission").GetProperty("message").GetString()!;
        Assert.StartsWith($"The user, group or application 'appid={user.AppId};oid={user.ObjectId};iss=", missing, StringComparison.Ordinal);
        Assert.Contains("does not have keys create permission on key vault 'access-policy;location=eastus'", missing, StringComparison.Ordinal);
        Assert.Contains("does not have keys unwrapkey permission", output.GetProperty("policyRemoved").GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    private static byte[] FromBase64Url(string text) =>
        Convert.FromBase64String(text.Replace('-', '+').Replace('_', '/').PadRight(text.Length + ((4 - (text.Length % 4)) % 4), '='));
}
