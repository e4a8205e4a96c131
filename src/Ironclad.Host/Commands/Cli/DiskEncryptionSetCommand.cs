// `ironclad disk-encryption-set create|show|list|update|delete|list-associated-resources`:
// Microsoft.Compute/diskEncryptionSets over ARM (HTTP only, like every CLI command). The server
// validates the vault, the key and the identity's access; the CLI only builds the request, resolves
// a vault or identity given by name to its id in the same resource group, and prints.
using System.CommandLine;
using System.Text.Json.Nodes;
using Ironclad.Host.Cli;
using static Ironclad.Host.Commands.Cli.CliCommand;

namespace Ironclad.Host.Commands.Cli;

internal static class DiskEncryptionSetCommand
{
    /// <summary>The Microsoft.Compute disk-family api-version the CLI sends (the server accepts any).</summary>
    public const string ComputeApiVersion = "2025-01-02";

    private static readonly Column[] SetColumns =
    [
        Column.Path("Name", "name"), Column.Path("Location", "location"), Column.Path("EncryptionType", "properties.encryptionType"),
        Column.Path("KeyUrl", "properties.activeKey.keyUrl"), Column.Path("Identity", "identity.type"),
        Column.Path("PrincipalId", "identity.principalId"), Column.Path("AutoRotation", "properties.rotationToLatestKeyVersionEnabled"),
        Column.Path("State", "properties.provisioningState"),
    ];

    private static readonly Column[] IdColumns = [Column.Path("Id", "id")];

    public static Command Create() => Group(
        "disk-encryption-set",
        "Manage disk encryption sets (customer-managed keys for disks, snapshots and images).",
        CreateSet(), Show(), List(), Update(), Delete(), ListAssociatedResources());

    private static Command CreateSet()
    {
        var name = Required("--name", "-n", "Disk encryption set name.");
        var group = Required("--resource-group", "-g", "Resource group.");
        var location = Required("--location", "-l", "Location, e.g. eastus (the vault's and the disks').");
        var keyUrl = Required("--key-url", "-k", "The key: https://127.0.0.1:PORT/keys/NAME[/VERSION] (versionless = its current version).");
        var vault = Required("--source-vault", "-v", "The key's vault: its resource id, or its name in the same resource group.");
        var encryptionType = new Option<string>("--encryption-type")
        {
            Description = "EncryptionAtRestWithCustomerKey (default) or EncryptionAtRestWithPlatformAndCustomerKeys (double encryption).",
            DefaultValueFactory = _ => "EncryptionAtRestWithCustomerKey",
        };
        var systemAssigned = new Option<bool>("--mi-system-assigned") { Description = "Give the set a system-assigned identity (the default when no --mi-user-assigned)." };
        var userAssigned = new Option<string[]>("--mi-user-assigned")
        {
            Description = "User-assigned identities (resource ids, or names in the same resource group); the first one calls the vault.",
            AllowMultipleArgumentsPerToken = true,
            Arity = ArgumentArity.ZeroOrMore,
        };
        var autoRotation = new Option<bool>("--enable-auto-key-rotation") { Description = "Follow new versions of the key (rotationToLatestKeyVersionEnabled)." };
        var tags = Tags();
        return Leaf("create", "Create a disk encryption set; grant its identity get, wrapKey and unwrapKey on the key first (or right after, for a system-assigned one).",
            [name, group, location, keyUrl, vault, encryptionType, systemAssigned, userAssigned, autoRotation, tags], SetColumns, (call, ct) =>
            {
                var rg = call.Value(group);
                var users = call.Value(userAssigned) ?? [];
                var body = new JsonObject
                {
                    ["location"] = call.Value(location),
                    ["tags"] = TagsObject(call.Value(tags)),
                    ["identity"] = Identity(call, rg, call.Value(systemAssigned) || users.Length == 0, users),
                    ["properties"] = new JsonObject
                    {
                        ["encryptionType"] = call.Value(encryptionType),
                        ["activeKey"] = ActiveKey(call, rg, call.Value(keyUrl), call.Value(vault)),
                        ["rotationToLatestKeyVersionEnabled"] = call.Value(autoRotation),
                    },
                };
                return call.Connection.SendAsync(HttpMethod.Put, SetPath(call, rg, call.Value(name)), ComputeApiVersion, body, ct);
            });
    }

    private static Command Show()
    {
        var name = Required("--name", "-n", "Disk encryption set name.");
        var group = Required("--resource-group", "-g", "Resource group.");
        return Leaf("show", "Show a disk encryption set (with previousKeys while a rotation re-wraps).", [name, group], SetColumns, (call, ct) =>
            call.Connection.SendAsync(HttpMethod.Get, SetPath(call, call.Value(group), call.Value(name)), ComputeApiVersion, null, ct));
    }

    private static Command List()
    {
        var group = new Option<string?>("--resource-group", "-g") { Description = "Only this resource group's sets." };
        return Leaf("list", "List disk encryption sets.", [group], SetColumns, async (call, ct) =>
            await call.Connection.ListAsync(CollectionPath(call, call.Value(group), "diskEncryptionSets"), ComputeApiVersion, ct));
    }

