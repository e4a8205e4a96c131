// `ironclad keyvault` against a real server: a vault with purge protection through its whole
// life — create, show, access policy set and removed, purge protection that cannot be switched
// off, soft delete, listing the deleted vault, purge refused inside the retention, recovery.
namespace Ironclad.Cli.Tests;

public sealed class KeyVaultCliTests(KeyVaultCliServerC server) : IClassFixture<KeyVaultCliServerC>
{
    [Fact]
    public async Task A_purge_protected_vault_is_soft_deleted_cannot_be_purged_and_is_recovered()
    {
        var cli = server.Cli;
        var group = $"rg-{Guid.NewGuid():N}"[..20];
        var vault = $"kv{Guid.NewGuid():N}"[..20];
        (await cli.RunAsync("group", "create", "-n", group, "-l", "eastus")).Succeeded();

        var created = (await cli.RunAsync(
            "keyvault", "create", "-n", vault, "-g", group, "-l", "eastus", "--enable-purge-protection", "--retention-days", "7")).Succeeded().Json();
        var properties = created["properties"]!;
        Assert.True(properties["enablePurgeProtection"]!.GetValue<bool>());
        Assert.True(properties["enableSoftDelete"]!.GetValue<bool>());
        Assert.Equal(7, properties["softDeleteRetentionInDays"]!.GetValue<int>());
        Assert.Equal(server.TenantId, properties["tenantId"]!.GetValue<string>());
        var vaultUri = new Uri(properties["vaultUri"]!.GetValue<string>());
        Assert.Equal("127.0.0.1", vaultUri.Host);

        var objectId = Guid.NewGuid().ToString();
        var policies = (await cli.RunAsync("keyvault", "set-policy", "-n", vault, "-g", group, "--object-id", objectId, "--key-permissions", "get", "wrapKey", "unwrapKey"))
            .Succeeded().Json().AsArray();
        Assert.Contains(policies, p => p!["objectId"]!.GetValue<string>() == objectId);
        policies = (await cli.RunAsync("keyvault", "delete-policy", "-n", vault, "-g", group, "--object-id", objectId)).Succeeded().Json().AsArray();
        Assert.DoesNotContain(policies, p => p!["objectId"]!.GetValue<string>() == objectId);

        var refused = await cli.RunAsync("keyvault", "update", "-n", vault, "-g", group, "--enable-purge-protection", "false");
        Assert.True(refused.ExitCode == 1, refused.Describe());
        var shown = (await cli.RunAsync("keyvault", "show", "-n", vault, "-g", group)).Succeeded().Json();
        Assert.True(shown["properties"]!["enablePurgeProtection"]!.GetValue<bool>(), "purge protection must stay on");

        (await cli.RunAsync("keyvault", "delete", "-n", vault, "-g", group)).Succeeded();
        var listedAfterDelete = (await cli.RunAsync("keyvault", "list", "--resource-group", group)).Succeeded().Json().AsArray();
        Assert.DoesNotContain(listedAfterDelete, v => v!["name"]!.GetValue<string>() == vault);
        var deleted = (await cli.RunAsync("keyvault", "list-deleted")).Succeeded().Json().AsArray();
        Assert.Contains(deleted, v => v!["name"]!.GetValue<string>() == vault);

        var purge = await cli.RunAsync("keyvault", "purge", "-n", vault);
        Assert.True(purge.ExitCode == 1, purge.Describe());
        Assert.Contains(vault, (await cli.RunAsync("keyvault", "list-deleted")).Succeeded().StandardOutput, StringComparison.Ordinal);

        var recovered = (await cli.RunAsync("keyvault", "recover", "-n", vault)).Succeeded().Json();
        Assert.Equal(vaultUri.ToString(), recovered["properties"]!["vaultUri"]!.GetValue<string>());
        (await cli.RunAsync("keyvault", "show", "-n", vault, "-g", group)).Succeeded();
        var table = (await cli.RunAsync("keyvault", "list", "--resource-group", group, "-o", "table")).Succeeded().StandardOutput;
        Assert.Contains(vault, table, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_vault_reports_the_services_error_code()
    {
        var group = $"rg-{Guid.NewGuid():N}"[..20];
        (await server.Cli.RunAsync("group", "create", "-n", group, "-l", "eastus")).Succeeded();

        (await server.Cli.RunAsync("keyvault", "show", "-n", "kvdoesnotexist1", "-g", group)).FailedWith("ResourceNotFound", expectedExit: 3);
    }
}
