// `ironclad keyvault create|show|list|update|set-policy|delete-policy|delete|recover|purge|list-deleted`:
// key vaults through Microsoft.KeyVault (soft delete is always on; purge protection, once on,
// stays on — the server enforces both, the CLI only forwards). The vault's tenant is the login's.
// `keyvault key ...` (KeyVaultKeyCommand) and `keyvault audit ...` (KeyVaultAuditCommand) hang here.
using System.CommandLine;
using System.Text.Json.Nodes;
using Ironclad.Host.Cli;
using static Ironclad.Host.Commands.Cli.CliCommand;

namespace Ironclad.Host.Commands.Cli;

internal static class KeyVaultCommand
{
    private static readonly Column[] VaultColumns =
    [
        Column.Path("Name", "name"), Column.Path("ResourceGroup", "id"), Column.Path("Location", "location"), Column.Path("Sku", "properties.sku.name"),
        Column.Path("VaultUri", "properties.vaultUri"), Column.Path("PurgeProtection", "properties.enablePurgeProtection"),
        Column.Path("Rbac", "properties.enableRbacAuthorization"),
    ];

    private static readonly Column[] DeletedColumns =
    [
        Column.Path("Name", "name"), Column.Path("Location", "properties.location"), Column.Path("DeletionDate", "properties.deletionDate"),
        Column.Path("ScheduledPurgeDate", "properties.scheduledPurgeDate"), Column.Path("PurgeProtection", "properties.purgeProtectionEnabled"),
    ];

    private static readonly Column[] PolicyColumns =
        [Column.Path("ObjectId", "objectId"), Column.Path("TenantId", "tenantId"), Column.Path("Keys", "permissions.keys")];

    public static Command Create()
    {
        return Group(
            "keyvault",
            "Manage key vaults (the management plane).",
            CreateVault(), Show(), List(), Update(), SetPolicy(), DeletePolicy(), Delete(), ListDeleted(), Recover(), Purge(),
            KeyVaultKeyCommand.Create(), KeyVaultAuditCommand.Create());
    }

    private static Command CreateVault()
    {
        var name = Required("--name", "-n", "Vault name (globally unique, soft-deleted names included).");
        var group = Required("--resource-group", "-g", "Resource group.");
        var location = Required("--location", "-l", "Location, e.g. eastus.");
        var sku = new Option<string>("--sku") { Description = "standard (default) or premium.", DefaultValueFactory = _ => "standard" };
        var retention = new Option<int?>("--retention-days") { Description = "Soft-delete retention, 7-90 days (default 90)." };
        var purgeProtection = new Option<bool>("--enable-purge-protection") { Description = "Turn purge protection on (it can never be turned off)." };
        var rbac = new Option<bool>("--enable-rbac-authorization") { Description = "Authorize the data plane by RBAC instead of access policies." };
        var tags = Tags();
        return Leaf("create", "Create a key vault.", [name, group, location, sku, retention, purgeProtection, rbac, tags], VaultColumns, (call, ct) =>
        {
            var properties = new JsonObject
            {
                ["tenantId"] = call.Connection.Profile.TenantId,
                ["sku"] = new JsonObject { ["family"] = "A", ["name"] = call.Value(sku) },
                ["accessPolicies"] = new JsonArray(),
                ["enableSoftDelete"] = true,
                ["enableRbacAuthorization"] = call.Value(rbac),
            };
            if (call.Value(retention) is { } days)
            {
                properties["softDeleteRetentionInDays"] = days;
            }

            if (call.Value(purgeProtection))
            {
                properties["enablePurgeProtection"] = true;
            }

            var body = new JsonObject { ["location"] = call.Value(location), ["tags"] = TagsObject(call.Value(tags)), ["properties"] = properties };
            return call.Connection.SendAsync(HttpMethod.Put, VaultPath(call, call.Value(group), call.Value(name)), ArmConnection.KeyVaultApiVersion, body, ct);
        });
    }

    private static Command Show()
    {
        var name = Required("--name", "-n", "Vault name.");
        var group = Required("--resource-group", "-g", "Resource group.");
        return Leaf("show", "Show a key vault.", [name, group], VaultColumns, (call, ct) =>
            call.Connection.SendAsync(HttpMethod.Get, VaultPath(call, call.Value(group), call.Value(name)), ArmConnection.KeyVaultApiVersion, null, ct));
    }

