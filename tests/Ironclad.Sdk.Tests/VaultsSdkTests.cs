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
}
