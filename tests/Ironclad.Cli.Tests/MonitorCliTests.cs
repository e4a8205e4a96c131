// `ironclad monitor activity-log list` against a real server: a write made through the CLI shows
// up in the activity log with its caller and outcome, and a resource filter narrows the list.
namespace Ironclad.Cli.Tests;

public sealed class MonitorCliTests(CliServer server) : IClassFixture<CliServer>
{
    [Fact]
    public async Task The_activity_log_records_a_resource_group_write_by_the_logged_in_principal()
    {
        var cli = server.Cli;
        var group = $"rg-{Guid.NewGuid():N}"[..20];
        var groupId = (await cli.RunAsync("group", "create", "-n", group, "-l", "eastus")).Succeeded().Json()["id"]!.GetValue<string>();

        var events = (await cli.RunAsync("monitor", "activity-log", "list", "--resource-id", groupId)).Succeeded().Json().AsArray();

        var write = Assert.Single(events, e => e!["operationName"]?["value"]?.GetValue<string>()?.EndsWith("/write", StringComparison.OrdinalIgnoreCase) == true);
        Assert.Equal(groupId, write!["resourceId"]!.GetValue<string>(), ignoreCase: true);
        Assert.Equal("Succeeded", write["status"]!["value"]!.GetValue<string>());
        var table = (await cli.RunAsync("monitor", "activity-log", "list", "--resource-id", groupId, "-o", "table")).Succeeded().StandardOutput;
        Assert.Contains("Succeeded", table, StringComparison.Ordinal);
    }
}