    private static Command Update()
    {
        var name = Required("--name", "-n", "Disk encryption set name.");
        var group = Required("--resource-group", "-g", "Resource group.");
        var keyUrl = Optional("--key-url", "A new key or key version: every DEK of the set is re-wrapped under it (no data rewrite).");
        var vault = Optional("--source-vault", "The new key's vault (id or name in the same resource group); default: the current one.");
        var autoRotation = new Option<bool?>("--enable-auto-key-rotation") { Description = "true or false." };
        var tags = Tags();
        return Leaf("update", "Update a disk encryption set (PATCH: only what is given changes).", [name, group, keyUrl, vault, autoRotation, tags], SetColumns, async (call, ct) =>
        {
            var rg = call.Value(group);
            var properties = new JsonObject();
            if (call.Value(keyUrl) is { Length: > 0 } key)
            {
                var vaultValue = call.Value(vault);
                if (vaultValue is not { Length: > 0 })
                {
                    var current = await call.Connection.SendAsync(HttpMethod.Get, SetPath(call, rg, call.Value(name)), ComputeApiVersion, null, ct);
                    vaultValue = CliOutput.Select(current, "properties.activeKey.sourceVault.id")
                        ?? throw new CliException("InvalidResponse", "The set has no activeKey.sourceVault.id; give --source-vault.");
                }

                properties["activeKey"] = ActiveKey(call, rg, key, vaultValue);
            }

            if (call.Value(autoRotation) is { } rotation)
            {
                properties["rotationToLatestKeyVersionEnabled"] = rotation;
            }

            var body = new JsonObject { ["properties"] = properties };
            if (call.ParseResult.GetResult(tags) is not null)
            {
                body["tags"] = TagsObject(call.Value(tags));
            }

            return await call.Connection.SendAsync(HttpMethod.Patch, SetPath(call, rg, call.Value(name)), ComputeApiVersion, body, ct);
        });
    }

    private static Command Delete()
    {
        var name = Required("--name", "-n", "Disk encryption set name.");
        var group = Required("--resource-group", "-g", "Resource group.");
        return Leaf("delete", "Delete a disk encryption set (refused while a disk, snapshot or image uses it).", [name, group], SetColumns, async (call, ct) =>
        {
            await call.Connection.SendAsync(HttpMethod.Delete, SetPath(call, call.Value(group), call.Value(name)), ComputeApiVersion, null, ct);
            return null;
        });
    }

    private static Command ListAssociatedResources()
    {
        var name = Required("--name", "-n", "Disk encryption set name.");
        var group = Required("--resource-group", "-g", "Resource group.");
        return Leaf("list-associated-resources", "List the ids of the disks, snapshots and images encrypted through the set.", [name, group], IdColumns, async (call, ct) =>
        {
            var ids = await call.Connection.ListAsync(SetPath(call, call.Value(group), call.Value(name)) + "/associatedResources", ComputeApiVersion, ct);
            return new JsonArray([.. ids.Select(id => (JsonNode)new JsonObject { ["id"] = id?.DeepClone() })]);
        });
    }

    // ── Shared with the disk commands ─────────────────────────────────────────────────────────

    public static string SetPath(CliInvocation call, string group, string name) =>
        ResourcePath(call, group, "diskEncryptionSets", name);

    public static string ResourcePath(CliInvocation call, string group, string type, string name) =>
        $"/subscriptions/{call.Subscription}/resourceGroups/{Uri.EscapeDataString(group)}/providers/Microsoft.Compute/{type}/{Uri.EscapeDataString(name)}";

    public static string CollectionPath(CliInvocation call, string? group, string type) => group is { Length: > 0 } rg
        ? $"/subscriptions/{call.Subscription}/resourceGroups/{Uri.EscapeDataString(rg)}/providers/Microsoft.Compute/{type}"
        : $"/subscriptions/{call.Subscription}/providers/Microsoft.Compute/{type}";

    /// <summary>A resource id as given, or the id of <paramref name="nameOrId"/> of that type in <paramref name="group"/>.</summary>
    public static string IdOf(CliInvocation call, string group, string provider, string type, string nameOrId) =>
        nameOrId.StartsWith("/subscriptions/", StringComparison.OrdinalIgnoreCase)
            ? nameOrId
            : $"/subscriptions/{call.Subscription}/resourceGroups/{group}/providers/{provider}/{type}/{nameOrId}";

    private static JsonObject ActiveKey(CliInvocation call, string group, string keyUrl, string vault) => new()
    {
        ["keyUrl"] = keyUrl,
        ["sourceVault"] = new JsonObject { ["id"] = IdOf(call, group, "Microsoft.KeyVault", "vaults", vault) },
    };

    private static JsonObject Identity(CliInvocation call, string group, bool systemAssigned, string[] userAssigned)
    {
        var identity = new JsonObject
        {
            ["type"] = (systemAssigned, userAssigned.Length > 0) switch
            {
                (true, true) => "SystemAssigned, UserAssigned",
                (false, true) => "UserAssigned",
                _ => "SystemAssigned",
            },
        };
        if (userAssigned.Length > 0)
        {
            var users = new JsonObject();
            foreach (var user in userAssigned)
            {
                users[IdOf(call, group, "Microsoft.ManagedIdentity", "userAssignedIdentities", user)] = new JsonObject();
            }

            identity["userAssignedIdentities"] = users;
        }

        return identity;
    }
}
