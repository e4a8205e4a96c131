// The official npm Resource Manager SDKs against the real server: @azure/arm-resources for resource
// groups (create, get in another casing, paged list, update, checkExistence, delete) and
// @azure/arm-authorization for role assignments at subscription, group and resource scope, role
// definitions, and deletes — each result checked against what the server stored.
using System.Text.Json;

namespace Ironclad.Sdk.Tests;

public sealed class ArmSdkTests(SdkServer server) : IClassFixture<SdkServer>
{
    [Fact]
    public async Task Arm_resources_manages_resource_groups_with_paging_and_synchronous_delete()
    {
        var output = (await server.RunNodeAsync("arm-resource-groups.mjs", new Dictionary<string, string?>
        {
            ["IRONCLAD_PREFIX"] = "sdkrg",
            ["IRONCLAD_COUNT"] = "5",
        }, TestContext.Current.CancellationToken)).EnsureSuccess();

        var got = output.GetProperty("got");
        Assert.Equal($"/subscriptions/{server.SubscriptionId}/resourceGroups/sdkrg0", got.GetProperty("id").GetString());
        Assert.Equal("sdkrg0", got.GetProperty("name").GetString());
        Assert.Equal("Microsoft.Resources/resourceGroups", got.GetProperty("type").GetString());
        Assert.Equal("eastus", got.GetProperty("location").GetString());
        Assert.Equal("0", got.GetProperty("tags").GetProperty("index").GetString());
        Assert.Equal("Succeeded", got.GetProperty("provisioningState").GetString());

        var listed = output.GetProperty("listed").EnumerateArray().Select(n => n.GetString()!).ToList();
        Assert.Superset(Enumerable.Range(0, 5).Select(i => $"sdkrg{i}").ToHashSet(), listed.ToHashSet());
        Assert.Equal(listed.Count, listed.Distinct().Count());
        Assert.True(output.GetProperty("pages").GetInt32() >= 3, $"expected the SDK to follow nextLink over pages of 2: {output}");

        Assert.Equal("yes", output.GetProperty("updatedTags").GetProperty("patched").GetString());
        Assert.True(output.GetProperty("exists").GetBoolean());
        Assert.False(output.GetProperty("existsAfter").GetBoolean());
        Assert.Equal("ResourceGroupNotFound", output.GetProperty("afterDelete").GetProperty("code").GetString());
        Assert.Equal(404, output.GetProperty("afterDelete").GetProperty("statusCode").GetInt32());
    }

    [Fact]
    public async Task Arm_authorization_manages_role_assignments_at_every_scope()
    {
        var ct = TestContext.Current.CancellationToken;
        var principal = Guid.NewGuid().ToString();
        var output = (await server.RunNodeAsync("arm-role-assignments.mjs", new Dictionary<string, string?>
        {
            ["IRONCLAD_RG"] = "authz0",
            ["IRONCLAD_PRINCIPAL"] = principal,
        }, ct)).EnsureSuccess();

        var sub = $"/subscriptions/{server.SubscriptionId}";
        var scopes = new Dictionary<string, string>
        {
            ["subscription"] = sub,
            ["group"] = $"{sub}/resourceGroups/authz0",
            ["resource"] = $"{sub}/resourceGroups/authz0/providers/Microsoft.KeyVault/vaults/sdkvault",
        };
        foreach (var (kind, scope) in scopes)
        {
            var created = output.GetProperty(kind);
            var name = created.GetProperty("name").GetString();
            Assert.Equal($"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}", created.GetProperty("id").GetString());
            Assert.Equal(scope, created.GetProperty("scope").GetString());
            Assert.Equal(principal, created.GetProperty("principalId").GetString());
        }

        Assert.EndsWith("/roleDefinitions/e147488a-f6f5-4113-8e2d-b22465e65bf6",
            output.GetProperty("resource").GetProperty("roleDefinitionId").GetString(), StringComparison.Ordinal);
        string Name(string kind) => output.GetProperty(kind).GetProperty("name").GetString()!;
        var atGroup = Names(output, "listAtGroup");
        // Listing at the group: inherited (subscription), its own, and below it (the resource's).
        Assert.Superset(new HashSet<string> { Name("subscription"), Name("group"), Name("resource") }, atGroup);
        var atScope = Names(output, "listAtGroupAtScope");
        Assert.Contains(Name("subscription"), atScope);
        Assert.Contains(Name("group"), atScope);
        Assert.DoesNotContain(Name("resource"), atScope);
        Assert.Equal(new HashSet<string> { Name("subscription"), Name("group"), Name("resource") }, Names(output, "listForPrincipalAtResource"));
        Assert.Empty(Names(output, "listAtGroupAfterDelete"));

        var definitions = output.GetProperty("definitions").EnumerateArray().ToDictionary(d => d.GetProperty("name").GetString()!, d => d.GetProperty("roleName").GetString());
        Assert.Equal("Key Vault Crypto Service Encryption User", definitions["e147488a-f6f5-4113-8e2d-b22465e65bf6"]);
        Assert.Equal("Contributor", definitions["b24988ac-6180-42a0-ab88-20f7382dd24c"]);
        Assert.Equal("Owner", output.GetProperty("owner").GetProperty("roleName").GetString());
        Assert.Equal(["*"], output.GetProperty("owner").GetProperty("actions").EnumerateArray().Select(a => a.GetString()));
    }

    private static HashSet<string> Names(JsonElement output, string property) =>
        output.GetProperty(property).EnumerateArray().Select(n => n.GetString()!).ToHashSet();
}
