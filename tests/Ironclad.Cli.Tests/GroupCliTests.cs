// `ironclad group` against a real server: a resource group created, shown (JSON and table),
// listed, re-tagged and deleted, each step checked through the next command's output.
namespace Ironclad.Cli.Tests;

public sealed class GroupCliTests(CliServer server) : IClassFixture<CliServer>
{
    [Fact]
    public async Task A_group_is_created_shown_listed_updated_and_deleted()
    {
        var cli = server.Cli;
        var name = $"rg-{Guid.NewGuid():N}"[..20];

        var created = (await cli.RunAsync("group", "create", "-n", name, "-l", "eastus", "--tags", "team=storage", "env=test")).Succeeded().Json();
        Assert.Equal($"/subscriptions/{server.SubscriptionId}/resourceGroups/{name}", created["id"]!.GetValue<string>(), ignoreCase: true);
        Assert.Equal("storage", created["tags"]!["team"]!.GetValue<string>());

        var table = (await cli.RunAsync("group", "show", "-n", name, "-o", "table")).Succeeded().StandardOutput;
        Assert.Contains(name, table, StringComparison.Ordinal);
        Assert.Contains("eastus", table, StringComparison.Ordinal);

        var listed = (await cli.RunAsync("group", "list")).Succeeded().Json().AsArray();
        Assert.Contains(listed, g => g!["name"]!.GetValue<string>() == name);

        var updated = (await cli.RunAsync("group", "update", "-n", name, "--tags", "team=platform")).Succeeded().Json();
        Assert.Equal("platform", updated["tags"]!["team"]!.GetValue<string>());

        (await cli.RunAsync("group", "delete", "-n", name)).Succeeded();
        (await cli.RunAsync("group", "show", "-n", name)).FailedWith("ResourceGroupNotFound", expectedExit: 3);
    }

    [Fact]
    public async Task A_malformed_tag_is_refused_before_anything_is_sent()
    {
        var name = $"rg-{Guid.NewGuid():N}"[..20];

        (await server.Cli.RunAsync("group", "create", "-n", name, "-l", "eastus", "--tags", "no-equals-sign")).FailedWith("InvalidArgument");
        (await server.Cli.RunAsync("group", "show", "-n", name)).FailedWith("ResourceGroupNotFound", expectedExit: 3);
    }
}
