// `ironclad ad sp list|show|create|delete|credential reset`: the directory's service principals over
// HTTPS (/{tenant}/ironclad/servicePrincipals, see docs/identity.md), as the logged-in principal;
// only the tenant's directory administrator may use them. A new secret is printed once, the way
// `az ad sp create-for-rbac` and `credential reset` print it (appId, displayName, password, tenant).
using System.CommandLine;
using System.Text.Json.Nodes;
using Ironclad.Host.Cli;
using static Ironclad.Host.Commands.Cli.CliCommand;

namespace Ironclad.Host.Commands.Cli;

internal static class AdCommand
{
    private static readonly Column[] Columns =
    [
        Column.Path("DisplayName", "displayName"), Column.Path("AppId", "appId"), Column.Path("ObjectId", "id"), Column.Path("Type", "servicePrincipalType"),
    ];

    private static readonly Column[] SecretColumns = [Column.Path("AppId", "appId"), Column.Path("DisplayName", "displayName"), Column.Path("Tenant", "tenant")];

    public static Command Create()
    {
        var list = Leaf("list", "List the tenant's service principals (applications and managed identities).", [], Columns, async (call, ct) =>
            (await call.Connection.SendAsync(HttpMethod.Get, Collection(call), "", null, ct))?["value"]?.DeepClone());

        var showId = Id();
        var show = Leaf("show", "Show one service principal (by app id or object id) and its secrets' metadata.", [showId], Columns, (call, ct) =>
            call.Connection.SendAsync(HttpMethod.Get, $"{Collection(call)}/{Uri.EscapeDataString(call.Value(showId))}", "", null, ct));

        var name = new Option<string?>("--display-name", "-n") { Description = "Display name.", HelpName = "NAME" };
        var years = Years();
        var create = Leaf("create", "Create a service principal with a client secret (shown once).", [name, years], SecretColumns, async (call, ct) =>
        {
            var body = await call.Connection.SendAsync(
                HttpMethod.Post, Collection(call), "",
                new JsonObject { ["displayName"] = call.Value(name), ["endDateTime"] = DateTimeOffset.UtcNow.AddYears(Math.Max(1, call.Value(years))) }, ct);
            return AzLike(call, CliOutput.Select(body, "appId"), CliOutput.Select(body, "displayName"), CliOutput.Select(body?["passwordCredentials"]?[0], "secretText"));
        });

        var deleteId = Id();
        var delete = Leaf("delete", "Delete a service principal (by app id or object id) and its secrets.", [deleteId], Columns, async (call, ct) =>
        {
            await call.Connection.SendAsync(HttpMethod.Delete, $"{Collection(call)}/{Uri.EscapeDataString(call.Value(deleteId))}", "", null, ct);
            return null;
        });

        var resetId = Id();
        var append = new Option<bool>("--append") { Description = "Keep the existing secrets." };
        var resetYears = Years();
        var reset = Leaf("reset", "Create a new client secret (shown once); without --append it replaces the others.", [resetId, append, resetYears], SecretColumns, async (call, ct) =>
        {
            var id = call.Value(resetId);
            var body = await call.Connection.SendAsync(
                HttpMethod.Post, $"{Collection(call)}/{Uri.EscapeDataString(id)}/passwordCredentials", "",
                new JsonObject
                {
                    ["displayName"] = "reset",
                    ["endDateTime"] = DateTimeOffset.UtcNow.AddYears(Math.Max(1, call.Value(resetYears))),
                    ["append"] = call.Value(append),
                },
                ct);
            return AzLike(call, id, null, CliOutput.Select(body, "secretText"));
        });

        return Group("ad", "Directory: service principals and their client secrets.",
            Group("sp", "Service principals.", list, show, create, delete, Group("credential", "Client secrets of a service principal.", reset)));
    }

    private static JsonObject AzLike(CliInvocation call, string? appId, string? displayName, string? password) => new()
    {
        ["appId"] = appId,
        ["displayName"] = displayName,
        ["password"] = password,
        ["tenant"] = call.Connection.Profile.TenantId,
    };

    private static Option<string> Id() => new("--id") { Description = "App id or object id.", HelpName = "ID", Required = true };

    private static Option<int> Years() => new("--years") { Description = "Secret lifetime in years (default 1).", DefaultValueFactory = _ => 1 };

    private static string Collection(CliInvocation call) => $"{Uri.EscapeDataString(call.Connection.Profile.TenantId)}/ironclad/servicePrincipals";
}
