// Microsoft.ManagedIdentity/userAssignedIdentities: the ARM resource behind a user-assigned managed
// identity. The resource (name, group, location, tags) lives in this provider's table; its principal
// (object id = principalId, app id = clientId) lives in the identity provider, created with the
// resource and deleted with it. Invariant: a resource row exists exactly when its principal does —
// the principal is created before the row is written and deleted after the row is gone, so a crash
// leaves at most an orphan principal that the next PUT adopts (EnsureUserAssignedIdentity is idempotent).
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Ironclad.Identity;
using Ironclad.Identity.Store;
using Ironclad.Metadata;
using Ironclad.ResourceManager.Providers;
using Microsoft.Data.Sqlite;

namespace Ironclad.ResourceManager.ManagedIdentity;

public sealed partial class UserAssignedIdentitiesProvider : IResourceProvider
{
    public const string Namespace = "Microsoft.ManagedIdentity";
    public const string TypeName = "userAssignedIdentities";
    public const string ResourceType = Namespace + "/" + TypeName;

    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE managedidentity_identities (
            id_key TEXT PRIMARY KEY,          -- canonical id, upper case: one resource per id, case-insensitively
            id TEXT NOT NULL,                 -- canonical id as first created (its case is kept)
            subscription_id TEXT NOT NULL,
            resource_group_key TEXT NOT NULL, -- upper case
            name TEXT NOT NULL,
            location TEXT NOT NULL,
            tags TEXT NOT NULL,               -- JSON object
            tenant_id TEXT NOT NULL,
            principal_id TEXT NOT NULL,
            client_id TEXT NOT NULL,
            created TEXT NOT NULL
        );
        CREATE INDEX managedidentity_identities_group ON managedidentity_identities (subscription_id, resource_group_key);
        """,
    ];

    private readonly MetadataDatabase _database;
    private readonly IdentityProvider _identity;
    private readonly TimeProvider _time;

    public UserAssignedIdentitiesProvider(MetadataDatabase database, IdentityProvider identity, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(database);
        _database = database;
        _identity = identity ?? throw new ArgumentNullException(nameof(identity));
        _time = time ?? throw new ArgumentNullException(nameof(time));
        database.Migrate("managedidentity", Migrations);
    }

    public string ProviderNamespace => Namespace;

    public string RequiredAction(ProviderRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var verb = request.Method switch
        {
            "GET" => "read",
            "PUT" or "PATCH" => "write",
            "DELETE" => "delete",
            _ => throw new ArmException(405, "MethodNotAllowed", $"{request.Method} is not supported on {ResourceType}."),
        };
        RequireTypePath(request);
        return $"{ResourceType}/{verb}";
    }

    public ProviderResult Handle(ProviderRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var path = RequireTypePath(request);
        if (path.Count == 1)
        {
            return request.Method == "GET"
                ? new ProviderResult(200, ArmPaging.Page([.. List(request.SubscriptionId, request.ResourceGroup, ResourceType)], ListUri(request), request.Query, 100))
                : throw new ArmException(405, "MethodNotAllowed", $"{request.Method} is not supported on a list of {ResourceType}.");
        }

        var group = request.ResourceGroup ?? throw new ArmException(404, "InvalidResourceType", $"{ResourceType}/{{name}} lives in a resource group.");
        var name = path[1];
        return request.Method switch
        {
            "PUT" => Put(request, group, name),
            "PATCH" => Patch(request, group, name),
            "GET" => new ProviderResult(200, Find(request.SubscriptionId, group, name) ?? throw NotFound(group, name)),
            "DELETE" => Delete(request.SubscriptionId, group, name) ? new ProviderResult(200, null) : new ProviderResult(204, null),
            _ => throw new ArmException(405, "MethodNotAllowed", $"{request.Method} is not supported on {ResourceType}."),
        };
    }

    public IReadOnlyList<JsonObject> List(Guid subscriptionId, string? resourceGroup, string resourceType)
    {
        if (!string.Equals(resourceType, ResourceType, StringComparison.OrdinalIgnoreCase))
        {
            return [];
        }

        using var connection = _database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = resourceGroup is null
            ? "SELECT * FROM managedidentity_identities WHERE subscription_id = $sub ORDER BY id_key"
            : "SELECT * FROM managedidentity_identities WHERE subscription_id = $sub AND resource_group_key = $rg ORDER BY id_key";
        command.Parameters.AddWithValue("$sub", subscriptionId.ToString());
        command.Parameters.AddWithValue("$rg", resourceGroup?.ToUpperInvariant() ?? "");
        return ReadAll(command);
    }

    public void DeleteResourceGroupContents(Guid subscriptionId, string resourceGroup, CallerIdentity caller)
    {
        foreach (var identity in List(subscriptionId, resourceGroup, ResourceType))
        {
            Delete(subscriptionId, resourceGroup, identity["name"]!.GetValue<string>());
        }
    }

    private ProviderResult Put(ProviderRequest request, string group, string name)
    {
        if (!NamePattern().IsMatch(name))
        {
            throw new ArmException(400, "InvalidResourceName",
                $"The resource name '{name}' is invalid: use 3-128 letters, digits, hyphens and underscores, starting with a letter or digit.");
        }

        var body = RequireObject(request.Body);
        var location = body.TryGetProperty("location", out var loc) && loc.ValueKind == JsonValueKind.String && loc.GetString() is { Length: > 0 } l
            ? l
            : throw new ArmException(400, "LocationRequired", "The location property is required for this definition.");
        var tags = TagsOf(body);
        if (Find(request.SubscriptionId, group, name) is { } existing)
        {
            if (!string.Equals(existing["location"]!.GetValue<string>(), location, StringComparison.OrdinalIgnoreCase))
            {
                throw new ArmException(400, "InvalidResourceLocation",
                    $"The resource '{name}' already exists in location '{existing["location"]}'; a resource cannot change its location.");
            }

            UpdateTags(IdOf(request.SubscriptionId, group, name), tags);
            return new ProviderResult(200, Find(request.SubscriptionId, group, name));
        }

        var id = IdOf(request.SubscriptionId, group, name);
        var principal = _identity.EnsureUserAssignedIdentity(request.Caller.TenantId, id);
        using (var connection = _database.OpenConnection())
        using (var command = connection.CreateCommand())
        {
            command.CommandText = """
                INSERT INTO managedidentity_identities (id_key, id, subscription_id, resource_group_key, name, location, tags, tenant_id, principal_id, client_id, created)
                VALUES ($key, $id, $sub, $rg, $name, $location, $tags, $tenant, $principal, $client, $created)
                ON CONFLICT (id_key) DO NOTHING
                """;
            command.Parameters.AddWithValue("$key", id.ToUpperInvariant());
            command.Parameters.AddWithValue("$id", id);
            command.Parameters.AddWithValue("$sub", request.SubscriptionId.ToString());
            command.Parameters.AddWithValue("$rg", group.ToUpperInvariant());
            command.Parameters.AddWithValue("$name", name);
            command.Parameters.AddWithValue("$location", location);
            command.Parameters.AddWithValue("$tags", tags.ToJsonString());
            command.Parameters.AddWithValue("$tenant", principal.TenantId.ToString());
            command.Parameters.AddWithValue("$principal", principal.ObjectId.ToString());
            command.Parameters.AddWithValue("$client", principal.AppId.ToString());
            command.Parameters.AddWithValue("$created", _time.GetUtcNow().ToString("o", System.Globalization.CultureInfo.InvariantCulture));
            if (command.ExecuteNonQuery() == 0)
            {
                // A concurrent PUT created it first: answer as an update of that one.
                UpdateTags(id, tags);
                return new ProviderResult(200, Find(request.SubscriptionId, group, name));
            }
        }

        return new ProviderResult(201, Find(request.SubscriptionId, group, name));
    }

    private ProviderResult Patch(ProviderRequest request, string group, string name)
    {
        var body = RequireObject(request.Body);
        if (Find(request.SubscriptionId, group, name) is null)
        {
            throw NotFound(group, name);
        }

        if (body.TryGetProperty("tags", out _))
        {
            UpdateTags(IdOf(request.SubscriptionId, group, name), TagsOf(body));
        }

        return new ProviderResult(200, Find(request.SubscriptionId, group, name));
    }

    /// <summary>
    /// Raised after a user-assigned identity's resource and principal are deleted, with the principal's
    /// object id (issue 6: Compute re-checks, and revokes, disks whose encryption set acted as it).
    /// </summary>
    public event Action<Guid>? IdentityDeleted;

    /// <summary>Deletes the resource, then its principal; true when it existed.</summary>
    private bool Delete(Guid subscriptionId, string group, string name)
    {
        var id = IdOf(subscriptionId, group, name);
        string? principalId;
        using (var connection = _database.OpenConnection())
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "DELETE FROM managedidentity_identities WHERE id_key = $key RETURNING principal_id";
            command.Parameters.AddWithValue("$key", id.ToUpperInvariant());
            principalId = command.ExecuteScalar() as string;
            if (principalId is null)
            {
                return false;
            }
        }

        _identity.DeleteManagedIdentity(id, PrincipalKind.UserAssigned);
        if (Guid.TryParse(principalId, out var principal))
        {
            IdentityDeleted?.Invoke(principal);
        }

        return true;
    }

    private JsonObject? Find(Guid subscriptionId, string group, string name)
    {
        using var connection = _database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT * FROM managedidentity_identities WHERE id_key = $key";
        command.Parameters.AddWithValue("$key", IdOf(subscriptionId, group, name).ToUpperInvariant());
        return ReadAll(command).FirstOrDefault();
    }

    private void UpdateTags(string id, JsonObject tags)
    {
        using var connection = _database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "UPDATE managedidentity_identities SET tags = $tags WHERE id_key = $key";
        command.Parameters.AddWithValue("$key", id.ToUpperInvariant());
        command.Parameters.AddWithValue("$tags", tags.ToJsonString());
        command.ExecuteNonQuery();
    }

    private static List<JsonObject> ReadAll(SqliteCommand command)
    {
        var result = new List<JsonObject>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            result.Add(new JsonObject
            {
                ["id"] = reader.GetString(reader.GetOrdinal("id")),
                ["name"] = reader.GetString(reader.GetOrdinal("name")),
                ["type"] = ResourceType,
                ["location"] = reader.GetString(reader.GetOrdinal("location")),
                ["tags"] = JsonNode.Parse(reader.GetString(reader.GetOrdinal("tags"))),
                ["properties"] = new JsonObject
                {
                    ["tenantId"] = reader.GetString(reader.GetOrdinal("tenant_id")),
                    ["principalId"] = reader.GetString(reader.GetOrdinal("principal_id")),
                    ["clientId"] = reader.GetString(reader.GetOrdinal("client_id")),
                },
            });
        }

        return result;
    }

    /// <summary>The provider path must be ["userAssignedIdentities"] or ["userAssignedIdentities", name].</summary>
    private static IReadOnlyList<string> RequireTypePath(ProviderRequest request)
    {
        var path = request.ProviderPath;
        return path.Count is 1 or 2 && string.Equals(path[0], TypeName, StringComparison.OrdinalIgnoreCase)
            ? path
            : throw new ArmException(404, "InvalidResourceType", $"The resource type '{string.Join('/', path)}' could not be found in the namespace '{Namespace}'.");
    }

    private static JsonElement RequireObject(JsonElement? body) =>
        body is { ValueKind: JsonValueKind.Object } value
            ? value
            : throw new ArmException(400, "InvalidRequestContent", "The request content was invalid: a JSON object is required.");

    private static JsonObject TagsOf(JsonElement body)
    {
        if (!body.TryGetProperty("tags", out var tags) || tags.ValueKind == JsonValueKind.Null)
        {
            return [];
        }

        if (tags.ValueKind != JsonValueKind.Object || tags.EnumerateObject().Any(t => t.Value.ValueKind != JsonValueKind.String))
        {
            throw new ArmException(400, "InvalidRequestContent", "tags must be an object of string values.");
        }

        return JsonNode.Parse(tags.GetRawText())!.AsObject();
    }

    private static string IdOf(Guid subscriptionId, string group, string name) =>
        $"/subscriptions/{subscriptionId}/resourceGroups/{group}/providers/{ResourceType}/{name}";

    private static Uri ListUri(ProviderRequest request) =>
        new(request.BaseUri, request.ResourceGroup is { } rg
            ? $"subscriptions/{request.SubscriptionId}/resourceGroups/{rg}/providers/{ResourceType}"
            : $"subscriptions/{request.SubscriptionId}/providers/{ResourceType}");

    private static ArmException NotFound(string group, string name) =>
        new(404, "ResourceNotFound", $"The Resource '{ResourceType}/{name}' under resource group '{group}' was not found.");

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_-]{2,127}$")]
    private static partial Regex NamePattern();
}
