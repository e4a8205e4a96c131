// RBAC action matching: wildcards, case-insensitivity, NotActions and the built-in roles' real lists.
using Ironclad.ResourceManager.Rbac;

namespace Ironclad.ResourceManager.Tests;

public sealed class ActionPatternTests
{
    [Theory]
    [InlineData("*", "Microsoft.KeyVault/vaults/write", true)]
    [InlineData("*/read", "Microsoft.Resources/subscriptions/resourceGroups/read", true)]
    [InlineData("*/read", "Microsoft.Resources/subscriptions/resourceGroups/write", false)]
    [InlineData("Microsoft.Authorization/*/Write", "microsoft.authorization/roleAssignments/write", true)]
    [InlineData("Microsoft.Authorization/*/Write", "Microsoft.Authorization/roleAssignments/read", false)]
    [InlineData("Microsoft.KeyVault/vaults/keys/*", "Microsoft.KeyVault/vaults/keys/unwrap/action", true)]
    [InlineData("Microsoft.KeyVault/vaults/keys/*", "Microsoft.KeyVault/vaults/secrets/getSecret/action", false)]
    [InlineData("Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/read", false)]
    [InlineData("Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/accessPolicies/read", true)]
    [InlineData("Microsoft.KeyVault/vaults/keys/read", "Microsoft.KeyVault/vaults/keys/read", true)]
    [InlineData("Microsoft.KeyVault/vaults/keys/read", "Microsoft.KeyVault/vaults/keys/readx", false)]
    public void Patterns_match_like_azure(string pattern, string action, bool expected) =>
        Assert.Equal(expected, ActionPattern.Matches(pattern, action));

    [Theory]
    [InlineData("Microsoft.KeyVault/vaults/write", true)]
    [InlineData("Microsoft.Resources/subscriptions/resourceGroups/delete", true)]
    [InlineData("Microsoft.Authorization/roleAssignments/write", false)]
    [InlineData("Microsoft.Authorization/roleAssignments/delete", false)]
    [InlineData("Microsoft.Authorization/roleAssignments/read", true)]
    [InlineData("Microsoft.Authorization/elevateAccess/Action", false)]
    public void Contributor_may_do_everything_but_assign_roles(string action, bool expected) =>
        Assert.Equal(expected, BuiltInRoles.Find(BuiltInRoles.ContributorId)!.AllowsAction(action));

    [Fact]
    public void Crypto_service_encryption_user_may_wrap_and_unwrap_but_not_manage()
    {
        var role = BuiltInRoles.Find(BuiltInRoles.KeyVaultCryptoServiceEncryptionUserId)!;
        Assert.Equal("Key Vault Crypto Service Encryption User", role.RoleName);
        Assert.True(role.AllowsDataAction("Microsoft.KeyVault/vaults/keys/unwrap/action"));
        Assert.True(role.AllowsDataAction("Microsoft.KeyVault/vaults/keys/wrap/action"));
        Assert.True(role.AllowsDataAction("Microsoft.KeyVault/vaults/keys/read"));
        Assert.False(role.AllowsDataAction("Microsoft.KeyVault/vaults/keys/decrypt/action"));
        Assert.False(role.AllowsDataAction("Microsoft.KeyVault/vaults/keys/delete"));
        Assert.False(role.AllowsAction("Microsoft.KeyVault/vaults/write"));
    }

    [Fact]
    public void Owner_has_no_data_actions_and_reader_only_reads()
    {
        Assert.False(BuiltInRoles.Find(BuiltInRoles.OwnerId)!.AllowsDataAction("Microsoft.KeyVault/vaults/keys/unwrap/action"));
        Assert.True(BuiltInRoles.Find(BuiltInRoles.OwnerId)!.AllowsAction("Microsoft.Authorization/roleAssignments/write"));
        var reader = BuiltInRoles.Find(BuiltInRoles.ReaderId)!;
        Assert.True(reader.AllowsAction("Microsoft.KeyVault/vaults/read"));
        Assert.False(reader.AllowsAction("Microsoft.KeyVault/vaults/write"));
    }

    [Fact]
    public void A_not_action_excludes_only_within_its_own_permission_block()
    {
        var role = new RoleDefinition(Guid.NewGuid(), "t", "t", "CustomRole",
        [
            new RolePermissionBlock(["*"], ["Microsoft.KeyVault/*"], [], []),
            new RolePermissionBlock(["Microsoft.KeyVault/vaults/read"], [], [], []),
        ], ["/"]);
        Assert.True(role.AllowsAction("Microsoft.KeyVault/vaults/read"));
        Assert.False(role.AllowsAction("Microsoft.KeyVault/vaults/write"));
        Assert.True(role.AllowsAction("Microsoft.Compute/disks/write"));
    }

    [Fact]
    public void Built_in_guids_are_azures()
    {
        Assert.Equal(8, BuiltInRoles.All.Count);
        Assert.Equal(BuiltInRoles.All.Count, BuiltInRoles.All.Select(r => r.Id).Distinct().Count());
        Assert.Equal("Owner", BuiltInRoles.Find(Guid.Parse("8e3af657-a8ff-443c-a75c-2fe8c4bcb635"))!.RoleName);
        Assert.Equal("Key Vault Crypto Officer", BuiltInRoles.Find(Guid.Parse("14b46e9e-c2b7-41b4-b07b-48a6ebf60603"))!.RoleName);
        Assert.Equal("User Access Administrator", BuiltInRoles.Find(Guid.Parse("18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"))!.RoleName);
    }
}
