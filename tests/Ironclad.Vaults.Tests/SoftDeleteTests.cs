// Soft delete (always), deleted vaults (list, get), recovery by createMode "recover", purge with and
// without purge protection across the retention, and names held by deleted vaults — moving a fake
// clock through the retention period.
using System.Text.Json.Nodes;
using Ironclad.ResourceManager.KeyVault;
using static Ironclad.Vaults.Tests.CreateAndUpdateTests;

namespace Ironclad.Vaults.Tests;

public sealed class SoftDeleteTests
{
    private static string RecoverBody => $$$"""
        {"location":"eastus","properties":{"tenantId":"{{{VaultsHarness.Tenant}}}","sku":{"family":"A","name":"standard"},"createMode":"recover"} }
        """;

    [Fact]
    public void Delete_soft_deletes_and_the_deleted_vault_is_listed_and_readable()
    {
        using var h = new VaultsHarness();
        h.Create("rg1", "kv1", VaultsHarness.FullBody(retentionDays: 7));
        var deletedAt = h.Time.GetUtcNow();

        Assert.Equal(200, h.Send("DELETE", "rg1", "vaults/kv1").StatusCode);
        Assert.Equal((404, "ResourceNotFound"), Code(h.Fails("GET", "rg1", "vaults/kv1")));
        Assert.Equal(204, h.Send("DELETE", "rg1", "vaults/kv1").StatusCode);
        Assert.Equal(204, h.Send("DELETE", "rg1", "vaults/never-existed").StatusCode);

        var list = (JsonArray)h.Send("GET", null, "deletedVaults").Body!["value"]!;
        var deleted = Assert.Single(list)!;
        Assert.Equal($"/subscriptions/{VaultsHarness.Subscription}/providers/Microsoft.KeyVault/locations/eastus/deletedVaults/kv1", (string)deleted["id"]!);
        Assert.Equal("kv1", (string)deleted["name"]!);
        Assert.Equal("Microsoft.KeyVault/deletedVaults", (string)deleted["type"]!);
        var p = deleted["properties"]!;
        Assert.Equal($"/subscriptions/{VaultsHarness.Subscription}/resourceGroups/rg1/providers/Microsoft.KeyVault/vaults/kv1", (string)p["vaultId"]!);
        Assert.Equal("eastus", (string)p["location"]!);
        Assert.Equal(deletedAt, DateTimeOffset.Parse((string)p["deletionDate"]!, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(deletedAt.AddDays(7), DateTimeOffset.Parse((string)p["scheduledPurgeDate"]!, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("test", (string)p["tags"]!["env"]!);
        Assert.True((bool)p["purgeProtectionEnabled"]!);

        Assert.Equal(deleted.ToJsonString(), h.Send("GET", null, "locations/EastUS/deletedVaults/KV1").Body!.ToJsonString());
        Assert.Equal((404, "ResourceNotFound"), Code(h.Fails("GET", null, "locations/westus/deletedVaults/kv1")));
        Assert.Equal((404, "ResourceNotFound"), Code(h.Fails("GET", null, "locations/eastus/deletedVaults/kv1", subscription: VaultsHarness.OtherSubscription)));
        Assert.Empty((JsonArray)h.Send("GET", "rg1", "vaults").Body!["value"]!);
    }

    [Fact]
    public void A_deleted_name_cannot_be_reused_until_purged_in_any_subscription()
    {
        using var h = new VaultsHarness();
        h.Create("rg1", "kv1");
        h.Send("DELETE", "rg1", "vaults/kv1");
        var before = h.Snapshot();

        var e = h.Fails("PUT", "rg1", "vaults/kv1", VaultsHarness.MinimalBody());
        Assert.Equal((409, "ConflictError"), Code(e));
        Assert.Contains("deleted", e.Message, StringComparison.Ordinal);
        Assert.Equal((409, "ConflictError"), Code(h.Fails("PUT", "rg2", "vaults/KV1", VaultsHarness.MinimalBody(), VaultsHarness.OtherSubscription)));
        Assert.Equal(before, h.Snapshot());

        var check = h.Send("POST", null, "checkNameAvailability", """{"name":"kv1","type":"Microsoft.KeyVault/vaults"}""").Body!;
        Assert.False((bool)check["nameAvailable"]!);
        Assert.Equal("AlreadyExists", (string)check["reason"]!);

        Assert.Equal(200, h.Send("POST", null, "locations/eastus/deletedVaults/kv1/purge").StatusCode);
        Assert.Equal(201, h.Send("PUT", "rg2", "vaults/kv1", VaultsHarness.MinimalBody(), VaultsHarness.OtherSubscription).StatusCode);
    }

    [Fact]
    public void Recover_restores_the_vault_with_its_properties_and_its_uri()
    {
        using var h = new VaultsHarness();
        h.Create("rg1", "kv0");
        var original = h.Create("rg1", "kv1", VaultsHarness.FullBody());
        h.Send("DELETE", "rg1", "vaults/kv1");
        h.Time.Advance(TimeSpan.FromDays(3));
        h.Create("rg1", "kv2");                                  // must not take kv1's port

        var recovered = h.Send("PUT", "rg1", "vaults/kv1", RecoverBody);
        Assert.Equal(200, recovered.StatusCode);
        Assert.Equal(original["properties"]!.ToJsonString(), recovered.Body!["properties"]!.ToJsonString());
        Assert.Equal(original["tags"]!.ToJsonString(), recovered.Body!["tags"]!.ToJsonString());
        Assert.Equal("https://127.0.0.1:20001/", (string)recovered.Body!["properties"]!["vaultUri"]!);
        Assert.Equal("https://127.0.0.1:20002/", (string)h.Get("rg1", "kv2")["properties"]!["vaultUri"]!);
        Assert.Empty((JsonArray)h.Send("GET", null, "deletedVaults").Body!["value"]!);
        Assert.Equal(200, h.Send("PUT", "rg1", "vaults/kv1", RecoverBody).StatusCode);  // retried recover: no change
        Assert.Contains(h.Events, e => e.Kind == VaultEventKind.Recovered && e.Vault.Name == "kv1");
    }

    [Fact]
    public void Recover_of_a_name_with_no_deleted_vault_is_404()
    {
        using var h = new VaultsHarness();
        Assert.Equal((404, "ResourceNotFound"), Code(h.Fails("PUT", "rg1", "vaults/kv1", RecoverBody)));
        h.Create("rg1", "kv2");
        h.Send("DELETE", "rg1", "vaults/kv2");
        Assert.Equal((404, "ResourceNotFound"), Code(h.Fails("PUT", "rg1", "vaults/kv2", RecoverBody, VaultsHarness.OtherSubscription)));
    }

    [Fact]
    public void Without_purge_protection_a_deleted_vault_can_be_purged_at_once_freeing_name_and_port()
    {
        using var h = new VaultsHarness();
        h.Create("rg1", "kv1");
        h.Send("DELETE", "rg1", "vaults/kv1");

        Assert.Equal(200, h.Send("POST", null, "locations/eastus/deletedVaults/kv1/purge").StatusCode);
        Assert.Equal((404, "ResourceNotFound"), Code(h.Fails("GET", null, "locations/eastus/deletedVaults/kv1")));
        Assert.Equal((404, "ResourceNotFound"), Code(h.Fails("POST", null, "locations/eastus/deletedVaults/kv1/purge")));
        Assert.Null(h.Provider.FindByPort(20000));
        Assert.Equal("https://127.0.0.1:20000/", (string)h.Create("rg1", "other")["properties"]!["vaultUri"]!);
        Assert.Contains(h.Events, e => e.Kind == VaultEventKind.Purged && e.Vault.Name == "kv1");
    }

    [Fact]
    public void Under_purge_protection_purge_is_refused_until_the_retention_has_passed_then_the_vault_is_purged()
    {
        using var h = new VaultsHarness();
        h.Create("rg1", "kv1", VaultsHarness.FullBody(retentionDays: 7, purgeProtection: true));
        h.Send("DELETE", "rg1", "vaults/kv1");
        var scheduled = h.Time.GetUtcNow().AddDays(7);

        h.Time.Advance(TimeSpan.FromDays(7) - TimeSpan.FromSeconds(1));
        var e = h.Fails("POST", null, "locations/eastus/deletedVaults/kv1/purge");
        Assert.Equal((409, "Conflict"), Code(e));
        Assert.Contains(scheduled.UtcDateTime.ToString("O", System.Globalization.CultureInfo.InvariantCulture), e.Message, StringComparison.Ordinal);
        Assert.Contains("purge protection", e.Message, StringComparison.Ordinal);
        Assert.Equal(200, h.Send("GET", null, "locations/eastus/deletedVaults/kv1").StatusCode);

        // A restart in the middle changes nothing.
        h.Restart();
        Assert.Equal((409, "Conflict"), Code(h.Fails("POST", null, "locations/eastus/deletedVaults/kv1/purge")));

        h.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal((404, "ResourceNotFound"), Code(h.Fails("GET", null, "locations/eastus/deletedVaults/kv1")));
        Assert.Null(h.Store.Find("kv1"));
        Assert.Equal(201, h.Send("PUT", "rg1", "vaults/kv1", VaultsHarness.MinimalBody()).StatusCode);
    }

    [Fact]
    public void Under_purge_protection_recover_is_still_allowed()
    {
        using var h = new VaultsHarness();
        h.Create("rg1", "kv1", VaultsHarness.FullBody(purgeProtection: true));
        h.Send("DELETE", "rg1", "vaults/kv1");
        Assert.Equal(200, h.Send("PUT", "rg1", "vaults/kv1", RecoverBody).StatusCode);
        Assert.True((bool)h.Get("rg1", "kv1")["properties"]!["enablePurgeProtection"]!);
    }

    [Fact]
    public void Without_purge_protection_the_vault_is_purged_automatically_after_the_retention()
    {
        using var h = new VaultsHarness();
        h.Create("rg1", "kv1", VaultsHarness.FullBody(retentionDays: 10, purgeProtection: false));
        h.Send("DELETE", "rg1", "vaults/kv1");
        h.Time.Advance(TimeSpan.FromDays(10));
        Assert.Equal(1, h.Provider.PurgeExpired());
        Assert.Null(h.Provider.FindByName("kv1"));
    }

    [Fact]
    public void Deleting_a_resource_group_soft_deletes_its_vaults_only()
    {
        using var h = new VaultsHarness();
        h.Create("rg1", "kv1");
        h.Create("RG1", "kv2");
        h.Create("rg2", "kv3");
        h.Provider.DeleteResourceGroupContents(VaultsHarness.Subscription, "Rg1", VaultsHarness.Caller);

        var deleted = ((JsonArray)h.Send("GET", null, "deletedVaults").Body!["value"]!).Select(v => (string)v!["name"]!);
        Assert.Equal(["kv1", "kv2"], deleted);
        Assert.Equal(200, h.Send("GET", "rg2", "vaults/kv3").StatusCode);
        Assert.Equal(2, h.Events.Count(e => e.Kind == VaultEventKind.Deleted));
    }
}
