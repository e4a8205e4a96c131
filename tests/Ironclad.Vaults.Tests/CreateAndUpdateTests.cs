// PUT (create 201 / full replace 200), PATCH (merge) and GET of vaults: the response envelope, every
// property echoed, defaults, read-only fields ignored.
using System.Text.Json.Nodes;
using Ironclad.ResourceManager.KeyVault;

namespace Ironclad.Vaults.Tests;

public sealed class CreateAndUpdateTests
{
    [Fact]
    public void Create_returns_201_with_every_property_and_the_derived_ones()
    {
        using var h = new VaultsHarness();
        var vault = h.Create("rg1", "Vault-One", VaultsHarness.FullBody());

        Assert.Equal($"/subscriptions/{VaultsHarness.Subscription}/resourceGroups/rg1/providers/Microsoft.KeyVault/vaults/Vault-One", (string)vault["id"]!);
        Assert.Equal("Vault-One", (string)vault["name"]!);
        Assert.Equal("Microsoft.KeyVault/vaults", (string)vault["type"]!);
        Assert.Equal("eastus", (string)vault["location"]!);
        Assert.Equal("test", (string)vault["tags"]!["env"]!);
        var p = vault["properties"]!;
        Assert.Equal(VaultsHarness.Tenant.ToString(), (string)p["tenantId"]!);
        Assert.Equal("A", (string)p["sku"]!["family"]!);
        Assert.Equal("premium", (string)p["sku"]!["name"]!);
        Assert.True((bool)p["enabledForDeployment"]!);
        Assert.True((bool)p["enabledForDiskEncryption"]!);
        Assert.True((bool)p["enabledForTemplateDeployment"]!);
        Assert.True((bool)p["enableSoftDelete"]!);
        Assert.Equal(30, (int)p["softDeleteRetentionInDays"]!);
        Assert.True((bool)p["enablePurgeProtection"]!);
        Assert.False((bool)p["enableRbacAuthorization"]!);
        Assert.Equal("Enabled", (string)p["publicNetworkAccess"]!);
        Assert.Equal("AzureServices", (string)p["networkAcls"]!["bypass"]!);
        Assert.Equal("https://127.0.0.1:20000/", (string)p["vaultUri"]!);
        Assert.Equal("Succeeded", (string)p["provisioningState"]!);
        Assert.True(((JsonObject)p).ContainsKey("hsmPoolResourceId"));
        Assert.Null(p["hsmPoolResourceId"]);
        Assert.Equal(["get", "wrapKey", "unwrapKey"], ((JsonArray)p["accessPolicies"]![0]!["permissions"]!["keys"]!).Select(k => (string)k!));

        Assert.Equal(vault.ToJsonString(), h.Get("RG1", "vault-one").ToJsonString());
    }

    [Fact]
    public void Defaults_are_soft_delete_on_90_days_no_purge_protection_no_rbac()
    {
        using var h = new VaultsHarness();
        var p = h.Create("rg1", "kv1")["properties"]!;
        Assert.True((bool)p["enableSoftDelete"]!);
        Assert.Equal(90, (int)p["softDeleteRetentionInDays"]!);
        Assert.False((bool)p["enablePurgeProtection"]!);
        Assert.False((bool)p["enableRbacAuthorization"]!);
        Assert.False((bool)p["enabledForDiskEncryption"]!);
        Assert.Empty((JsonArray)p["accessPolicies"]!);
        Assert.Equal("Enabled", (string)p["publicNetworkAccess"]!);
    }

    [Fact]
    public void Put_over_an_existing_vault_replaces_it_and_returns_200()
    {
        using var h = new VaultsHarness();
        h.Create("rg1", "kv1", VaultsHarness.FullBody());
        var replaced = h.Send("PUT", "rg1", "vaults/kv1", VaultsHarness.MinimalBody());

        Assert.Equal(200, replaced.StatusCode);
        var p = replaced.Body!["properties"]!;
        Assert.False((bool)p["enabledForDiskEncryption"]!);                   // omitted → default
        Assert.Empty((JsonArray)p["accessPolicies"]!);
        Assert.Equal("standard", (string)p["sku"]!["name"]!);
        Assert.Empty((JsonObject)replaced.Body!["tags"]!);
        Assert.False(((JsonObject)p).ContainsKey("networkAcls"));
        Assert.True((bool)p["enablePurgeProtection"]!);                        // cannot be omitted into false
        Assert.Equal(30, (int)p["softDeleteRetentionInDays"]!);                // fixed at creation
        Assert.Equal("https://127.0.0.1:20000/", (string)p["vaultUri"]!);
    }

