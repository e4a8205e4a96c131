// The vault rules: required properties, names, soft delete always on, retention 7–90 and fixed,
// purge protection irreversible, enum validation — each refusal with the cloud's status and code, and
// with nothing changed in the store.
using static Ironclad.Vaults.Tests.CreateAndUpdateTests;

namespace Ironclad.Vaults.Tests;

public sealed class RulesTests
{
    [Theory]
    [InlineData("""{"location":"eastus","properties":{"sku":{"family":"A","name":"standard"}}}""", "tenantId")]
    [InlineData("""{"location":"eastus","properties":{"tenantId":"00000000-0000-0000-0000-0000000000aa"}}""", "sku")]
    [InlineData("""{"location":"eastus","properties":{"tenantId":"00000000-0000-0000-0000-0000000000aa","sku":{"family":"A"}}}""", "sku.name")]
    [InlineData("""{"location":"eastus"}""", "properties")]
    public void A_missing_required_property_is_named_in_a_400(string body, string property)
    {
        using var h = new VaultsHarness();
        var e = h.Fails("PUT", "rg1", "vaults/kv1", body);
        Assert.Equal((400, "BadRequest"), Code(e));
        Assert.Contains(property, e.Message, StringComparison.Ordinal);
        Assert.Empty(h.Snapshot());
    }

    [Fact]
    public void A_missing_location_is_LocationRequired()
    {
        using var h = new VaultsHarness();
        Assert.Equal((400, "LocationRequired"), Code(h.Fails("PUT", "rg1", "vaults/kv1", """{"properties":{"tenantId":"00000000-0000-0000-0000-0000000000aa","sku":{"family":"A","name":"standard"}}}""")));
        Assert.Empty(h.Snapshot());
    }

    [Theory]
    [InlineData("ab")]
    [InlineData("a23456789012345678901234x")]
    [InlineData("1vault")]
    [InlineData("vault-")]
    [InlineData("va--ult")]
    [InlineData("va_ult")]
    [InlineData("vault.one")]
    public void Invalid_names_are_refused(string name)
    {
        using var h = new VaultsHarness();
        var e = h.Fails("PUT", "rg1", $"vaults/{name}", VaultsHarness.MinimalBody());
        Assert.Equal((400, "VaultNameNotValid"), Code(e));
        Assert.Empty(h.Snapshot());
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("a23456789012345678901234")]
    [InlineData("Vault-1-a")]
    public void Valid_names_are_accepted(string name)
    {
        using var h = new VaultsHarness();
        h.Create("rg1", name);
    }

    [Fact]
    public void Soft_delete_cannot_be_disabled_at_creation_or_later()
    {
        using var h = new VaultsHarness();
        var e = h.Fails("PUT", "rg1", "vaults/kv1", VaultsHarness.FullBody().Replace("\"enableSoftDelete\":true", "\"enableSoftDelete\":false", StringComparison.Ordinal));
        Assert.Equal((400, "BadRequest"), Code(e));
        Assert.Contains("enableSoftDelete", e.Message, StringComparison.Ordinal);
        Assert.Empty(h.Snapshot());

        h.Create("rg1", "kv1");
        var before = h.Snapshot();
        Assert.Equal((400, "BadRequest"), Code(h.Fails("PATCH", "rg1", "vaults/kv1", """{"properties":{"enableSoftDelete":false}}""")));
        Assert.Equal(before, h.Snapshot());
    }

    [Theory]
    [InlineData(6)]
    [InlineData(91)]
    [InlineData(0)]
    public void Retention_outside_7_to_90_days_is_refused(int days)
    {
        using var h = new VaultsHarness();
        Assert.Equal((400, "BadRequest"), Code(h.Fails("PUT", "rg1", "vaults/kv1", VaultsHarness.FullBody(retentionDays: days))));
        Assert.Empty(h.Snapshot());
    }

    [Theory]
    [InlineData(7)]
    [InlineData(90)]
    public void Retention_bounds_are_accepted(int days)
    {
        using var h = new VaultsHarness();
        Assert.Equal(days, (int)h.Create("rg1", "kv1", VaultsHarness.FullBody(retentionDays: days))["properties"]!["softDeleteRetentionInDays"]!);
    }

    [Fact]
    public void Retention_cannot_change_after_creation_but_may_be_repeated()
    {
        using var h = new VaultsHarness();
        h.Create("rg1", "kv1", VaultsHarness.FullBody(retentionDays: 30));
        var before = h.Snapshot();
        Assert.Equal((400, "BadRequest"), Code(h.Fails("PUT", "rg1", "vaults/kv1", VaultsHarness.FullBody(retentionDays: 60))));
        Assert.Equal((400, "BadRequest"), Code(h.Fails("PATCH", "rg1", "vaults/kv1", """{"properties":{"softDeleteRetentionInDays":7}}""")));
        Assert.Equal(before, h.Snapshot());
        Assert.Equal(200, h.Send("PATCH", "rg1", "vaults/kv1", """{"properties":{"softDeleteRetentionInDays":30}}""").StatusCode);
    }

