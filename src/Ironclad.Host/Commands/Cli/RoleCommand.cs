// `ironclad role assignment create|list|delete` and `ironclad role definition list`: RBAC through
// Microsoft.Authorization at any scope (default: the subscription). A role is named by its name
// ("Key Vault Crypto Officer") or its GUID; names are resolved against the definitions the server lists.
using System.CommandLine;
using System.Text.Json.Nodes;
using Ironclad.Host.Cli;
using static Ironclad.Host.Commands.Cli.CliCommand;

namespace Ironclad.Host.Commands.Cli;

internal static class RoleCommand
{
    private static readonly Column[] AssignmentColumns =
    [
        Column.Path("Name", "name"), Column.Path("Principal", "properties.principalId"), Column.Path("PrincipalType", "properties.principalType"),
        new("Role", item => CliOutput.Select(item, "properties.roleDefinitionId")?.Split('/')[^1]), Column.Path("Scope", "properties.scope"),
    ];

    private static readonly Column[] DefinitionColumns =
        [Column.Path("Name", "properties.roleName"), Column.Path("Id", "name"), Column.Path("Type", "properties.type"), Column.Path("Description", "properties.description")];

    public static Command Create()
    {
        var assignee = Required("--assignee", "-a", "Object id of the principal.");
        var role = Required("--role", "-r", "Role name or GUID.");
        var scope = Optional("--scope", "Scope (default: the subscription).");
        var principalType = Optional("--assignee-principal-type", "ServicePrincipal (default), User or Group.");
        var create = Leaf("create", "Assign a role to a principal at a scope.", [assignee, role, scope, principalType], AssignmentColumns, async (call, ct) =>
        {
            var at = ScopeOf(call, call.Value(scope));
            var definitionId = await ResolveRoleAsync(call, call.Value(role), ct);
            return await call.Connection.SendAsync(
                HttpMethod.Put, $"{at}/providers/Microsoft.Authorization/roleAssignments/{Guid.NewGuid()}", ArmConnection.AuthorizationApiVersion,
                new JsonObject
                {
                    ["properties"] = new JsonObject
                    {
                        ["roleDefinitionId"] = definitionId,
                        ["principalId"] = call.Value(assignee),
                        ["principalType"] = call.Value(principalType) is { Length: > 0 } type ? type : "ServicePrincipal",
                    },
                },
                ct);
        });

        var listAssignee = Optional("--assignee", "Only this principal's assignments.");
        var listScope = Optional("--scope", "Scope (default: the subscription).");
        var list = Leaf("list", "List role assignments at a scope (inherited ones included).", [listAssignee, listScope], AssignmentColumns, async (call, ct) =>
        {
            var filter = call.Value(listAssignee) is { Length: > 0 } principal ? $"?$filter={Uri.EscapeDataString($"principalId eq '{principal}'")}" : "";
            return await call.Connection.ListAsync(
                $"{ScopeOf(call, call.Value(listScope))}/providers/Microsoft.Authorization/roleAssignments{filter}", ArmConnection.AuthorizationApiVersion, ct);
        });

        var ids = Required("--ids", "-i", "Full id of the role assignment.");
        var delete = Leaf("delete", "Delete a role assignment.", [ids], AssignmentColumns, async (call, ct) =>
        {
            await call.Connection.SendAsync(HttpMethod.Delete, call.Value(ids), ArmConnection.AuthorizationApiVersion, null, ct);
            return null;
        });

        var definitionName = Optional("--name", "Only the role with this name.");
        var definitionScope = Optional("--scope", "Scope (default: the subscription).");
        var definitions = Leaf("list", "List role definitions.", [definitionName, definitionScope], DefinitionColumns, async (call, ct) =>
        {
            var all = await call.Connection.ListAsync(
                $"{ScopeOf(call, call.Value(definitionScope))}/providers/Microsoft.Authorization/roleDefinitions", ArmConnection.AuthorizationApiVersion, ct);
            return call.Value(definitionName) is { Length: > 0 } wanted
                ? new JsonArray([.. all.Where(d => string.Equals(CliOutput.Select(d, "properties.roleName"), wanted, StringComparison.OrdinalIgnoreCase)).Select(d => d!.DeepClone())])
                : all;
        });

        return Group(
            "role",
            "Manage role-based access control.",
            Group("assignment", "Manage role assignments.", create, list, delete),
            Group("definition", "Read role definitions.", definitions));
    }

    private static string ScopeOf(CliInvocation call, string? scope) =>
        scope is { Length: > 0 } ? "/" + scope.TrimStart('/') : $"/subscriptions/{call.Subscription}";

    private static async Task<string> ResolveRoleAsync(CliInvocation call, string role, CancellationToken cancellationToken)
    {
        var subscriptionDefinitions = $"/subscriptions/{call.Subscription}/providers/Microsoft.Authorization/roleDefinitions";
        if (Guid.TryParse(role, out var id))
        {
            return $"{subscriptionDefinitions}/{id}";
        }

        var definitions = await call.Connection.ListAsync(subscriptionDefinitions, ArmConnection.AuthorizationApiVersion, cancellationToken);
        var match = definitions.FirstOrDefault(d => string.Equals(CliOutput.Select(d, "properties.roleName"), role, StringComparison.OrdinalIgnoreCase));
        return CliOutput.Select(match, "id") ?? throw new CliException("RoleNotFound", $"No role definition is named '{role}'.");
    }
}