    [Fact]
    public void Patch_merges_only_the_supplied_fields()
    {
        using var h = new VaultsHarness();
        h.Create("rg1", "kv1", VaultsHarness.FullBody());
        var before = h.Get("rg1", "kv1");
        var patched = h.Send("PATCH", "rg1", "vaults/kv1", """{"tags":{"team":"blue"},"properties":{"enableRbacAuthorization":true,"sku":{"family":"A","name":"standard"}}}""");

        Assert.Equal(200, patched.StatusCode);
        var p = patched.Body!["properties"]!;
        Assert.True((bool)p["enableRbacAuthorization"]!);
        Assert.Equal("standard", (string)p["sku"]!["name"]!);
        Assert.Equal("blue", (string)patched.Body!["tags"]!["team"]!);
        Assert.Null(patched.Body!["tags"]!["env"]);                              // tags are replaced as a whole
        foreach (var kept in (string[])["tenantId", "accessPolicies", "enabledForDiskEncryption", "networkAcls", "softDeleteRetentionInDays", "enablePurgeProtection", "vaultUri"])
        {
            Assert.Equal(before["properties"]![kept]!.ToJsonString(), p[kept]!.ToJsonString());
        }
    }

    [Fact]
    public void Patch_without_tags_keeps_them()
    {
        using var h = new VaultsHarness();
        h.Create("rg1", "kv1", VaultsHarness.FullBody());
        var patched = h.Send("PATCH", "rg1", "vaults/kv1", """{"properties":{"enabledForDeployment":false}}""");
        Assert.Equal("test", (string)patched.Body!["tags"]!["env"]!);
        Assert.False((bool)patched.Body!["properties"]!["enabledForDeployment"]!);
    }

    [Fact]
    public void Read_only_fields_sent_back_by_a_client_are_ignored()
    {
        using var h = new VaultsHarness();
        var vault = h.Create("rg1", "kv1", VaultsHarness.FullBody());
        vault["properties"]!["vaultUri"] = "https://evil.example/";
        vault["properties"]!["provisioningState"] = "Failed";
        vault["id"] = "/subscriptions/x/other";
        var result = h.Send("PUT", "rg1", "vaults/kv1", vault.ToJsonString());

        Assert.Equal(200, result.StatusCode);
        Assert.Equal("https://127.0.0.1:20000/", (string)result.Body!["properties"]!["vaultUri"]!);
        Assert.Equal("Succeeded", (string)result.Body!["properties"]!["provisioningState"]!);
        Assert.Equal($"/subscriptions/{VaultsHarness.Subscription}/resourceGroups/rg1/providers/Microsoft.KeyVault/vaults/kv1", (string)result.Body!["id"]!);
    }

    [Fact]
    public void Property_names_and_enum_values_are_matched_case_insensitively_and_normalised()
    {
        using var h = new VaultsHarness();
        var vault = h.Create("rg1", "kv1", $$$"""
            {"Location":"East US","properties":{"TENANTID":"{{{VaultsHarness.Tenant.ToString().ToUpperInvariant()}}}","Sku":{"Family":"a","Name":"Premium"},"publicNetworkAccess":"disabled"}}
            """);
        Assert.Equal("eastus", (string)vault["location"]!);
        Assert.Equal(VaultsHarness.Tenant.ToString(), (string)vault["properties"]!["tenantId"]!);
        Assert.Equal("premium", (string)vault["properties"]!["sku"]!["name"]!);
        Assert.Equal("A", (string)vault["properties"]!["sku"]!["family"]!);
        Assert.Equal("Disabled", (string)vault["properties"]!["publicNetworkAccess"]!);
    }

    [Fact]
    public void Get_of_a_missing_vault_or_one_in_another_group_is_404()
    {
        using var h = new VaultsHarness();
        h.Create("rg1", "kv1");
        Assert.Equal((404, "ResourceNotFound"), Code(h.Fails("GET", "rg1", "vaults/kv2")));
        Assert.Equal((404, "ResourceNotFound"), Code(h.Fails("GET", "rg2", "vaults/kv1")));
        Assert.Equal((404, "ResourceNotFound"), Code(h.Fails("GET", "rg1", "vaults/kv1", subscription: VaultsHarness.OtherSubscription)));
        Assert.Equal((404, "ResourceNotFound"), Code(h.Fails("PATCH", "rg2", "vaults/kv1", "{}")));
    }

    [Fact]
    public void Put_in_another_location_is_refused()
    {
        using var h = new VaultsHarness();
        h.Create("rg1", "kv1");
        var before = h.Snapshot();
        Assert.Equal((400, "InvalidResourceLocation"), Code(h.Fails("PUT", "rg1", "vaults/kv1", VaultsHarness.MinimalBody("westus"))));
        Assert.Equal(before, h.Snapshot());
    }

    [Fact]
    public void Events_report_create_update_and_access_policy_changes()
    {
        using var h = new VaultsHarness();
        h.Create("rg1", "kv1");
        h.Send("PATCH", "rg1", "vaults/kv1", """{"tags":{"a":"b"}}""");
        h.Send("PUT", "rg1", "vaults/kv1/accessPolicies/add", $$$"""{"properties":{"accessPolicies":[{"tenantId":"{{{VaultsHarness.Tenant}}}","objectId":"{{{Guid.NewGuid()}}}","permissions":{"keys":["get"]}}]}}""");
        Assert.Equal([VaultEventKind.Created, VaultEventKind.Updated, VaultEventKind.AccessPolicyChanged], h.Events.Select(e => e.Kind));
        Assert.All(h.Events, e => Assert.Equal(20000, e.Vault.Port));
    }

    internal static (int, string) Code(Ironclad.ResourceManager.Providers.ArmException e) => (e.StatusCode, e.Code);
}
