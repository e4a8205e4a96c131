// Custom role definitions: stored, assignable only within their assignable scopes, granting exactly
// their permissions, not deletable while assigned, and never replacing or shadowing a built-in.
using Ironclad.ResourceManager.Ids;
using Ironclad.ResourceManager.Providers;
using Ironclad.ResourceManager.Rbac;

namespace Ironclad.ResourceManager.Tests;

public sealed class CustomRoleTests
{
    private static readonly Guid Carol = Guid.Parse("00000000-0000-0000-0000-0000000ca201");

    private static RoleDefinition VaultReader(Guid id, string scope) => new(id, "Vault Reader", "reads vaults", "CustomRole",
        [new RolePermissionBlock(["Microsoft.KeyVault/vaults/read"], [], ["Microsoft.KeyVault/vaults/keys/read"], [])], [scope]);

    [Fact]
    public void A_custom_role_grants_its_permissions_within_its_assignable_scopes_only()
    {
        using var f = new StoreFixture();
        var id = Guid.NewGuid();
        var group = ResourceId.ForResourceGroup(StoreFixture.Sub, "apps");
        Assert.True(f.Roles.Upsert(VaultReader(id, group.ToString())));
        Assert.False(f.Roles.Upsert(VaultReader(id, group.ToString())));
        var vault = group.Append("providers", "Microsoft.KeyVault", "vaults", "v");

        f.Assignments.Create(vault, Guid.NewGuid(), id, Carol, null, null, null);
        Assert.True(f.Authorizer.IsActionAllowed(Carol, "Microsoft.KeyVault/vaults/read", vault));
        Assert.False(f.Authorizer.IsActionAllowed(Carol, "Microsoft.KeyVault/vaults/write", vault));
        Assert.True(f.Authorizer.IsDataActionAllowed(Carol, "Microsoft.KeyVault/vaults/keys/read", vault));

        var outside = Assert.Throws<ArmException>(() => f.Assignments.Create(ResourceId.ForSubscription(StoreFixture.Sub), Guid.NewGuid(), id, Carol, null, null, null));
        Assert.Equal("InvalidRoleAssignmentScope", outside.Code);
        Assert.Equal("Vault Reader", new RoleDefinitions(f.Reopen()).Find(id)?.RoleName);
    }

    [Fact]
    public void An_assigned_role_cannot_be_deleted_and_built_ins_cannot_be_changed()
    {
        using var f = new StoreFixture();
        var id = Guid.NewGuid();
        var scope = ResourceId.ForSubscription(StoreFixture.Sub);
        f.Roles.Upsert(VaultReader(id, scope.ToString()));
        var assignment = Guid.NewGuid();
        f.Assignments.Create(scope, assignment, id, Carol, null, null, null);
        Assert.Equal("RoleDefinitionHasAssignments", Assert.Throws<ArmException>(() => f.Roles.Delete(id)).Code);
        f.Assignments.Delete(scope, assignment);
        Assert.NotNull(f.Roles.Delete(id));
        Assert.Null(f.Roles.Find(id));

        Assert.Equal("RoleDefinitionUpdateNotPermitted", Assert.Throws<ArmException>(() => f.Roles.Upsert(VaultReader(BuiltInRoles.OwnerId, "/"))).Code);
        Assert.Equal("RoleDefinitionUpdateNotPermitted", Assert.Throws<ArmException>(() => f.Roles.Delete(BuiltInRoles.ReaderId)).Code);
        Assert.Equal("RoleDefinitionWithSameNameExists",
            Assert.Throws<ArmException>(() => f.Roles.Upsert(VaultReader(Guid.NewGuid(), "/") with { RoleName = "owner" })).Code);
    }
}
