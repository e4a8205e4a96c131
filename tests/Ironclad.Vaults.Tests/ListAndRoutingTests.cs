// Lists by resource group and subscription with $top/nextLink paging, the generic List for the
// /resources listing, checkNameAvailability, and the RBAC action named for every operation.
using System.Text.Json.Nodes;
using static Ironclad.Vaults.Tests.CreateAndUpdateTests;

namespace Ironclad.Vaults.Tests;

public sealed class ListAndRoutingTests
{
    [Fact]
    public void Lists_page_with_top_and_an_absolute_nextLink()
    {
        using var h = new VaultsHarness();
        foreach (var name in (string[])["kv-c", "kv-a", "kv-e", "kv-b", "kv-d"])
        {
            h.Create("rg1", name);
        }

        h.Create("rg2", "other");
        h.Create("rg9", "foreign", subscription: VaultsHarness.OtherSubscription);

        var names = new List<string>();
        var query = new Dictionary<string, string> { ["$top"] = "2" };
        var pages = 0;
        while (true)
        {
            var page = h.Send("GET", "rg1", "vaults", query: query).Body!;
            pages++;
            names.AddRange(((JsonArray)page["value"]!).Select(v => (string)v!["name"]!));
            if (page["nextLink"] is not { } next)
            {
                break;
            }

            var uri = new Uri((string)next!);
            Assert.StartsWith("https://127.0.0.1:8443/subscriptions/", uri.ToString(), StringComparison.Ordinal);
            Assert.Contains("/resourceGroups/rg1/providers/Microsoft.KeyVault/vaults", uri.AbsolutePath, StringComparison.Ordinal);
            query = uri.Query.TrimStart('?').Split('&').Select(p => p.Split('=', 2))
                .ToDictionary(p => Uri.UnescapeDataString(p[0]), p => Uri.UnescapeDataString(p[1]));
            Assert.Equal("2026-02-01", query["api-version"]);
        }

        Assert.Equal(3, pages);
        Assert.Equal(["kv-a", "kv-b", "kv-c", "kv-d", "kv-e"], names);

        var all = (JsonArray)h.Send("GET", null, "vaults").Body!["value"]!;
        Assert.Equal(["kv-a", "kv-b", "kv-c", "kv-d", "kv-e", "other"], all.Select(v => (string)v!["name"]!));
        Assert.Null(h.Send("GET", null, "vaults").Body!["nextLink"]);

        Assert.Equal(6, h.Provider.List(VaultsHarness.Subscription, null, "microsoft.keyvault/VAULTS").Count);
        Assert.Single(h.Provider.List(VaultsHarness.Subscription, "rg2", "Microsoft.KeyVault/vaults"));
        Assert.Empty(h.Provider.List(VaultsHarness.Subscription, null, "Microsoft.Compute/disks"));
        Assert.Equal(h.Get("rg2", "other").ToJsonString(), h.Provider.List(VaultsHarness.Subscription, "rg2", "Microsoft.KeyVault/vaults")[0].ToJsonString());
    }

    [Fact]
    public void A_bad_top_is_refused()
    {
        using var h = new VaultsHarness();
        var e = Assert.Throws<Ironclad.ResourceManager.Providers.ArmException>(() => h.Send("GET", "rg1", "vaults", query: new Dictionary<string, string> { ["$top"] = "0" }));
        Assert.Equal((400, "InvalidParameter"), Code(e));
    }

    [Fact]
    public void CheckNameAvailability_answers_available_taken_and_invalid()
    {
        using var h = new VaultsHarness();
        h.Create("rg1", "taken-name");
        JsonNode Check(string name) => h.Send("POST", null, "checkNameAvailability", $$$"""{"name":"{{{name}}}","type":"Microsoft.KeyVault/vaults"}""").Body!;

        Assert.Equal("""{"nameAvailable":true}""", Check("free-name").ToJsonString());
        Assert.False((bool)Check("TAKEN-NAME")["nameAvailable"]!);
        Assert.Equal("AlreadyExists", (string)Check("taken-name")["reason"]!);
        Assert.Equal("AccountNameInvalid", (string)Check("1bad")["reason"]!);
        Assert.Equal((400, "BadRequest"), Code(h.Fails("POST", null, "checkNameAvailability", """{"name":"x","type":"Microsoft.Compute/disks"}""")));
    }