    private static Command List()
    {
        var group = Optional("--resource-group", "Only this resource group's vaults.");
        return Leaf("list", "List key vaults.", [group], VaultColumns, async (call, ct) =>
        {
            var path = call.Value(group) is { Length: > 0 } rg
                ? $"/subscriptions/{call.Subscription}/resourceGroups/{Uri.EscapeDataString(rg)}/providers/Microsoft.KeyVault/vaults"
                : $"/subscriptions/{call.Subscription}/providers/Microsoft.KeyVault/vaults";
            return await call.Connection.ListAsync(path, ArmConnection.KeyVaultApiVersion, ct);
        });
    }

    private static Command Update()
    {
        var name = Required("--name", "-n", "Vault name.");
        var group = Required("--resource-group", "-g", "Resource group.");
        var purgeProtection = new Option<bool?>("--enable-purge-protection") { Description = "true turns purge protection on (false is refused once on)." };
        var rbac = new Option<bool?>("--enable-rbac-authorization") { Description = "true or false." };
        var retention = new Option<int?>("--retention-days") { Description = "Soft-delete retention, 7-90 days." };
        var tags = Tags();
        return Leaf("update", "Update a key vault's properties (PATCH: only what is given changes).", [name, group, purgeProtection, rbac, retention, tags], VaultColumns, (call, ct) =>
        {
            var properties = new JsonObject();
            if (call.Value(purgeProtection) is { } protection)
            {
                properties["enablePurgeProtection"] = protection;
            }

            if (call.Value(rbac) is { } useRbac)
            {
                properties["enableRbacAuthorization"] = useRbac;
            }

            if (call.Value(retention) is { } days)
            {
                properties["softDeleteRetentionInDays"] = days;
            }

            var body = new JsonObject { ["properties"] = properties };
            if (call.ParseResult.GetResult(tags) is not null)
            {
                body["tags"] = TagsObject(call.Value(tags));
            }

            return call.Connection.SendAsync(HttpMethod.Patch, VaultPath(call, call.Value(group), call.Value(name)), ArmConnection.KeyVaultApiVersion, body, ct);
        });
    }

    private static Command SetPolicy()
    {
        var name = Required("--name", "-n", "Vault name.");
        var group = Required("--resource-group", "-g", "Resource group.");
        var objectId = Required("--object-id", "-o2", "Object id of the principal.");
        var keyPermissions = new Option<string[]>("--key-permissions")
        {
            Description = "Key permissions, e.g. get wrapKey unwrapKey.",
            AllowMultipleArgumentsPerToken = true,
            Required = true,
        };
        return Leaf("set-policy", "Add or merge an access policy.", [name, group, objectId, keyPermissions], PolicyColumns, async (call, ct) =>
        {
            var policy = new JsonObject
            {
                ["tenantId"] = call.Connection.Profile.TenantId,
                ["objectId"] = call.Value(objectId),
                ["permissions"] = new JsonObject { ["keys"] = new JsonArray([.. call.Value(keyPermissions).Select(p => (JsonNode)JsonValue.Create(p))]) },
            };
            return await PoliciesAsync(call, call.Value(group), call.Value(name), "add", policy, ct);
        });
    }

    private static Command DeletePolicy()
    {
        var name = Required("--name", "-n", "Vault name.");
        var group = Required("--resource-group", "-g", "Resource group.");
        var objectId = Required("--object-id", "-o2", "Object id of the principal whose policy goes.");
        return Leaf("delete-policy", "Remove a principal's access policy.", [name, group, objectId], PolicyColumns, async (call, ct) =>
        {
            var policy = new JsonObject
            {
                ["tenantId"] = call.Connection.Profile.TenantId,
                ["objectId"] = call.Value(objectId),
                ["permissions"] = new JsonObject { ["keys"] = new JsonArray() },
            };
            return await PoliciesAsync(call, call.Value(group), call.Value(name), "remove", policy, ct);
        });
    }

