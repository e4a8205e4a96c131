// `ironclad keyvault key ...` against a real server, through the vault's own HTTPS port: create, show,
// list, wrap/unwrap round trip, disabling refuses unwrap with the cloud's error, soft delete and its
// recovery and purge, backup and restore, rotation and the rotation policy, import of a PEM key.
// The tests share one vault (KeyVaultCliServer.VaultAsync) and use key names of their own.
using System.Security.Cryptography;
using System.Text;
using Ironclad.Testing;

namespace Ironclad.Cli.Tests;

public sealed class KeyVaultKeyCliTests(KeyVaultCliServerA server) : IClassFixture<KeyVaultCliServerA>
{
    [Fact]
    public async Task A_key_is_created_shown_listed_and_wraps_and_unwraps_until_it_is_disabled()
    {
        var vault = await server.VaultAsync();
        var cli = server.Cli;

        var created = (await cli.RunAsync("keyvault", "key", "create", "--vault-name", vault, "-n", "disk-key", "--kty", "RSA", "--size", "2048", "--tags", "env=test"))
            .Succeeded().Json();
        var kid = created["key"]!["kid"]!.GetValue<string>();
        Assert.Matches("^https://127\\.0\\.0\\.1:\\d+/keys/disk-key/[0-9a-f]{32}$", kid);
        Assert.Equal("RSA", created["key"]!["kty"]!.GetValue<string>());
        Assert.Null(created["key"]!["d"]);
        Assert.Equal("test", created["tags"]!["env"]!.GetValue<string>());

        var shown = (await cli.RunAsync("keyvault", "key", "show", "--vault-name", vault, "-n", "disk-key")).Succeeded().Json();
        Assert.Equal(kid, shown["key"]!["kid"]!.GetValue<string>());
        var listed = (await cli.RunAsync("keyvault", "key", "list", "--vault-name", vault)).Succeeded().Json().AsArray();
        Assert.Contains(kid[..kid.LastIndexOf('/')], listed.Select(k => k!["kid"]!.GetValue<string>()));

        var dek = RandomNumberGenerator.GetBytes(64);
        var wrapped = (await cli.RunAsync("keyvault", "key", "wrap", "--vault-name", vault, "-n", "disk-key", "--algorithm", "RSA-OAEP-256", "--value", Convert.ToBase64String(dek)))
            .Succeeded().Json();
        Assert.Equal(kid, wrapped["kid"]!.GetValue<string>());
        var wrappedValue = wrapped["result"]!.GetValue<string>();
        Assert.Equal(256, Convert.FromBase64String(wrappedValue).Length);
        var unwrapped = (await cli.RunAsync("keyvault", "key", "unwrap", "--vault-name", vault, "-n", "disk-key", "--version", kid[(kid.LastIndexOf('/') + 1)..],
            "--algorithm", "RSA-OAEP-256", "--value", wrappedValue)).Succeeded().Json();
        Assert.Equal(Convert.ToBase64String(dek), unwrapped["result"]!.GetValue<string>());

        var disabled = (await cli.RunAsync("keyvault", "key", "set-attributes", "--vault-name", vault, "-n", "disk-key", "--enabled", "false")).Succeeded().Json();
        Assert.False(disabled["attributes"]!["enabled"]!.GetValue<bool>());
        var refused = (await cli.RunAsync("keyvault", "key", "unwrap", "--vault-name", vault, "-n", "disk-key", "--value", wrappedValue)).FailedWith("Forbidden");
        Assert.Contains("Operation unwrapKey is not allowed on a disabled key.", refused.StandardError, StringComparison.Ordinal);
        Assert.Contains("KeyDisabled", refused.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain(Convert.ToBase64String(dek), refused.StandardOutput + refused.StandardError, StringComparison.Ordinal);

        // The data key never reached the disk: not in the audit log, not in the key store.
        var findings = PlaintextScanner.Scan(Path.Combine(server.DataDirectory, "keyvault"),
            [dek, Encoding.ASCII.GetBytes(Convert.ToBase64String(dek)), Encoding.ASCII.GetBytes(Convert.ToBase64String(dek).TrimEnd('=').Replace('+', '-').Replace('/', '_'))]);
        Assert.Empty(findings);
    }

    [Fact]
    public async Task A_deleted_key_is_listed_recovered_deleted_again_and_purged()
    {
        var vault = await server.VaultAsync();
        var cli = server.Cli;
        (await cli.RunAsync("keyvault", "key", "create", "--vault-name", vault, "-n", "k1")).Succeeded();

        var deleted = (await cli.RunAsync("keyvault", "key", "delete", "--vault-name", vault, "-n", "k1")).Succeeded().Json();
        Assert.EndsWith("/deletedkeys/k1", deleted["recoveryId"]!.GetValue<string>(), StringComparison.Ordinal);
        (await cli.RunAsync("keyvault", "key", "show", "--vault-name", vault, "-n", "k1")).FailedWith("KeyNotFound", expectedExit: 3);
        var listed = (await cli.RunAsync("keyvault", "key", "list-deleted", "--vault-name", vault)).Succeeded().Json().AsArray();
        Assert.Contains(deleted["recoveryId"]!.GetValue<string>(), listed.Select(k => k!["recoveryId"]!.GetValue<string>()));

        (await cli.RunAsync("keyvault", "key", "recover", "--vault-name", vault, "-n", "k1")).Succeeded();
        (await cli.RunAsync("keyvault", "key", "show", "--vault-name", vault, "-n", "k1")).Succeeded();

        (await cli.RunAsync("keyvault", "key", "delete", "--vault-name", vault, "-n", "k1")).Succeeded();
        var purged = (await cli.RunAsync("keyvault", "key", "purge", "--vault-name", vault, "-n", "k1")).Succeeded();
        Assert.Equal("", purged.StandardOutput.Trim());
        (await cli.RunAsync("keyvault", "key", "show-deleted", "--vault-name", vault, "-n", "k1")).FailedWith("KeyNotFound", expectedExit: 3);
        Assert.DoesNotContain(deleted["recoveryId"]!.GetValue<string>(),
            (await cli.RunAsync("keyvault", "key", "list-deleted", "--vault-name", vault)).Succeeded().Json().AsArray().Select(k => k!["recoveryId"]!.GetValue<string>()));
    }

    [Fact]
    public async Task A_backup_restores_the_key_after_it_was_purged()
    {
        var vault = await server.VaultAsync();
        var cli = server.Cli;
        var created = (await cli.RunAsync("keyvault", "key", "create", "--vault-name", vault, "-n", "kb")).Succeeded().Json();
        var file = Path.Combine(server.Scratch, $"kb-{Guid.NewGuid():N}.backup");

        (await cli.RunAsync("keyvault", "key", "backup", "--vault-name", vault, "-n", "kb", "--file", file)).Succeeded();
        Assert.True(new FileInfo(file).Length > 0);
        (await cli.RunAsync("keyvault", "key", "backup", "--vault-name", vault, "-n", "kb", "--file", file)).FailedWith("FileExists");
        (await cli.RunAsync("keyvault", "key", "delete", "--vault-name", vault, "-n", "kb")).Succeeded();
        (await cli.RunAsync("keyvault", "key", "purge", "--vault-name", vault, "-n", "kb")).Succeeded();

        var restored = (await cli.RunAsync("keyvault", "key", "restore", "--vault-name", vault, "--file", file)).Succeeded().Json();
        Assert.Equal(created["key"]!["kid"]!.GetValue<string>(), restored["key"]!["kid"]!.GetValue<string>());
        Assert.Equal(created["key"]!["n"]!.GetValue<string>(), restored["key"]!["n"]!.GetValue<string>());
        (await cli.RunAsync("keyvault", "key", "restore", "--vault-name", vault, "--file", file)).FailedWith("Conflict");
    }

    [Fact]
    public async Task Rotate_adds_a_version_and_the_rotation_policy_is_set_from_a_file_and_shown()
    {
        var vault = await server.VaultAsync();
        var cli = server.Cli;
        var first = (await cli.RunAsync("keyvault", "key", "create", "--vault-name", vault, "-n", "kr")).Succeeded().Json();
        var rotated = (await cli.RunAsync("keyvault", "key", "rotate", "--vault-name", vault, "-n", "kr")).Succeeded().Json();
        Assert.NotEqual(first["key"]!["kid"]!.GetValue<string>(), rotated["key"]!["kid"]!.GetValue<string>());
        var versions = (await cli.RunAsync("keyvault", "key", "list-versions", "--vault-name", vault, "-n", "kr")).Succeeded().Json().AsArray();
        Assert.Equal(2, versions.Count);

        var policyFile = Path.Combine(server.Scratch, $"policy-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(policyFile, """
            {"lifetimeActions":[{"trigger":{"timeBeforeExpiry":"P30D"},"action":{"type":"Rotate"}}],"attributes":{"expiryTime":"P90D"}}
            """, TestContext.Current.CancellationToken);
        var updated = (await cli.RunAsync("keyvault", "key", "rotation-policy", "update", "--vault-name", vault, "-n", "kr", "--value", "@" + policyFile))
            .Succeeded().Json();
        Assert.Equal("P90D", updated["attributes"]!["expiryTime"]!.GetValue<string>());
        var shown = (await cli.RunAsync("keyvault", "key", "rotation-policy", "show", "--vault-name", vault, "-n", "kr")).Succeeded().Json();
        var actions = shown["lifetimeActions"]!.AsArray();
        Assert.Contains(actions, a => a!["action"]!["type"]!.GetValue<string>().Equals("Rotate", StringComparison.OrdinalIgnoreCase)
            && a["trigger"]!["timeBeforeExpiry"]!.GetValue<string>() == "P30D");

        (await cli.RunAsync("keyvault", "key", "rotation-policy", "update", "--vault-name", vault, "-n", "kr", "--value", "{not json")).FailedWith("InvalidArgument");
    }

    [Fact]
    public async Task An_imported_pem_key_unwraps_what_its_public_key_wrapped()
    {
        var vault = await server.VaultAsync();
        using var rsa = RSA.Create(2048);
        var pemFile = Path.Combine(server.Scratch, $"key-{Guid.NewGuid():N}.pem");
        await File.WriteAllTextAsync(pemFile, rsa.ExportPkcs8PrivateKeyPem(), TestContext.Current.CancellationToken);

        var imported = (await server.Cli.RunAsync("keyvault", "key", "import", "--vault-name", vault, "-n", "ki", "--pem-file", pemFile)).Succeeded();
        var modulus = rsa.ExportParameters(false).Modulus!;
        Assert.Equal(Convert.ToBase64String(modulus).TrimEnd('=').Replace('+', '-').Replace('/', '_'), imported.Json()["key"]!["n"]!.GetValue<string>());
        Assert.DoesNotContain("\"d\"", imported.StandardOutput, StringComparison.Ordinal);

        var secret = RandomNumberGenerator.GetBytes(32);
        var wrapped = rsa.Encrypt(secret, RSAEncryptionPadding.OaepSHA1);
        var unwrapped = (await server.Cli.RunAsync("keyvault", "key", "unwrap", "--vault-name", vault, "-n", "ki", "--algorithm", "RSA-OAEP", "--value", Convert.ToBase64String(wrapped)))
            .Succeeded().Json();
        Assert.Equal(Convert.ToBase64String(secret), unwrapped["result"]!.GetValue<string>());

        (await server.Cli.RunAsync("keyvault", "key", "import", "--vault-name", vault, "-n", "ki2")).FailedWith("InvalidArgument");
    }

    [Fact]
    public async Task A_missing_vault_or_key_exits_3()
    {
        var vault = await server.VaultAsync();
        (await server.Cli.RunAsync("keyvault", "key", "show", "--vault-name", "kvnosuchvault01", "-n", "k")).FailedWith("VaultNotFound", expectedExit: 3);
        (await server.Cli.RunAsync("keyvault", "key", "show", "--vault-name", vault, "-n", "nosuchkey")).FailedWith("KeyNotFound", expectedExit: 3);
    }
}
