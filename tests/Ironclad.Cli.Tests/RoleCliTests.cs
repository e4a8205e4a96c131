// `ironclad role` against a real server: the built-in definitions with their real GUIDs, and an
// assignment made by role name at a vault's scope, found by assignee, deleted by id.
namespace Ironclad.Cli.Tests;

public sealed class RoleCliTests(CliServer server) : IClassFixture<CliServer>
{
    [Theory]
    [InlineData("Owner", "8e3af657-a8ff-443c-a75c-2fe8c4bcb635")]
    [InlineData("Key Vault Crypto Service Encryption User", "e147488a-f6f5-4113-8e2d-b22465e65bf6")]
    [InlineData("Key Vault Crypto Officer", "14b46e9e-c2b7-41b4-b07b-48a6ebf60603")]
    public async Task Built_in_role_definitions_carry_their_real_ids(string roleName, string id)
    {
        var found = (await server.Cli.RunAsync("role", "definition", "list", "--name", roleName)).Succeeded().Json().AsArray();

        var definition = Assert.Single(found);
        Assert.Equal(id, definition!["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_role_assigned_by_name_at_a_vault_scope_is_listed_and_deleted()
    {
        var cli = server.Cli;
        var group = $"rg-{Guid.NewGuid():N}"[..20];
        var vault = $"kv{Guid.NewGuid():N}"[..20];
        (await cli.RunAsync("group", "create", "-n", group, "-l", "eastus")).Succeeded();
        var vaultId = (await cli.RunAsync("keyvault", "create", "-n", vault, "-g", group, "-l", "eastus")).Succeeded().Json()["id"]!.GetValue<string>();
        var assignee = Guid.NewGuid().ToString();

        var assignment = (await cli.RunAsync(
            "role", "assignment", "create", "--assignee", assignee, "--role", "Key Vault Crypto Service Encryption User", "--scope", vaultId)).Succeeded().Json();
        Assert.EndsWith("/e147488a-f6f5-4113-8e2d-b22465e65bf6", assignment["properties"]!["roleDefinitionId"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(vaultId, assignment["properties"]!["scope"]!.GetValue<string>(), ignoreCase: true);

        var listed = (await cli.RunAsync("role", "assignment", "list", "--assignee", assignee, "--scope", vaultId)).Succeeded().Json().AsArray();
        Assert.Equal(assignment["id"]!.GetValue<string>(), Assert.Single(listed)!["id"]!.GetValue<string>());

        (await cli.RunAsync("role", "assignment", "delete", "--ids", assignment["id"]!.GetValue<string>())).Succeeded();
        Assert.Empty((await cli.RunAsync("role", "assignment", "list", "--assignee", assignee, "--scope", vaultId)).Succeeded().Json().AsArray());
    }

    [Fact]
    public async Task An_unknown_role_name_is_refused_without_creating_anything()
    {
        var assignee = Guid.NewGuid().ToString();

        (await server.Cli.RunAsync("role", "assignment", "create", "--assignee", assignee, "--role", "Key Vault Janitor")).FailedWith("RoleNotFound");
        Assert.Empty((await server.Cli.RunAsync("role", "assignment", "list", "--assignee", assignee)).Succeeded().Json().AsArray());
    }
}
