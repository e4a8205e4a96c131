// Persistence of disk encryption sets (metadata component "compute-sets"): one row per set with its
// identity, active key, previous keys and rotation state. Invariant: every write is a compare-and-swap
// on the row's revision, so a request and the rotation worker never overwrite each other's change.
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ironclad.Metadata;
using Microsoft.Data.Sqlite;

namespace Ironclad.Compute.EncryptionSets;

/// <summary>A key a set used before (a versioned kid) and the vault that holds it.</summary>
internal sealed record PreviousKey(string KeyUrl, string SourceVaultId);

/// <summary>Whether the set's identity was seen able to use its key (get, wrapKey, unwrapKey) and the key passed validation.</summary>
internal static class KeyAccessStates
{
    /// <summary>The key was validated and the identity has get/wrapKey/unwrapKey (when last checked).</summary>
    public const string Verified = "Verified";

    /// <summary>Not yet: the identity (a system-assigned one created with the set) still lacks access, or the key failed validation.</summary>
    public const string NotVerified = "NotVerified";
}

/// <param name="Id">Canonical ARM id (case as first created).</param>
/// <param name="SystemAssigned">Whether the set has a system-assigned identity.</param>
/// <param name="UserAssignedIdentityIds">Canonical ids of its user-assigned identities.</param>
/// <param name="SystemPrincipalId">The system-assigned identity's object id, when it has one.</param>
/// <param name="TenantId">The tenant of the subscription (the system-assigned identity's tenant).</param>
/// <param name="ActingPrincipalId">The identity that calls the vault (see the rule in DiskEncryptionSetsType).</param>
/// <param name="ActiveKeyUrl">A versioned kid once verified; as given (possibly versionless) while not verified.</param>
/// <param name="KeyAccessMessage">Why the set is not verified (names the key, the identity and what is missing).</param>
internal sealed record EncryptionSetRecord(
    string Id,
    Guid SubscriptionId,
    string ResourceGroup,
    string Name,
    string Location,
    JsonObject Tags,
    bool SystemAssigned,
    IReadOnlyList<string> UserAssignedIdentityIds,
    Guid? SystemPrincipalId,
    Guid TenantId,
    Guid ActingPrincipalId,
    string EncryptionType,
    string ActiveKeyUrl,
    string SourceVaultId,
    bool RotationToLatestKeyVersionEnabled,
    IReadOnlyList<PreviousKey> PreviousKeys,
    DateTimeOffset? LastKeyRotationTimestamp,
    string? RotationErrorCode,
    string? RotationErrorMessage,
    string KeyAccessState,
    string? KeyAccessMessage,
    DateTimeOffset CreatedAt,
    long Revision)
{
    public bool IsVerified => KeyAccessState == KeyAccessStates.Verified;

    public string IdentityType => (SystemAssigned, UserAssignedIdentityIds.Count > 0) switch
    {
        (true, true) => "SystemAssigned, UserAssigned",
        (true, false) => "SystemAssigned",
        (false, true) => "UserAssigned",
        _ => "None",
    };
}

