// `ironclad identity` against a real server: a user-assigned managed identity is an ARM resource
// whose principal exists in the directory exactly as long as the resource does; it can be granted
// a role; deleting it (or its resource group) removes the principal too.
namespace Ironclad.Cli.Tests;

public sealed class IdentityCliTests(CliServer server) : IClassFixture<CliServer>
{
    [Fact]
    public async Task A_user_assigned_identity_has_a_principal_for_its_lifetime_and_can_be_granted_a_role()
    {
        var cli = server.Cli;
        var group = $"rg-{Guid.NewGuid():N}"[..20];
        var name = $"id-{Guid.NewGuid():N}"[..20];
        (await cli.RunAsync("group", "create", "-n", group, "-l", "eastus")).Succeeded();

        var created = (await cli.RunAsync("identity", "create", "-n", name, "-g", group, "-l", "eastus", "--tags", "use=des")).Succeeded().Json();
        Assert.Equal("Microsoft.ManagedIdentity/userAssignedIdentities", created["type"]!.GetValue<string>());
        var principalId = created["properties"]!["principalId"]!.GetValue<string>();
        var clientId = created["properties"]!["clientId"]!.GetValue<string>();
        Assert.True(Guid.TryParse(principalId, out _) && Guid.TryParse(clientId, out _), created.ToJsonString());
        Assert.Equal(server.TenantId, created["properties"]!["tenantId"]!.GetValue<string>());

        var again = (await cli.RunAsync("identity", "create", "-n", name, "-g", group, "-l", "eastus")).Succeeded().Json();
        Assert.Equal(principalId, again["properties"]!["principalId"]!.GetValue<string>());
        var principals = (await cli.RunAsync("ad", "sp", "list")).Succeeded().Json().AsArray();
        Assert.Contains(principals, p => p!["id"]!.GetValue<string>() == principalId);
        Assert.Contains(name, (await cli.RunAsync("identity", "list", "--resource-group", group, "-o", "table")).Succeeded().StandardOutput, StringComparison.Ordinal);

        var assignment = (await cli.RunAsync(
            "role", "assignment", "create", "--assignee", principalId, "--role", "Key Vault Crypto Service Encryption User",
            "--scope", $"/subscriptions/{server.SubscriptionId}/resourceGroups/{group}")).Succeeded().Json();
        Assert.Equal(principalId, assignment["properties"]!["principalId"]!.GetValue<string>());

        (await cli.RunAsync("identity", "delete", "-n", name, "-g", group)).Succeeded();
        (await cli.RunAsync("identity", "show", "-n", name, "-g", group)).FailedWith("ResourceNotFound", expectedExit: 3);
        principals = (await cli.RunAsync("ad", "sp", "list")).Succeeded().Json().AsArray();
        Assert.DoesNotContain(principals, p => p!["id"]!.GetValue<string>() == principalId);
    }

    [Fact]
    public async Task Deleting_the_resource_group_deletes_its_identities_and_their_principals()
    {
        var cli = server.Cli;
        var group = $"rg-{Guid.NewGuid():N}"[..20];
        (await cli.RunAsync("group", "create", "-n", group, "-l", "eastus")).Succeeded();
        var principalId = (await cli.RunAsync("identity", "create", "-n", "disk-sets", "-g", group, "-l", "eastus")).Succeeded().Json()["properties"]!["principalId"]!.GetValue<string>();

        (await cli.RunAsync("group", "delete", "-n", group)).Succeeded();

        Assert.DoesNotContain((await cli.RunAsync("ad", "sp", "list")).Succeeded().Json().AsArray(), p => p!["id"]!.GetValue<string>() == principalId);
        (await cli.RunAsync("group", "create", "-n", group, "-l", "eastus")).Succeeded();
        Assert.Empty((await cli.RunAsync("identity", "list", "--resource-group", group)).Succeeded().Json().AsArray());
    }

    [Fact]
    public async Task A_malformed_identity_name_is_refused()
    {
        var group = $"rg-{Guid.NewGuid():N}"[..20];
        (await server.Cli.RunAsync("group", "create", "-n", group, "-l", "eastus")).Succeeded();

        (await server.Cli.RunAsync("identity", "create", "-n", "x", "-g", group, "-l", "eastus")).FailedWith("InvalidResourceName");
        Assert.Empty((await server.Cli.RunAsync("identity", "list", "--resource-group", group)).Succeeded().Json().AsArray());
    }
}
