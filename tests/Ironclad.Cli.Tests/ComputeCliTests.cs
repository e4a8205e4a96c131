// `ironclad disk-encryption-set | disk | snapshot | image` against a real server, driving the real
// executable: a purge-protected vault and RSA key, a user-assigned identity granted get/wrapKey/
// unwrapKey by access policy, a set over it, customer-key and platform-key disks, a snapshot, an
// image, SAS grant/revoke, an encryption change by PATCH, table output, and the set's deletion refused
// while in use.
namespace Ironclad.Cli.Tests;

/// <summary>Vault ports 25035-25049 (the keys helper's range): one customer vault, one platform vault.</summary>
public sealed class ComputeCliServer() : KeyVaultCliServer("25035-25049");

public sealed class ComputeCliTests(ComputeCliServer server) : IClassFixture<ComputeCliServer>
{
    [Fact]
    public async Task Sets_disks_snapshots_and_images_through_the_CLI()
    {
        var cli = server.Cli;
        var group = $"rg-{Guid.NewGuid():N}"[..20];
        var vault = $"kv{Guid.NewGuid():N}"[..20];
        (await cli.RunAsync("group", "create", "-n", group, "-l", "eastus")).Succeeded();
        (await cli.RunAsync("keyvault", "create", "-n", vault, "-g", group, "-l", "eastus", "--enable-purge-protection", "--retention-days", "7")).Succeeded();
        (await cli.RunAsync(["keyvault", "set-policy", "-n", vault, "-g", group, "--object-id", await server.AdminObjectIdAsync(), "--key-permissions",
            .. KeyVaultCliServer.AllKeyPermissions])).Succeeded();
        var kid = (await cli.RunAsync("keyvault", "key", "create", "--vault-name", vault, "-n", "disk-key", "--kty", "RSA", "--size", "2048"))
            .Succeeded().Json()["key"]!["kid"]!.GetValue<string>();

        var identity = (await cli.RunAsync("identity", "create", "-n", "des-identity", "-g", group, "-l", "eastus")).Succeeded().Json();
        var principalId = identity["properties"]!["principalId"]!.GetValue<string>();
        (await cli.RunAsync("keyvault", "set-policy", "-n", vault, "-g", group, "--object-id", principalId, "--key-permissions", "get", "wrapKey", "unwrapKey"))
            .Succeeded();

        var set = (await cli.RunAsync("disk-encryption-set", "create", "-n", "des1", "-g", group, "-l", "eastus", "--key-url", kid,
            "--source-vault", vault, "--mi-user-assigned", "des-identity")).Succeeded().Json();
        Assert.Equal("EncryptionAtRestWithCustomerKey", set["properties"]!["encryptionType"]!.GetValue<string>());
        Assert.Equal(kid, set["properties"]!["activeKey"]!["keyUrl"]!.GetValue<string>());
        Assert.Contains("des1", (await cli.RunAsync("disk-encryption-set", "list", "-o", "table")).Succeeded().StandardOutput, StringComparison.Ordinal);

        var customerDisk = (await cli.RunAsync("disk", "create", "-n", "d1", "-g", group, "-l", "eastus", "--size-gb", "1", "--disk-encryption-set", "des1"))
            .Succeeded().Json();
        Assert.Equal("EncryptionAtRestWithCustomerKey", customerDisk["properties"]!["encryption"]!["type"]!.GetValue<string>());
        var platformDisk = (await cli.RunAsync("disk", "create", "-n", "d2", "-g", group, "-l", "eastus", "--size-gb", "1")).Succeeded().Json();
        Assert.Equal("EncryptionAtRestWithPlatformKey", platformDisk["properties"]!["encryption"]!["type"]!.GetValue<string>());

        var snapshot = (await cli.RunAsync("snapshot", "create", "-n", "s1", "-g", group, "-l", "eastus", "--source", "d1")).Succeeded().Json();
        Assert.Equal("EncryptionAtRestWithCustomerKey", snapshot["properties"]!["encryption"]!["type"]!.GetValue<string>());
        (await cli.RunAsync("image", "create", "-n", "i1", "-g", group, "-l", "eastus", "--source", "d1")).Succeeded();
        Assert.Contains("i1", (await cli.RunAsync("image", "list", "-g", group, "-o", "table")).Succeeded().StandardOutput, StringComparison.Ordinal);

        var associated = (await cli.RunAsync("disk-encryption-set", "list-associated-resources", "-n", "des1", "-g", group)).Succeeded().Json().AsArray();
        Assert.Contains(associated, r => r!["id"]!.GetValue<string>().EndsWith("/disks/d1", StringComparison.OrdinalIgnoreCase));

        var sas = (await cli.RunAsync("disk", "grant-access", "-n", "d2", "-g", group, "--duration-in-seconds", "600")).Succeeded().Json()["accessSAS"]!.GetValue<string>();
        Assert.StartsWith("https://127.0.0.1:", sas, StringComparison.Ordinal);
        Assert.Equal("ActiveSAS", (await cli.RunAsync("disk", "show", "-n", "d2", "-g", group)).Succeeded().Json()["properties"]!["diskState"]!.GetValue<string>());
        (await cli.RunAsync("disk", "revoke-access", "-n", "d2", "-g", group)).Succeeded();

        var moved = (await cli.RunAsync("disk", "update", "-n", "d2", "-g", group, "--disk-encryption-set", "des1")).Succeeded().Json();
        Assert.Equal("EncryptionAtRestWithCustomerKey", moved["properties"]!["encryption"]!["type"]!.GetValue<string>());
        var table = (await cli.RunAsync("disk", "list", "-g", group, "-o", "table")).Succeeded().StandardOutput;
        Assert.Contains("d1", table, StringComparison.Ordinal);
        Assert.Contains("d2", table, StringComparison.Ordinal);

        var refused = await cli.RunAsync("disk-encryption-set", "delete", "-n", "des1", "-g", group);
        Assert.True(refused.ExitCode == 1, refused.Describe());
        (await cli.RunAsync("image", "delete", "-n", "i1", "-g", group)).Succeeded();
        (await cli.RunAsync("snapshot", "delete", "-n", "s1", "-g", group)).Succeeded();
        (await cli.RunAsync("disk", "delete", "-n", "d1", "-g", group)).Succeeded();
        (await cli.RunAsync("disk", "delete", "-n", "d2", "-g", group)).Succeeded();
        (await cli.RunAsync("disk-encryption-set", "delete", "-n", "des1", "-g", group)).Succeeded();
        var missing = await cli.RunAsync("disk-encryption-set", "show", "-n", "des1", "-g", group);
        Assert.NotEqual(0, missing.ExitCode);
    }
}
