// Resource ids: parsing any casing, canonical formatting, the `//` prefix arm-authorization sends,
// and the ancestry RBAC inheritance walks.
using Ironclad.ResourceManager.Ids;

namespace Ironclad.ResourceManager.Tests;

public sealed class ResourceIdTests
{
    private const string Sub = "00000000-0000-0000-0000-000000000001";

    [Theory]
    [InlineData("/SUBSCRIPTIONS/" + Sub + "/RESOURCEGROUPS/Rg1", "/subscriptions/" + Sub + "/resourceGroups/Rg1")]
    [InlineData("//subscriptions/" + Sub + "/resourcegroups/rg1/", "/subscriptions/" + Sub + "/resourceGroups/rg1")]
    [InlineData("subscriptions/" + Sub, "/subscriptions/" + Sub)]
    [InlineData("/subscriptions/" + Sub + "/resourceGroups/rg/providers/microsoft.keyvault/VAULTS/MyVault",
        "/subscriptions/" + Sub + "/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/MyVault")]
    [InlineData("/subscriptions/" + Sub + "/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/v/providers/microsoft.authorization/roleassignments/x",
        "/subscriptions/" + Sub + "/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/v/providers/Microsoft.Authorization/roleAssignments/x")]
    [InlineData("/", "/")]
    public void Parse_canonicalizes_known_segments_and_keeps_names(string input, string canonical) =>
        Assert.Equal(canonical, ResourceId.Parse(input).ToString());

    [Theory]
    [InlineData("")]
    [InlineData("/subscriptions/not-a-guid")]
    [InlineData("/subscriptions/" + Sub + "/resourceGroups")]
    [InlineData("/subscriptions/" + Sub + "/providers/Microsoft.KeyVault")]
    [InlineData("/subscriptions/" + Sub + "/providers/Microsoft.KeyVault/vaults")]
    [InlineData("/tenants/x")]
    public void Malformed_ids_are_refused(string input) => Assert.False(ResourceId.TryParse(input, out _));

    [Fact]
    public void Ids_compare_case_insensitively()
    {
        var a = ResourceId.Parse($"/subscriptions/{Sub}/resourceGroups/RG1/providers/Microsoft.KeyVault/vaults/V1");
        var b = ResourceId.Parse($"/SUBSCRIPTIONS/{Sub.ToUpperInvariant()}/resourcegroups/rg1/providers/MICROSOFT.KEYVAULT/vaults/v1");
        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.NotEqual(a, ResourceId.Parse($"/subscriptions/{Sub}/resourceGroups/RG1/providers/Microsoft.KeyVault/vaults/V2"));
    }

    [Fact]
    public void Ancestry_walks_child_resource_to_root()
    {
        var key = ResourceId.Parse($"/subscriptions/{Sub}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/v1/keys/k1");
        Assert.Equal(
            [
                $"/subscriptions/{Sub}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/v1/keys/k1",
                $"/subscriptions/{Sub}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/v1",
                $"/subscriptions/{Sub}/resourceGroups/rg",
                $"/subscriptions/{Sub}",
                "/",
            ],
            key.SelfAndAncestors().Select(s => s.ToString()));
    }

    [Fact]
    public void Properties_describe_the_id()
    {
        var vault = ResourceId.Parse($"/subscriptions/{Sub}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/v1");
        Assert.Equal(Guid.Parse(Sub), vault.SubscriptionId);
        Assert.Equal("rg", vault.ResourceGroup);
        Assert.Equal("Microsoft.KeyVault/vaults", vault.ResourceType);
        Assert.Equal("Microsoft.KeyVault", vault.ProviderNamespace);
        Assert.Equal("v1", vault.Name);
        Assert.True(ResourceId.ForSubscription(Guid.Parse(Sub)).Contains(vault));
        Assert.False(vault.Contains(ResourceId.ForSubscription(Guid.Parse(Sub))));
        Assert.Equal("Microsoft.Resources/resourceGroups", ResourceId.ForResourceGroup(Guid.Parse(Sub), "rg").ResourceType);
    }
}
