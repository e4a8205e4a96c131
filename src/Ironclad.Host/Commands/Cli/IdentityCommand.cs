// `ironclad identity create|show|list|delete`: user-assigned managed identities
// (Microsoft.ManagedIdentity/userAssignedIdentities). The output's principalId is the object id to
// grant vault access to; the identity's tokens are issued only to the platform, never to a caller.
using System.CommandLine;
using System.Text.Json.Nodes;
using Ironclad.Host.Cli;
using static Ironclad.Host.Commands.Cli.CliCommand;

namespace Ironclad.Host.Commands.Cli;

internal static class IdentityCommand
{
    private const string ApiVersion = "2023-01-31";

    private static readonly Column[] Columns =
    [
        Column.Path("Name", "name"), Column.Path("Location", "location"), Column.Path("PrincipalId", "properties.principalId"),
        Column.Path("ClientId", "properties.clientId"), Column.Path("TenantId", "properties.tenantId"),
    ];

    public static Command Create()
    {
        var name = Required("--name", "-n", "Identity name.");
        var group = Required("--resource-group", "-g", "Resource group.");
        var location = Required("--location", "-l", "Location, e.g. eastus.");
        var tags = Tags();
        var create = Leaf("create", "Create a user-assigned managed identity.", [name, group, location, tags], Columns, (call, ct) =>
            call.Connection.SendAsync(HttpMethod.Put, IdentityPath(call, call.Value(group), call.Value(name)), ApiVersion,
                new JsonObject { ["location"] = call.Value(location), ["tags"] = TagsObject(call.Value(tags)) }, ct));

        var showName = Required("--name", "-n", "Identity name.");
        var showGroup = Required("--resource-group", "-g", "Resource group.");
        var show = Leaf("show", "Show a user-assigned managed identity.", [showName, showGroup], Columns, (call, ct) =>
            call.Connection.SendAsync(HttpMethod.Get, IdentityPath(call, call.Value(showGroup), call.Value(showName)), ApiVersion, null, ct));

        var listGroup = Optional("--resource-group", "Only this resource group's identities.");
        var list = Leaf("list", "List user-assigned managed identities.", [listGroup], Columns, async (call, ct) =>
        {
            var path = call.Value(listGroup) is { Length: > 0 } rg
                ? $"/subscriptions/{call.Subscription}/resourceGroups/{Uri.EscapeDataString(rg)}/providers/Microsoft.ManagedIdentity/userAssignedIdentities"
                : $"/subscriptions/{call.Subscription}/providers/Microsoft.ManagedIdentity/userAssignedIdentities";
            return await call.Connection.ListAsync(path, ApiVersion, ct);
        });

        var deleteName = Required("--name", "-n", "Identity name.");
        var deleteGroup = Required("--resource-group", "-g", "Resource group.");
        var delete = Leaf("delete", "Delete a user-assigned managed identity (and its principal).", [deleteName, deleteGroup], Columns, async (call, ct) =>
        {
            await call.Connection.SendAsync(HttpMethod.Delete, IdentityPath(call, call.Value(deleteGroup), call.Value(deleteName)), ApiVersion, null, ct);
            return null;
        });

        return Group("identity", "Manage user-assigned managed identities.", create, show, list, delete);
    }

    private static string IdentityPath(CliInvocation call, string group, string name) =>
        $"/subscriptions/{call.Subscription}/resourceGroups/{Uri.EscapeDataString(group)}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{Uri.EscapeDataString(name)}";
}