    [Fact]
    public void Purge_protection_once_on_cannot_be_switched_off()
    {
        using var h = new VaultsHarness();
        h.Create("rg1", "kv1");
        Assert.True((bool)h.Send("PATCH", "rg1", "vaults/kv1", """{"properties":{"enablePurgeProtection":true}}""").Body!["properties"]!["enablePurgeProtection"]!);
        var before = h.Snapshot();

        var e = h.Fails("PATCH", "rg1", "vaults/kv1", """{"properties":{"enablePurgeProtection":false}}""");
        Assert.Equal((400, "BadRequest"), Code(e));
        Assert.Contains("enablePurgeProtection", e.Message, StringComparison.Ordinal);
        Assert.Equal((400, "BadRequest"), Code(h.Fails("PUT", "rg1", "vaults/kv1", VaultsHarness.FullBody(purgeProtection: false))));
        Assert.Equal(before, h.Snapshot());

        // Omitted (PUT full replace, PATCH without it): stays on.
        Assert.True((bool)h.Send("PUT", "rg1", "vaults/kv1", VaultsHarness.MinimalBody()).Body!["properties"]!["enablePurgeProtection"]!);
        Assert.True((bool)h.Send("PATCH", "rg1", "vaults/kv1", """{"properties":{}}""").Body!["properties"]!["enablePurgeProtection"]!);
    }

    [Theory]
    [InlineData("""{"location":"eastus","properties":{"tenantId":"not-a-guid","sku":{"family":"A","name":"standard"}}}""")]
    [InlineData("""{"location":"eastus","properties":{"tenantId":"00000000-0000-0000-0000-0000000000aa","sku":{"family":"B","name":"standard"}}}""")]
    [InlineData("""{"location":"eastus","properties":{"tenantId":"00000000-0000-0000-0000-0000000000aa","sku":{"family":"A","name":"gold"}}}""")]
    [InlineData("""{"location":"eastus","properties":{"tenantId":"00000000-0000-0000-0000-0000000000aa","sku":{"family":"A","name":"standard"},"enableRbacAuthorization":"yes"}}""")]
    [InlineData("""{"location":"eastus","properties":{"tenantId":"00000000-0000-0000-0000-0000000000aa","sku":{"family":"A","name":"standard"},"softDeleteRetentionInDays":"30"}}""")]
    [InlineData("""{"location":"eastus","properties":{"tenantId":"00000000-0000-0000-0000-0000000000aa","sku":{"family":"A","name":"standard"},"publicNetworkAccess":"Sometimes"}}""")]
    [InlineData("""{"location":"eastus","properties":{"tenantId":"00000000-0000-0000-0000-0000000000aa","sku":{"family":"A","name":"standard"},"createMode":"restore"}}""")]
    [InlineData("""{"location":"eastus","properties":{"tenantId":"00000000-0000-0000-0000-0000000000aa","sku":{"family":"A","name":"standard"},"accessPolicies":[{"tenantId":"00000000-0000-0000-0000-0000000000aa","objectId":"11111111-1111-1111-1111-111111111111","permissions":{"keys":["fly"]}}]}}""")]
    [InlineData("""{"location":"eastus","properties":{"tenantId":"00000000-0000-0000-0000-0000000000aa","sku":{"family":"A","name":"standard"},"accessPolicies":[{"tenantId":"00000000-0000-0000-0000-0000000000aa","permissions":{"keys":["get"]}}]}}""")]
    [InlineData("""{"location":"eastus","properties":{"tenantId":"00000000-0000-0000-0000-0000000000aa","sku":{"family":"A","name":"standard"},"accessPolicies":[{"tenantId":"00000000-0000-0000-0000-0000000000aa","objectId":"11111111-1111-1111-1111-111111111111"}]}}""")]
    [InlineData("""{"location":"eastus","properties":{"tenantId":"00000000-0000-0000-0000-0000000000aa","sku":{"family":"A","name":"standard"},"networkAcls":[]}}""")]
    [InlineData("""[1,2]""")]
    public void Malformed_properties_are_refused_with_400_and_change_nothing(string body)
    {
        using var h = new VaultsHarness();
        h.Create("rg1", "kv1", VaultsHarness.FullBody());
        var before = h.Snapshot();
        Assert.Equal(400, h.Fails("PUT", "rg1", "vaults/kv1", body).StatusCode);
        Assert.Equal(400, h.Fails("PUT", "rg1", "vaults/kv2", body).StatusCode);
        Assert.Equal(before, h.Snapshot());
    }
}
