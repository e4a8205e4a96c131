// Authorization: inheritance from every ancestor scope, no leakage sideways or upwards, NotActions,
// data actions, and the bootstrap Owner.
using Ironclad.ResourceManager.Ids;
using Ironclad.ResourceManager.Rbac;

namespace Ironclad.ResourceManager.Tests;

public sealed class AuthorizerTests
{
    private static readonly Guid Alice = Guid.Parse("00000000-0000-0000-0000-00000000a11c");

    private static ResourceId Vault(string group, string name) =>
        ResourceId.Parse($"/subscriptions/{StoreFixture.Sub}/resourceGroups/{group}/providers/Microsoft.KeyVault/vaults/{name}");

    [Fact]
    public void Bootstrap_owner_may_do_everything_in_the_subscription()
    {
        using var f = new StoreFixture();
        Assert.True(f.Authorizer.IsActionAllowed(StoreFixture.Admin, "Microsoft.Authorization/roleAssignments/write", Vault("rg", "v")));
        Assert.True(f.Authorizer.IsActionAllowed(StoreFixture.Admin, "Microsoft.Resources/subscriptions/resourceGroups/write",
            ResourceId.ForResourceGroup(StoreFixture.Sub, "rg")));
        Assert.False(f.Authorizer.IsActionAllowed(StoreFixture.Admin, "Microsoft.KeyVault/vaults/read",
            ResourceId.ForSubscription(Guid.NewGuid())));
        Assert.False(f.Authorizer.IsDataActionAllowed(StoreFixture.Admin, "Microsoft.KeyVault/vaults/keys/unwrap/action", Vault("rg", "v")));
    }

    [Fact]
    public void A_principal_without_assignments_may_do_nothing()
    {
        using var f = new StoreFixture();
        Assert.False(f.Authorizer.IsActionAllowed(Alice, "Microsoft.KeyVault/vaults/read", Vault("rg", "v")));
        Assert.Empty(f.Authorizer.EffectiveRoles(Alice, Vault("rg", "v")));
    }

    [Fact]
    public void A_group_assignment_is_inherited_downwards_but_not_sideways_or_upwards()
    {
        using var f = new StoreFixture();
        f.Groups.CreateOrUpdate(StoreFixture.Sub, "rg1", "eastus", null, null);
        f.Groups.CreateOrUpdate(StoreFixture.Sub, "rg2", "eastus", null, null);
        f.Assignments.Create(ResourceId.ForResourceGroup(StoreFixture.Sub, "RG1"), Guid.NewGuid(), BuiltInRoles.ContributorId, Alice, null, null, StoreFixture.Admin);

        Assert.True(f.Authorizer.IsActionAllowed(Alice, "Microsoft.KeyVault/vaults/write", Vault("rg1", "v")));
        Assert.True(f.Authorizer.IsActionAllowed(Alice, "Microsoft.KeyVault/vaults/write", Vault("Rg1", "v").Append("keys", "k")));
        Assert.False(f.Authorizer.IsActionAllowed(Alice, "Microsoft.KeyVault/vaults/write", Vault("rg2", "v")));
        Assert.False(f.Authorizer.IsActionAllowed(Alice, "Microsoft.Resources/subscriptions/read", ResourceId.ForSubscription(StoreFixture.Sub)));
        // Contributor's NotActions still apply under the inherited assignment.
        Assert.False(f.Authorizer.IsActionAllowed(Alice, "Microsoft.Authorization/roleAssignments/write", Vault("rg1", "v")));
    }

    [Fact]
    public void Roles_from_several_scopes_add_up()
    {
        using var f = new StoreFixture();
        f.Groups.CreateOrUpdate(StoreFixture.Sub, "rg", "eastus", null, null);
        var vault = Vault("rg", "v");
        f.Assignments.Create(ResourceId.ForSubscription(StoreFixture.Sub), Guid.NewGuid(), BuiltInRoles.ReaderId, Alice, null, null, null);
        f.Assignments.Create(vault, Guid.NewGuid(), BuiltInRoles.KeyVaultCryptoServiceEncryptionUserId, Alice, null, null, null);

        Assert.True(f.Authorizer.IsActionAllowed(Alice, "Microsoft.KeyVault/vaults/read", vault));
        Assert.False(f.Authorizer.IsActionAllowed(Alice, "Microsoft.KeyVault/vaults/write", vault));
        Assert.True(f.Authorizer.IsDataActionAllowed(Alice, "Microsoft.KeyVault/vaults/keys/unwrap/action", vault.Append("keys", "k1")));
        Assert.False(f.Authorizer.IsDataActionAllowed(Alice, "Microsoft.KeyVault/vaults/keys/unwrap/action", Vault("rg", "other")));
        Assert.False(f.Authorizer.IsDataActionAllowed(Alice, "Microsoft.KeyVault/vaults/keys/decrypt/action", vault));
    }

    [Fact]
    public void Deleting_the_assignment_revokes_access()
    {
        using var f = new StoreFixture();
        var name = Guid.NewGuid();
        var scope = ResourceId.ForSubscription(StoreFixture.Sub);
        f.Assignments.Create(scope, name, BuiltInRoles.ReaderId, Alice, null, null, null);
        Assert.True(f.Authorizer.IsActionAllowed(Alice, "Microsoft.KeyVault/vaults/read", Vault("rg", "v")));
        Assert.NotNull(f.Assignments.Delete(scope, name));
        Assert.False(f.Authorizer.IsActionAllowed(Alice, "Microsoft.KeyVault/vaults/read", Vault("rg", "v")));
    }
}
