// accessPolicies/{add|replace|remove}: the resulting full list, permission names validated
// case-insensitively and normalised to the spec's spelling, refusals change nothing.
using System.Text.Json.Nodes;
using static Ironclad.Vaults.Tests.CreateAndUpdateTests;

namespace Ironclad.Vaults.Tests;

public sealed class AccessPolicyTests
{
    private static readonly Guid Des = Guid.Parse("33333333-3333-3333-3333-333333333333");

    private static string Body(Guid objectId, string keys, string secrets = "[]") => $$$"""
        {"properties":{"accessPolicies":[{"tenantId":"{{{VaultsHarness.Tenant}}}","objectId":"{{{objectId}}}","permissions":{"keys":{{{keys}}},"secrets":{{{secrets}}} } }]} }
        """;

    private static JsonArray Policies(Ironclad.ResourceManager.Providers.ProviderResult result) => (JsonArray)result.Body!["properties"]!["accessPolicies"]!;

    private static string[] Keys(JsonArray policies, Guid objectId) =>
        [.. ((JsonArray)policies.Single(p => (string)p!["objectId"]! == objectId.ToString())!["permissions"]!["keys"]!).Select(k => (string)k!)];

    [Fact]
    public void Add_merges_into_the_entry_of_the_same_principal_or_appends_one()
    {
        using var h = new VaultsHarness();
        h.Create("rg1", "kv1", VaultsHarness.FullBody());

        var result = h.Send("PUT", "rg1", "vaults/kv1/accessPolicies/add", Body(Des, """["GET","wrapkey"]"""));
        Assert.Equal(200, result.StatusCode);
        Assert.Equal($"/subscriptions/{VaultsHarness.Subscription}/resourceGroups/rg1/providers/Microsoft.KeyVault/vaults/kv1/accessPolicies/add", (string)result.Body!["id"]!);
        Assert.Equal("Microsoft.KeyVault/vaults/accessPolicies", (string)result.Body!["type"]!);
        Assert.Equal(2, Policies(result).Count);
        Assert.Equal(["get", "wrapKey"], Keys(Policies(result), Des));

        result = h.Send("PUT", "rg1", "vaults/KV1/accessPolicies/Add", Body(Des, """["unwrapKey","get"]"""));
        Assert.Equal(["get", "wrapKey", "unwrapKey"], Keys(Policies(result), Des));
        Assert.Equal(Policies(result).ToJsonString(), h.Get("rg1", "kv1")["properties"]!["accessPolicies"]!.ToJsonString());
    }

    [Fact]
    public void Replace_sets_the_permissions_of_the_entry()
    {
        using var h = new VaultsHarness();
        h.Create("rg1", "kv1", VaultsHarness.FullBody());
        var result = h.Send("PUT", "rg1", "vaults/kv1/accessPolicies/replace", Body(VaultsHarness.Admin, """["list"]"""));
        Assert.Equal(["list"], Keys(Policies(result), VaultsHarness.Admin));
        Assert.Empty((JsonArray)Policies(result)[0]!["permissions"]!["secrets"]!);
    }

    [Fact]
    public void Remove_takes_permissions_away_and_drops_an_emptied_entry()
    {
        using var h = new VaultsHarness();
        h.Create("rg1", "kv1", VaultsHarness.FullBody());      // admin: keys get,wrapKey,unwrapKey; secrets get
        var result = h.Send("PUT", "rg1", "vaults/kv1/accessPolicies/remove", Body(VaultsHarness.Admin, """["wrapKey"]"""));
        Assert.Equal(["get", "unwrapKey"], Keys(Policies(result), VaultsHarness.Admin));

        result = h.Send("PUT", "rg1", "vaults/kv1/accessPolicies/remove", Body(VaultsHarness.Admin, """["get","unwrapKey"]""", """["get"]"""));
        Assert.Empty(Policies(result));
        Assert.Empty((JsonArray)h.Get("rg1", "kv1")["properties"]!["accessPolicies"]!);
    }

    [Fact]
    public void Remove_naming_no_permissions_drops_the_whole_entry()
    {
        using var h = new VaultsHarness();
        h.Create("rg1", "kv1", VaultsHarness.FullBody());
        var result = h.Send("PUT", "rg1", "vaults/kv1/accessPolicies/remove",
            $$$"""{"properties":{"accessPolicies":[{"tenantId":"{{{VaultsHarness.Tenant}}}","objectId":"{{{VaultsHarness.Admin}}}","permissions":{} }]} }""");
        Assert.Empty(Policies(result));
    }

    [Theory]
    [InlineData("add", """["get","teleport"]""")]
    [InlineData("replace", """["get",42]""")]
    [InlineData("add", "\"get\"")]
    public void Unknown_permissions_are_refused_and_change_nothing(string kind, string keys)
    {
        using var h = new VaultsHarness();
        h.Create("rg1", "kv1", VaultsHarness.FullBody());
        var before = h.Snapshot();
        Assert.Equal((400, "BadRequest"), Code(h.Fails("PUT", "rg1", $"vaults/kv1/accessPolicies/{kind}", Body(Des, keys))));
        Assert.Equal(before, h.Snapshot());
    }

    [Fact]
    public void Bad_kinds_bodies_and_missing_vaults_are_refused()
    {
        using var h = new VaultsHarness();
        h.Create("rg1", "kv1");
        Assert.Equal((400, "BadRequest"), Code(h.Fails("PUT", "rg1", "vaults/kv1/accessPolicies/merge", Body(Des, "[]"))));
        Assert.Equal((400, "BadRequest"), Code(h.Fails("PUT", "rg1", "vaults/kv1/accessPolicies/add", "{}")));
        Assert.Equal((404, "ResourceNotFound"), Code(h.Fails("PUT", "rg1", "vaults/kv9/accessPolicies/add", Body(Des, "[]"))));
    }

    [Fact]
    public void Every_permission_of_the_spec_is_accepted_in_any_case_and_stored_in_the_spec_spelling()
    {
        using var h = new VaultsHarness();
        h.Create("rg1", "kv1");
        foreach (var (category, names) in Ironclad.ResourceManager.KeyVault.VaultRules.Permissions)
        {
            var upper = "[" + string.Join(",", names.Select(n => $"\"{n.ToUpperInvariant()}\"")) + "]";
            var body = $$$"""{"properties":{"accessPolicies":[{"tenantId":"{{{VaultsHarness.Tenant}}}","objectId":"{{{Des}}}","permissions":{"{{{category}}}":{{{upper}}} } }]} }""";
            var result = h.Send("PUT", "rg1", "vaults/kv1/accessPolicies/replace", body);
            Assert.Equal(names, ((JsonArray)Policies(result)[0]!["permissions"]![category]!).Select(n => (string)n!));
        }

        h.Send("PUT", "rg1", "vaults/kv1/accessPolicies/replace", Body(Des, """["WrapKey"]"""));
        var policy = Assert.Single(h.Provider.FindByName("kv1")!.AccessPolicies);   // the data plane's view: lower-cased
        Assert.Equal(["wrapkey"], policy.Keys);
        Assert.Equal(Des.ToString(), policy.ObjectId);
    }
}
