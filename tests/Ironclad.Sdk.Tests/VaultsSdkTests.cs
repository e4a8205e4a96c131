// @azure/arm-keyvault 5.0.0 (the real npm package) against the real server: vaults with every
// property, PATCH, lists (by group, by subscription, the generic /resources list, paging), access
// policies, soft delete, deleted vaults, recover, purge — refused under purge protection — and a
// server restart in the middle that loses nothing (same vault, same vaultUri, same policies).
namespace Ironclad.Sdk.Tests;

public sealed class VaultsSdkTests : IAsyncLifetime
{
    private readonly SdkServer _server = new() { ExtraArguments = ["--vault-ports", "21100-21109"] };

    public ValueTask InitializeAsync() => _server.InitializeAsync();

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task Arm_keyvault_drives_a_vault_through_its_life_and_a_restart_loses_nothing()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var environment = new Dictionary<string, string?> { ["IRONCLAD_RG"] = "rg-vaults", ["IRONCLAD_PREFIX"] = "sdkkv", ["IRONCLAD_PHASE"] = "before" };

        var before = (await _server.RunNodeAsync("vaults-lifecycle.mjs", environment, cancellationToken)).EnsureSuccess();
        var vaultUri = before.GetProperty("vaultUri").GetString()!;
        Assert.Matches(@"^https://127\.0\.0\.1:211(0\d)/$", vaultUri);
        Assert.Equal(400, before.GetProperty("purgeOff").GetProperty("statusCode").GetInt32());
        Assert.Contains("enablePurgeProtection", before.GetProperty("purgeOff").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains("enableSoftDelete", before.GetProperty("softOff").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal("ConflictError", before.GetProperty("reuse").GetProperty("code").GetString());
        var refused = before.GetProperty("refused");
        Assert.Equal("Conflict", refused.GetProperty("code").GetString());
        Assert.Contains("scheduled purge date", refused.GetProperty("message").GetString(), StringComparison.Ordinal);

        await _server.RestartAsync(cancellationToken);

        environment["IRONCLAD_PHASE"] = "after";
        var after = (await _server.RunNodeAsync("vaults-lifecycle.mjs", environment, cancellationToken)).EnsureSuccess();
        Assert.Equal(vaultUri, after.GetProperty("vaultUri").GetString());
        Assert.Equal("Conflict", after.GetProperty("refused").GetProperty("code").GetString());
    }

    [Fact]
    public async Task Arm_keyvault_sees_each_rule_as_the_service_error_and_group_deletion_soft_deletes()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var output = (await _server.RunNodeAsync("vaults-rules.mjs", new Dictionary<string, string?> { ["IRONCLAD_PREFIX"] = "rules" }, cancellationToken)).EnsureSuccess();
        var errors = output.GetProperty("errors");
        (int, string) Error(string name) => (errors.GetProperty(name).GetProperty("statusCode").GetInt32(), errors.GetProperty(name).GetProperty("code").GetString()!);

        Assert.Equal((400, "VaultNameNotValid"), Error("invalidName"));
        Assert.Equal((400, "BadRequest"), Error("missingTenant"));
        Assert.Contains("tenantId", errors.GetProperty("missingTenant").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal((400, "BadRequest"), Error("retention"));
        Assert.Equal((400, "BadRequest"), Error("softDeleteOff"));
        Assert.Equal((400, "BadRequest"), Error("retentionChange"));
        Assert.Equal((409, "VaultAlreadyExists"), Error("nameTaken"));
        Assert.Equal((400, "BadRequest"), Error("badPermission"));
        Assert.Equal((404, "ResourceNotFound"), Error("missingVault"));
        Assert.Equal("AccountNameInvalid", output.GetProperty("invalidReason").GetString());
        Assert.EndsWith("/resourceGroups/rules-a/providers/Microsoft.KeyVault/vaults/rules-vault", output.GetProperty("deletedVaultId").GetString(), StringComparison.Ordinal);
    }
}
