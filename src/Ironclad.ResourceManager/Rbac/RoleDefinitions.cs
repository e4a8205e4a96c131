// The role definitions visible to authorization and to the roleDefinitions API: Azure's built-ins
// (fixed) and custom roles (stored). Invariants: a custom role never takes a built-in's GUID or
// name; role names are unique case-insensitively; a role in use by an assignment cannot be deleted.
using System.Text.Json;
using System.Text.Json.Nodes;
using Ironclad.ResourceManager.Providers;
using Ironclad.ResourceManager.Storage;

namespace Ironclad.ResourceManager.Rbac;

public sealed class RoleDefinitions
{
    private readonly IResourceManagerStore _store;

    public RoleDefinitions(IResourceManagerStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        _store = store;
    }

    public IReadOnlyList<RoleDefinition> All => [.. BuiltInRoles.All, .. _store.ListCustomRoles().Select(Read)];

    public RoleDefinition? Find(Guid id) => BuiltInRoles.Find(id) ?? All.FirstOrDefault(r => r.Id == id);

    /// <summary>Finds by role name (case-insensitive), for `$filter=roleName eq '…'`.</summary>
    public RoleDefinition? FindByName(string roleName) =>
        All.FirstOrDefault(r => string.Equals(r.RoleName, roleName, StringComparison.OrdinalIgnoreCase));

    /// <summary>Creates or replaces a custom role; true when created.</summary>
    public bool Upsert(RoleDefinition role)
    {
        ArgumentNullException.ThrowIfNull(role);
        if (BuiltInRoles.Find(role.Id) is not null)
        {
            throw new ArmException(403, "RoleDefinitionUpdateNotPermitted", "Built-in role definitions cannot be changed.");
        }

        if (string.IsNullOrWhiteSpace(role.RoleName))
        {
            throw new ArmException(400, "InvalidRoleDefinition", "A custom role needs a roleName.");
        }

        if (FindByName(role.RoleName) is { } other && other.Id != role.Id)
        {
            throw new ArmException(409, "RoleDefinitionWithSameNameExists", $"A role definition cannot be updated with a name that already exists.");
        }

        if (role.AssignableScopes.Count == 0)
        {
            throw new ArmException(400, "InvalidAssignableScopes", "A custom role needs at least one assignable scope.");
        }

        return _store.UpsertCustomRole(role.Id, role.RoleName, Write(role with { Type = "CustomRole" }));
    }

    /// <summary>Deletes a custom role; the deleted definition, or null if there was none.</summary>
    public RoleDefinition? Delete(Guid id)
    {
        if (BuiltInRoles.Find(id) is not null)
        {
            throw new ArmException(403, "RoleDefinitionUpdateNotPermitted", "Built-in role definitions cannot be deleted.");
        }

        var existing = Find(id);
        if (existing is null)
        {
            return null;
        }

        if (_store.IsRoleAssigned(id))
        {
            throw new ArmException(409, "RoleDefinitionHasAssignments", "There are existing role assignments referencing role.");
        }

        _store.DeleteCustomRole(id);
        return existing;
    }

    private static string Write(RoleDefinition role) => new JsonObject
    {
        ["id"] = role.Id.ToString(),
        ["roleName"] = role.RoleName,
        ["description"] = role.Description,
        ["type"] = role.Type,
        ["assignableScopes"] = new JsonArray([.. role.AssignableScopes.Select(s => (JsonNode)JsonValue.Create(s))]),
        ["permissions"] = new JsonArray([.. role.Permissions.Select(p => (JsonNode)new JsonObject
        {
            ["actions"] = Strings(p.Actions),
            ["notActions"] = Strings(p.NotActions),
            ["dataActions"] = Strings(p.DataActions),
            ["notDataActions"] = Strings(p.NotDataActions),
        })]),
    }.ToJsonString();

    private static JsonArray Strings(IEnumerable<string> values) => new([.. values.Select(v => (JsonNode)JsonValue.Create(v))]);

    private static RoleDefinition Read(string json)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        return new RoleDefinition(
            Guid.Parse(root.GetProperty("id").GetString()!),
            root.GetProperty("roleName").GetString()!,
            root.GetProperty("description").GetString() ?? "",
            root.GetProperty("type").GetString()!,
            [.. root.GetProperty("permissions").EnumerateArray().Select(ReadBlock)],
            [.. root.GetProperty("assignableScopes").EnumerateArray().Select(s => s.GetString()!)]);
    }

    /// <summary>Reads one permission block (Azure's wire shape; missing lists are empty).</summary>
    public static RolePermissionBlock ReadBlock(JsonElement block) => new(
        List(block, "actions"), List(block, "notActions"), List(block, "dataActions"), List(block, "notDataActions"));

    private static string[] List(JsonElement block, string name) =>
        block.ValueKind == JsonValueKind.Object && block.TryGetProperty(name, out var list) && list.ValueKind == JsonValueKind.Array
            ? [.. list.EnumerateArray().Select(v => v.GetString() ?? "")]
            : [];
}