internal sealed class EncryptionSetStore
{
    public const string Component = "compute-sets";

    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE compute_sets (
            id_key TEXT PRIMARY KEY,              -- canonical id, upper case
            id TEXT NOT NULL,
            subscription_id TEXT NOT NULL,
            resource_group_key TEXT NOT NULL,     -- upper case
            resource_group TEXT NOT NULL,
            name TEXT NOT NULL,
            location TEXT NOT NULL,
            tags TEXT NOT NULL,                   -- JSON object
            system_assigned INTEGER NOT NULL,
            user_identities TEXT NOT NULL,        -- JSON array of canonical ids
            system_principal_id TEXT,
            tenant_id TEXT NOT NULL,
            acting_principal_id TEXT NOT NULL,
            encryption_type TEXT NOT NULL,
            active_key_url TEXT NOT NULL,
            source_vault_id TEXT NOT NULL,
            rotation_enabled INTEGER NOT NULL,
            previous_keys TEXT NOT NULL,          -- JSON array of {keyUrl, sourceVaultId}
            last_key_rotation TEXT,
            rotation_error_code TEXT,
            rotation_error_message TEXT,
            key_access_state TEXT NOT NULL,
            key_access_message TEXT,
            created TEXT NOT NULL,
            revision INTEGER NOT NULL
        );
        CREATE INDEX compute_sets_group ON compute_sets (subscription_id, resource_group_key);
        """,
    ];

    private readonly MetadataDatabase _database;

    public EncryptionSetStore(MetadataDatabase database)
    {
        _database = database ?? throw new ArgumentNullException(nameof(database));
        database.Migrate(Component, Migrations);
    }

    public EncryptionSetRecord? Find(string id)
    {
        using var connection = _database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT * FROM compute_sets WHERE id_key = $key";
        command.Parameters.AddWithValue("$key", id.ToUpperInvariant());
        return Read(command).FirstOrDefault();
    }

    public IReadOnlyList<EncryptionSetRecord> List(Guid subscriptionId, string? resourceGroup)
    {
        using var connection = _database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = resourceGroup is null
            ? "SELECT * FROM compute_sets WHERE subscription_id = $sub ORDER BY id_key"
            : "SELECT * FROM compute_sets WHERE subscription_id = $sub AND resource_group_key = $rg ORDER BY id_key";
        command.Parameters.AddWithValue("$sub", subscriptionId.ToString("D"));
        command.Parameters.AddWithValue("$rg", resourceGroup?.ToUpperInvariant() ?? "");
        return Read(command);
    }

    public IReadOnlyList<EncryptionSetRecord> All()
    {
        using var connection = _database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT * FROM compute_sets ORDER BY id_key";
        return Read(command);
    }

    /// <summary>Inserts a new set (revision 1); false if one with this id exists.</summary>
    public bool TryInsert(EncryptionSetRecord record)
    {
        using var connection = _database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = """
            INSERT INTO compute_sets (id_key, id, subscription_id, resource_group_key, resource_group, name, location, tags,
                system_assigned, user_identities, system_principal_id, tenant_id, acting_principal_id, encryption_type,
                active_key_url, source_vault_id, rotation_enabled, previous_keys, last_key_rotation, rotation_error_code,
                rotation_error_message, key_access_state, key_access_message, created, revision)
            VALUES ($key, $id, $sub, $rgkey, $rg, $name, $location, $tags, $system, $uais, $sysprincipal, $tenant, $acting, $type,
                $active, $vault, $rotation, $previous, $lastrotation, $errcode, $errmessage, $state, $statemessage, $created, 1)
            ON CONFLICT (id_key) DO NOTHING
            """;
        Bind(command, record);
        return command.ExecuteNonQuery() == 1;
    }

    /// <summary>Replaces the set if its stored revision is still <see cref="EncryptionSetRecord.Revision"/>; the new revision is one more.</summary>
    public bool TryReplace(EncryptionSetRecord record)
    {
        using var connection = _database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = """
            UPDATE compute_sets SET tags = $tags, system_assigned = $system, user_identities = $uais,
                system_principal_id = $sysprincipal, tenant_id = $tenant, acting_principal_id = $acting, encryption_type = $type,
                active_key_url = $active, source_vault_id = $vault, rotation_enabled = $rotation, previous_keys = $previous,
                last_key_rotation = $lastrotation, rotation_error_code = $errcode, rotation_error_message = $errmessage,
                key_access_state = $state, key_access_message = $statemessage, revision = revision + 1
            WHERE id_key = $key AND revision = $revision
            """;
        Bind(command, record);
        command.Parameters.AddWithValue("$revision", record.Revision);
        return command.ExecuteNonQuery() == 1;
    }

    public bool Delete(string id)
    {
        using var connection = _database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM compute_sets WHERE id_key = $key";
        command.Parameters.AddWithValue("$key", id.ToUpperInvariant());
        return command.ExecuteNonQuery() == 1;
    }

    /// <summary>
    /// Applies <paramref name="change"/> to the current row until the compare-and-swap succeeds (the
    /// change is re-run on the fresh row after a concurrent write); null when the set is gone or the
    /// change returns null (nothing to do).
    /// </summary>
    public EncryptionSetRecord? Update(string id, Func<EncryptionSetRecord, EncryptionSetRecord?> change)
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            if (Find(id) is not { } current || change(current) is not { } changed)
            {
                return null;
            }

            if (TryReplace(changed with { Revision = current.Revision }))
            {
                return changed with { Revision = current.Revision + 1 };
            }
        }

        throw new InvalidOperationException($"The disk encryption set '{id}' kept changing; the update was not applied.");
    }

    private static void Bind(SqliteCommand command, EncryptionSetRecord record)
    {
        var p = command.Parameters;
        p.AddWithValue("$key", record.Id.ToUpperInvariant());
        p.AddWithValue("$id", record.Id);
        p.AddWithValue("$sub", record.SubscriptionId.ToString("D"));
        p.AddWithValue("$rgkey", record.ResourceGroup.ToUpperInvariant());
        p.AddWithValue("$rg", record.ResourceGroup);
        p.AddWithValue("$name", record.Name);
        p.AddWithValue("$location", record.Location);
        p.AddWithValue("$tags", record.Tags.ToJsonString());
        p.AddWithValue("$system", record.SystemAssigned ? 1 : 0);
        p.AddWithValue("$uais", JsonSerializer.Serialize(record.UserAssignedIdentityIds));
        p.AddWithValue("$sysprincipal", (object?)record.SystemPrincipalId?.ToString("D") ?? DBNull.Value);
        p.AddWithValue("$tenant", record.TenantId.ToString("D"));
        p.AddWithValue("$acting", record.ActingPrincipalId.ToString("D"));
        p.AddWithValue("$type", record.EncryptionType);
        p.AddWithValue("$active", record.ActiveKeyUrl);
        p.AddWithValue("$vault", record.SourceVaultId);
        p.AddWithValue("$rotation", record.RotationToLatestKeyVersionEnabled ? 1 : 0);
        p.AddWithValue("$previous", new JsonArray([.. record.PreviousKeys.Select(k => (JsonNode)new JsonObject { ["keyUrl"] = k.KeyUrl, ["sourceVaultId"] = k.SourceVaultId })]).ToJsonString());
        p.AddWithValue("$lastrotation", (object?)record.LastKeyRotationTimestamp?.ToString("o", CultureInfo.InvariantCulture) ?? DBNull.Value);
        p.AddWithValue("$errcode", (object?)record.RotationErrorCode ?? DBNull.Value);
        p.AddWithValue("$errmessage", (object?)record.RotationErrorMessage ?? DBNull.Value);
        p.AddWithValue("$state", record.KeyAccessState);
        p.AddWithValue("$statemessage", (object?)record.KeyAccessMessage ?? DBNull.Value);
        p.AddWithValue("$created", record.CreatedAt.ToString("o", CultureInfo.InvariantCulture));
    }

    private static List<EncryptionSetRecord> Read(SqliteCommand command)
    {
        var result = new List<EncryptionSetRecord>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            string? Text(string column) => reader.IsDBNull(reader.GetOrdinal(column)) ? null : reader.GetString(reader.GetOrdinal(column));
            string Required(string column) => reader.GetString(reader.GetOrdinal(column));
            var previous = JsonNode.Parse(Required("previous_keys"))!.AsArray()
                .Select(n => new PreviousKey((string)n!["keyUrl"]!, (string)n["sourceVaultId"]!))
                .ToList();
            result.Add(new EncryptionSetRecord(
                Required("id"),
                Guid.Parse(Required("subscription_id")),
                Required("resource_group"),
                Required("name"),
                Required("location"),
                JsonNode.Parse(Required("tags"))!.AsObject(),
                reader.GetInt64(reader.GetOrdinal("system_assigned")) != 0,
                JsonSerializer.Deserialize<List<string>>(Required("user_identities")) ?? [],
                Text("system_principal_id") is { } sys ? Guid.Parse(sys) : null,
                Guid.Parse(Required("tenant_id")),
                Guid.Parse(Required("acting_principal_id")),
                Required("encryption_type"),
                Required("active_key_url"),
                Required("source_vault_id"),
                reader.GetInt64(reader.GetOrdinal("rotation_enabled")) != 0,
                previous,
                Text("last_key_rotation") is { } last ? DateTimeOffset.Parse(last, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind) : null,
                Text("rotation_error_code"),
                Text("rotation_error_message"),
                Required("key_access_state"),
                Text("key_access_message"),
                DateTimeOffset.Parse(Required("created"), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind),
                reader.GetInt64(reader.GetOrdinal("revision"))));
        }

        return result;
    }
}