    private static Command Delete()
    {
        var name = Required("--name", "-n", "Vault name.");
        var group = Required("--resource-group", "-g", "Resource group.");
        return Leaf("delete", "Delete a key vault (soft delete: it can be recovered until purged).", [name, group], VaultColumns, async (call, ct) =>
        {
            await call.Connection.SendAsync(HttpMethod.Delete, VaultPath(call, call.Value(group), call.Value(name)), ArmConnection.KeyVaultApiVersion, null, ct);
            return null;
        });
    }

    private static Command ListDeleted() =>
        Leaf("list-deleted", "List soft-deleted key vaults.", [], DeletedColumns, async (call, ct) =>
            await call.Connection.ListAsync($"/subscriptions/{call.Subscription}/providers/Microsoft.KeyVault/deletedVaults", ArmConnection.KeyVaultApiVersion, ct));

    private static Command Recover()
    {
        var name = Required("--name", "-n", "Name of the deleted vault.");
        return Leaf("recover", "Recover a soft-deleted key vault with its properties.", [name], VaultColumns, async (call, ct) =>
        {
            var deleted = await FindDeletedAsync(call, call.Value(name), ct);
            var vaultId = CliOutput.Select(deleted, "properties.vaultId")
                ?? throw new CliException("InvalidResponse", "The deleted vault has no properties.vaultId.");
            var body = new JsonObject
            {
                ["location"] = CliOutput.Select(deleted, "properties.location"),
                ["properties"] = new JsonObject
                {
                    ["tenantId"] = call.Connection.Profile.TenantId,
                    ["sku"] = new JsonObject { ["family"] = "A", ["name"] = "standard" },
                    ["createMode"] = "recover",
                },
            };
            return await call.Connection.SendAsync(HttpMethod.Put, vaultId, ArmConnection.KeyVaultApiVersion, body, ct);
        });
    }

    private static Command Purge()
    {
        var name = Required("--name", "-n", "Name of the deleted vault.");
        var location = Optional("--location", "Its location (default: looked up).");
        return Leaf("purge", "Purge a soft-deleted key vault (refused under purge protection until the retention has passed).", [name, location], DeletedColumns, async (call, ct) =>
        {
            var at = call.Value(location) is { Length: > 0 } given
                ? given
                : CliOutput.Select(await FindDeletedAsync(call, call.Value(name), ct), "properties.location")
                    ?? throw new CliException("InvalidResponse", "The deleted vault has no location.");
            await call.Connection.SendAsync(
                HttpMethod.Post,
                $"/subscriptions/{call.Subscription}/providers/Microsoft.KeyVault/locations/{Uri.EscapeDataString(at)}/deletedVaults/{Uri.EscapeDataString(call.Value(name))}/purge",
                ArmConnection.KeyVaultApiVersion,
                null,
                ct);
            return null;
        });
    }

    private static async Task<JsonNode?> PoliciesAsync(CliInvocation call, string group, string name, string kind, JsonObject policy, CancellationToken ct)
    {
        var result = await call.Connection.SendAsync(
            HttpMethod.Put, $"{VaultPath(call, group, name)}/accessPolicies/{kind}", ArmConnection.KeyVaultApiVersion,
            new JsonObject { ["properties"] = new JsonObject { ["accessPolicies"] = new JsonArray(policy) } }, ct);
        return result?["properties"]?["accessPolicies"]?.DeepClone() ?? new JsonArray();
    }

    private static async Task<JsonNode> FindDeletedAsync(CliInvocation call, string name, CancellationToken ct)
    {
        var deleted = await call.Connection.ListAsync($"/subscriptions/{call.Subscription}/providers/Microsoft.KeyVault/deletedVaults", ArmConnection.KeyVaultApiVersion, ct);
        return deleted.FirstOrDefault(d => string.Equals(CliOutput.Select(d, "name"), name, StringComparison.OrdinalIgnoreCase))
            ?? throw new CliException("ResourceNotFound", $"No soft-deleted vault is named '{name}'.");
    }

    private static string VaultPath(CliInvocation call, string group, string name) =>
        $"/subscriptions/{call.Subscription}/resourceGroups/{Uri.EscapeDataString(group)}/providers/Microsoft.KeyVault/vaults/{Uri.EscapeDataString(name)}";
}
