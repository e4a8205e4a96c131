// Role assignment rules: names are caller-chosen GUIDs, identical repeats are idempotent, changes
// and duplicates are refused, unknown roles are refused, listing includes inherited and child
// assignments and honours atScope()/principalId/assignedTo, and everything survives a reopen.
using Ironclad.ResourceManager.Ids;
using Ironclad.ResourceManager.Providers;
using Ironclad.ResourceManager.Rbac;

namespace Ironclad.ResourceManager.Tests;

public sealed class RoleAssignmentTests
{
    private static readonly Guid Alice = Guid.Parse("00000000-0000-0000-0000-00000000a11c");
    private static readonly Guid Bob = Guid.Parse("00000000-0000-0000-0000-000000000b0b");

    [Fact]
    public void Create_then_repeat_is_idempotent_and_a_changed_repeat_is_refused()
    {
        using var f = new StoreFixture();
        var scope = ResourceId.ForSubscription(StoreFixture.Sub);
        var name = Guid.NewGuid();
        Assert.True(f.Assignments.Create(scope, name, BuiltInRoles.ReaderId, Alice, "ServicePrincipal", null, StoreFixture.Admin).Created);
        Assert.False(f.Assignments.Create(scope, name, BuiltInRoles.ReaderId, Alice, "ServicePrincipal", null, StoreFixture.Admin).Created);
        var changed = Assert.Throws<ArmException>(() => f.Assignments.Create(scope, name, BuiltInRoles.OwnerId, Alice, null, null, null));
        Assert.Equal((409, "RoleAssignmentUpdateNotPermitted"), (changed.StatusCode, changed.Code));
        var duplicate = Assert.Throws<ArmException>(() => f.Assignments.Create(scope, Guid.NewGuid(), BuiltInRoles.ReaderId, Alice, null, null, null));
        Assert.Equal((409, "RoleAssignmentExists"), (duplicate.StatusCode, duplicate.Code));
    }

    [Fact]
    public void Unknown_role_and_bad_principal_type_are_refused()
    {
        using var f = new StoreFixture();
        var scope = ResourceId.ForSubscription(StoreFixture.Sub);
        Assert.Equal("RoleDefinitionDoesNotExist",
            Assert.Throws<ArmException>(() => f.Assignments.Create(scope, Guid.NewGuid(), Guid.NewGuid(), Alice, null, null, null)).Code);
        Assert.Equal("InvalidPrincipalType",
            Assert.Throws<ArmException>(() => f.Assignments.Create(scope, Guid.NewGuid(), BuiltInRoles.ReaderId, Alice, "Robot", null, null)).Code);
    }

    [Fact]
    public void Get_only_finds_an_assignment_at_its_own_scope()
    {
        using var f = new StoreFixture();
        var name = Guid.NewGuid();
        f.Assignments.Create(ResourceId.ForResourceGroup(StoreFixture.Sub, "rg"), name, BuiltInRoles.ReaderId, Alice, null, null, null);
        Assert.NotNull(f.Assignments.Get(ResourceId.ForResourceGroup(StoreFixture.Sub, "RG"), name));
        Assert.Null(f.Assignments.Get(ResourceId.ForSubscription(StoreFixture.Sub), name));
        Assert.Null(f.Assignments.Delete(ResourceId.ForSubscription(StoreFixture.Sub), name));
    }

    [Fact]
    public void Listing_includes_inherited_and_child_assignments_and_filters_apply()
    {
        using var f = new StoreFixture();
        var sub = ResourceId.ForSubscription(StoreFixture.Sub);
        var group = ResourceId.ForResourceGroup(StoreFixture.Sub, "rg");
        var vault = group.Append("providers", "Microsoft.KeyVault", "vaults", "v1");
        var other = ResourceId.ForResourceGroup(StoreFixture.Sub, "other");
        var atGroup = f.Assignments.Create(group, Guid.NewGuid(), BuiltInRoles.ReaderId, Alice, null, null, null).Assignment;
        var atVault = f.Assignments.Create(vault, Guid.NewGuid(), BuiltInRoles.KeyVaultCryptoUserId, Bob, null, null, null).Assignment;
        var atOther = f.Assignments.Create(other, Guid.NewGuid(), BuiltInRoles.ReaderId, Bob, null, null, null).Assignment;
        var admin = f.Assignments.List(sub, RoleAssignmentFilter.Parse($"principalId eq '{StoreFixture.Admin}'")).Single();

        Assert.Equal(
            new[] { admin.Name, atGroup.Name, atVault.Name }.Order(),
            f.Assignments.List(group, RoleAssignmentFilter.None).Select(a => a.Name).Order());
        Assert.Equal(
            new[] { admin.Name, atGroup.Name }.Order(),
            f.Assignments.List(group, RoleAssignmentFilter.Parse("atScope()")).Select(a => a.Name).Order());
        Assert.Equal([atVault.Name], f.Assignments.List(group, RoleAssignmentFilter.Parse($"assignedTo('{Bob}')")).Select(a => a.Name));
        Assert.Equal(4, f.Assignments.List(sub, RoleAssignmentFilter.None).Count);
        Assert.DoesNotContain(atOther.Name, f.Assignments.List(vault, RoleAssignmentFilter.None).Select(a => a.Name));
        Assert.Equal("InvalidFilterInQueryString", Assert.Throws<ArmException>(() => RoleAssignmentFilter.Parse("roleName eq 'x'")).Code);
    }

    [Fact]
    public void Assignments_survive_a_reopen_of_the_database()
    {
        using var f = new StoreFixture();
        var name = Guid.NewGuid();
        var scope = ResourceId.ForResourceGroup(StoreFixture.Sub, "Rg");
        f.Time.Advance(TimeSpan.FromMinutes(5));
        f.Assignments.Create(scope, name, BuiltInRoles.KeyVaultCryptoOfficerId, Alice, "User", "why", StoreFixture.Admin);
        var reopened = f.Reopen().GetRoleAssignment(name);
        Assert.NotNull(reopened);
        Assert.Equal(("/subscriptions/" + StoreFixture.Sub + "/resourceGroups/Rg", BuiltInRoles.KeyVaultCryptoOfficerId, Alice, "User", "why"),
            (reopened.Scope, reopened.RoleDefinitionId, reopened.PrincipalId, reopened.PrincipalType, reopened.Description));
        Assert.Equal(f.Time.GetUtcNow(), reopened.CreatedOn);
    }

    [Fact]
    public void Bootstrap_is_idempotent()
    {
        using var f = new StoreFixture();
        new ResourceManagerBootstrap(f.Store, f.Time).EnsureSubscription(StoreFixture.Tenant, StoreFixture.Sub, "Again", StoreFixture.Admin);
        Assert.Single(f.Store.ListSubscriptions());
        Assert.Equal("Ironclad", f.Store.GetSubscription(StoreFixture.Sub)!.DisplayName);
        Assert.Single(f.Assignments.List(ResourceId.ForSubscription(StoreFixture.Sub), RoleAssignmentFilter.None));
    }
}