    [Theory]
    [InlineData("GET", "rg1", "vaults", "Microsoft.KeyVault/vaults/read")]
    [InlineData("GET", null, "vaults", "Microsoft.KeyVault/vaults/read")]
    [InlineData("GET", "rg1", "vaults/kv1", "Microsoft.KeyVault/vaults/read")]
    [InlineData("PUT", "rg1", "vaults/kv1", "Microsoft.KeyVault/vaults/write")]
    [InlineData("PATCH", "rg1", "VAULTS/kv1", "Microsoft.KeyVault/vaults/write")]
    [InlineData("DELETE", "rg1", "vaults/kv1", "Microsoft.KeyVault/vaults/delete")]
    [InlineData("PUT", "rg1", "vaults/kv1/accessPolicies/add", "Microsoft.KeyVault/vaults/accessPolicies/write")]
    [InlineData("PUT", "rg1", "vaults/kv1/ACCESSPOLICIES/remove", "Microsoft.KeyVault/vaults/accessPolicies/write")]
    [InlineData("GET", null, "deletedVaults", "Microsoft.KeyVault/deletedVaults/read")]
    [InlineData("GET", null, "locations/eastus/deletedVaults/kv1", "Microsoft.KeyVault/locations/deletedVaults/read")]
    [InlineData("POST", null, "locations/eastus/deletedVaults/kv1/purge", "Microsoft.KeyVault/locations/deletedVaults/purge/action")]
    [InlineData("POST", null, "checkNameAvailability", "Microsoft.KeyVault/checkNameAvailability/read")]
    public void Every_operation_names_its_rbac_action(string method, string? resourceGroup, string path, string action)
    {
        using var h = new VaultsHarness();
        Assert.Equal(action, h.Provider.RequiredAction(VaultsHarness.Request(method, resourceGroup, path)));
    }

    [Theory]
    [InlineData("POST", "rg1", "vaults/kv1", 405)]
    [InlineData("DELETE", "rg1", "vaults", 405)]
    [InlineData("GET", null, "vaults/kv1", 404)]
    [InlineData("GET", "rg1", "deletedVaults", 404)]
    [InlineData("GET", "rg1", "managedHSMs/h1", 404)]
    [InlineData("GET", null, "locations/eastus/deletedVaults/kv1/purge", 405)]
    public void Paths_and_methods_it_does_not_serve_are_refused(string method, string? resourceGroup, string path, int status)
    {
        using var h = new VaultsHarness();
        var e = Assert.Throws<Ironclad.ResourceManager.Providers.ArmException>(() => h.Provider.RequiredAction(VaultsHarness.Request(method, resourceGroup, path)));
        Assert.Equal(status, e.StatusCode);
    }

    [Fact]
    public void Deleted_vaults_page_too()
    {
        using var h = new VaultsHarness();
        foreach (var name in (string[])["kv-c", "kv-a", "kv-b"])
        {
            h.Create("rg1", name);
            h.Send("DELETE", "rg1", $"vaults/{name}");
        }

        var first = h.Send("GET", null, "deletedVaults", query: new Dictionary<string, string> { ["$top"] = "2" }).Body!;
        Assert.Equal(["kv-a", "kv-b"], ((JsonArray)first["value"]!).Select(v => (string)v!["name"]!));
        var next = new Uri((string)first["nextLink"]!);
        Assert.EndsWith($"/subscriptions/{VaultsHarness.Subscription}/providers/Microsoft.KeyVault/deletedVaults", next.AbsolutePath, StringComparison.Ordinal);
        var second = h.Send("GET", null, "deletedVaults", query: new Dictionary<string, string> { ["$top"] = "2", ["$skiptoken"] = "kv-b" }).Body!;
        Assert.Equal(["kv-c"], ((JsonArray)second["value"]!).Select(v => (string)v!["name"]!));
        Assert.Null(second["nextLink"]);
    }

    [Fact]
    public void Names_and_groups_match_case_insensitively_and_ids_keep_the_stored_case()
    {
        using var h = new VaultsHarness();
        h.Create("MyGroup", "MyVault");
        var updated = h.Send("PUT", "mygroup", "vaults/MYVAULT", VaultsHarness.MinimalBody());
        Assert.Equal(200, updated.StatusCode);
        Assert.Equal($"/subscriptions/{VaultsHarness.Subscription}/resourceGroups/MyGroup/providers/Microsoft.KeyVault/vaults/MyVault", (string)updated.Body!["id"]!);
        Assert.Equal("MyVault", (string)updated.Body!["name"]!);
    }
}
