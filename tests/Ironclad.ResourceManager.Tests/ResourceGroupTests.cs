// Resource groups: case-insensitive names that keep their first casing, location rules, tags,
// and deletion that empties the group through every provider and drops its role assignments.
using System.Text.Json.Nodes;
using Ironclad.Identity;
using Ironclad.ResourceManager.Ids;
using Ironclad.ResourceManager.Providers;
using Ironclad.ResourceManager.Rbac;

namespace Ironclad.ResourceManager.Tests;

public sealed class ResourceGroupTests
{
    private static readonly CallerIdentity Admin = new(StoreFixture.Tenant, StoreFixture.Admin, Guid.NewGuid(), "https://management.azure.com", PrincipalType.ServicePrincipal);

    [Fact]
    public void Create_get_update_keep_the_first_casing()
    {
        using var f = new StoreFixture();
        var (group, created) = f.Groups.CreateOrUpdate(StoreFixture.Sub, "MyGroup", "eastus", new Dictionary<string, string> { ["env"] = "test" }, null);
        Assert.True(created);
        Assert.Equal("MyGroup", group.Name);
        var (again, createdAgain) = f.Groups.CreateOrUpdate(StoreFixture.Sub, "mygroup", "EastUS", null, null);
        Assert.False(createdAgain);
        Assert.Equal("MyGroup", again.Name);
        Assert.Empty(again.Tags);
        var patched = f.Groups.Update(StoreFixture.Sub, "MYGROUP", new Dictionary<string, string> { ["a"] = "b" }, null);
        Assert.Equal("b", f.Groups.Require(StoreFixture.Sub, "mygroup").Tags["a"]);
        Assert.Equal("eastus", patched.Location);
        Assert.Single(f.Groups.List(StoreFixture.Sub));
    }

    [Theory]
    [InlineData("bad/name")]
    [InlineData("ends.")]
    [InlineData("")]
    public void Invalid_names_are_refused(string name)
    {
        using var f = new StoreFixture();
        Assert.Equal("InvalidResourceGroup", Assert.Throws<ArmException>(() => f.Groups.CreateOrUpdate(StoreFixture.Sub, name, "eastus", null, null)).Code);
    }

    [Fact]
    public void Location_is_required_and_cannot_change()
    {
        using var f = new StoreFixture();
        Assert.Equal("LocationRequired", Assert.Throws<ArmException>(() => f.Groups.CreateOrUpdate(StoreFixture.Sub, "g", null, null, null)).Code);
        f.Groups.CreateOrUpdate(StoreFixture.Sub, "g", "eastus", null, null);
        Assert.Equal("InvalidResourceGroupLocation", Assert.Throws<ArmException>(() => f.Groups.CreateOrUpdate(StoreFixture.Sub, "g", "westus", null, null)).Code);
    }

    [Fact]
    public void Unknown_subscription_is_refused()
    {
        using var f = new StoreFixture();
        Assert.Equal((404, "SubscriptionNotFound"),
            Assert.Throws<ArmException>(() => f.Groups.CreateOrUpdate(Guid.NewGuid(), "g", "eastus", null, null)) is var e ? (e.StatusCode, e.Code) : default);
    }

    [Fact]
    public void Delete_empties_the_group_through_every_provider_and_drops_its_assignments()
    {
        var first = new RecordingProvider("Test.One");
        var second = new RecordingProvider("Test.Two");
        using var f = new StoreFixture(first, second);
        f.Groups.CreateOrUpdate(StoreFixture.Sub, "Doomed", "eastus", null, null);
        f.Groups.CreateOrUpdate(StoreFixture.Sub, "Kept", "eastus", null, null);
        var inside = Guid.NewGuid();
        var outside = Guid.NewGuid();
        f.Assignments.Create(ResourceId.ForResourceGroup(StoreFixture.Sub, "Doomed").Append("providers", "Test.One", "things", "t"), inside,
            BuiltInRoles.ReaderId, Guid.NewGuid(), null, null, null);
        f.Assignments.Create(ResourceId.ForResourceGroup(StoreFixture.Sub, "Kept"), outside, BuiltInRoles.ReaderId, Guid.NewGuid(), null, null, null);

        Assert.True(f.Groups.Delete(StoreFixture.Sub, "doomed", Admin));

        Assert.Equal(["Doomed"], first.DeletedGroups);
        Assert.Equal(["Doomed"], second.DeletedGroups);
        Assert.Null(f.Groups.Get(StoreFixture.Sub, "Doomed"));
        Assert.NotNull(f.Groups.Get(StoreFixture.Sub, "Kept"));
        Assert.Null(f.Store.GetRoleAssignment(inside));
        Assert.NotNull(f.Store.GetRoleAssignment(outside));
        Assert.False(f.Groups.Delete(StoreFixture.Sub, "doomed", Admin));
    }

    [Fact]
    public void Two_providers_for_one_namespace_are_refused_at_start() =>
        Assert.Throws<InvalidOperationException>(() => new ProviderRegistry([new RecordingProvider("A.B"), new RecordingProvider("a.b")]));

    private sealed class RecordingProvider(string providerNamespace) : IResourceProvider
    {
        public List<string> DeletedGroups { get; } = [];

        public string ProviderNamespace => providerNamespace;

        public string RequiredAction(ProviderRequest request) => throw new ArmException(404, "NotFound", "none");

        public ProviderResult Handle(ProviderRequest request) => throw new ArmException(404, "NotFound", "none");

        public IReadOnlyList<JsonObject> List(Guid subscriptionId, string? resourceGroup, string resourceType) => [];

        public void DeleteResourceGroupContents(Guid subscriptionId, string resourceGroup, CallerIdentity caller) => DeletedGroups.Add(resourceGroup);
    }
}
