// `ironclad group create|show|list|update|delete`: resource groups through Resource Manager
// (`/subscriptions/{sub}/resourcegroups/{name}`). Deleting a group deletes what is inside it.
using System.CommandLine;
using System.Text.Json.Nodes;
using Ironclad.Host.Cli;
using static Ironclad.Host.Commands.Cli.CliCommand;

namespace Ironclad.Host.Commands.Cli;

internal static class GroupCommand
{
    private static readonly Column[] Columns =
        [Column.Path("Name", "name"), Column.Path("Location", "location"), Column.Path("State", "properties.provisioningState"), Column.Path("Tags", "tags")];

    public static Command Create()
    {
        var name = Required("--name", "-n", "Resource group name.");
        var location = Required("--location", "-l", "Location, e.g. eastus.");
        var tags = Tags();
        var create = Leaf("create", "Create or replace a resource group.", [name, location, tags], Columns, (call, ct) =>
            call.Connection.SendAsync(HttpMethod.Put, GroupPath(call, call.Value(name)), ArmConnection.ResourcesApiVersion,
                new JsonObject { ["location"] = call.Value(location), ["tags"] = TagsObject(call.Value(tags)) }, ct));

        var showName = Required("--name", "-n", "Resource group name.");
        var show = Leaf("show", "Show a resource group.", [showName], Columns, (call, ct) =>
            call.Connection.SendAsync(HttpMethod.Get, GroupPath(call, call.Value(showName)), ArmConnection.ResourcesApiVersion, null, ct));

        var list = Leaf("list", "List the subscription's resource groups.", [], Columns, async (call, ct) =>
            await call.Connection.ListAsync($"/subscriptions/{call.Subscription}/resourcegroups", ArmConnection.ResourcesApiVersion, ct));

        var updateName = Required("--name", "-n", "Resource group name.");
        var updateTags = Tags();
        var update = Leaf("update", "Replace a resource group's tags.", [updateName, updateTags], Columns, (call, ct) =>
            call.Connection.SendAsync(HttpMethod.Patch, GroupPath(call, call.Value(updateName)), ArmConnection.ResourcesApiVersion,
                new JsonObject { ["tags"] = TagsObject(call.Value(updateTags)) }, ct));

        var deleteName = Required("--name", "-n", "Resource group name.");
        var delete = Leaf("delete", "Delete a resource group and everything in it.", [deleteName], Columns, async (call, ct) =>
        {
            await call.Connection.SendAsync(HttpMethod.Delete, GroupPath(call, call.Value(deleteName)), ArmConnection.ResourcesApiVersion, null, ct);
            return null;
        });

        return Group("group", "Manage resource groups.", create, show, list, update, delete);
    }

    private static string GroupPath(CliInvocation call, string name) =>
        $"/subscriptions/{call.Subscription}/resourcegroups/{Uri.EscapeDataString(name)}";
}
