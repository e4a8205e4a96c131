// The SQLite implementation of IVaultStore over the shared metadata database (component "keyvault",
// table keyvault_vaults). Invariants: name_key (the lower-cased name) is the primary key, so a name is
// globally unique including soft-deleted vaults; port is UNIQUE; creation runs in one IMMEDIATE
// transaction (check name, pick the lowest free port, insert), so concurrent creates serialize.
using System.Text.Json.Nodes;
using Ironclad.Metadata;
using Microsoft.Data.Sqlite;

namespace Ironclad.ResourceManager.KeyVault;

public sealed class SqliteVaultStore : IVaultStore
{
    public const string Component = "keyvault";

    private const int SqliteConstraint = 19;

    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE keyvault_vaults (
            name_key TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            subscription_id TEXT NOT NULL,
            resource_group TEXT NOT NULL,
            resource_group_key TEXT NOT NULL,
            location TEXT NOT NULL,
            tags TEXT NOT NULL,
            properties TEXT NOT NULL,
            port INTEGER NOT NULL UNIQUE,
            created_at_ms INTEGER NOT NULL,
            created_by TEXT NOT NULL,
            updated_at_ms INTEGER NOT NULL,
            updated_by TEXT NOT NULL,
            deleted_at_ms INTEGER NULL,
            scheduled_purge_at_ms INTEGER NULL,
            version INTEGER NOT NULL
        );
        CREATE INDEX keyvault_vaults_scope ON keyvault_vaults (subscription_id, resource_group_key, name_key);
        CREATE INDEX keyvault_vaults_purge ON keyvault_vaults (scheduled_purge_at_ms) WHERE scheduled_purge_at_ms IS NOT NULL;
        """,
    ];

    private const string Columns =
        "name, subscription_id, resource_group, location, tags, properties, port, created_at_ms, created_by, updated_at_ms, updated_by, deleted_at_ms, scheduled_purge_at_ms, version";

    private readonly MetadataDatabase _database;

    public SqliteVaultStore(MetadataDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        _database = database;
        _database.Migrate(Component, Migrations);
    }

    public VaultRecord? Find(string name)
    {
        using var connection = _database.OpenConnection();
        return QuerySingle(connection, null, "name_key = $key", ("$key", Key(name)));
    }

    public VaultRecord? FindByPort(int port)
    {
        using var connection = _database.OpenConnection();
        return QuerySingle(connection, null, "port = $port", ("$port", port));
    }

    public IReadOnlyList<VaultRecord> List(Guid? subscriptionId, string? resourceGroup, bool deleted)
    {
        using var connection = _database.OpenConnection();
        using var command = connection.CreateCommand();
        var where = deleted ? "deleted_at_ms IS NOT NULL" : "deleted_at_ms IS NULL";
        if (subscriptionId is { } sub)
        {
            where += " AND subscription_id = $sub";
            command.Parameters.AddWithValue("$sub", sub.ToString("D"));
        }

        if (resourceGroup is not null)
        {
            where += " AND resource_group_key = $rg";
            command.Parameters.AddWithValue("$rg", Key(resourceGroup));
        }

        command.CommandText = $"SELECT {Columns} FROM keyvault_vaults WHERE {where} ORDER BY name_key";
        return ReadAll(command);
    }

    public VaultRecord Create(VaultRecord draft, VaultPortRange ports)
    {
        ArgumentNullException.ThrowIfNull(draft);
        ArgumentNullException.ThrowIfNull(ports);
        using var connection = _database.OpenConnection();
        using var transaction = connection.BeginTransaction(deferred: false);
        if (QuerySingle(connection, transaction, "name_key = $key", ("$key", Key(draft.Name))) is not null)
        {
            throw new VaultNameTakenException($"The vault name '{draft.Name}' is taken.");
        }

        var port = LowestFreePort(connection, transaction, ports)
            ?? throw new VaultPortsExhaustedException($"All {ports.Count} vault ports ({ports}) are held by vaults.");
        var record = draft with { Port = port, Version = 1 };
        using (var insert = connection.CreateCommand())
        {
            insert.Transaction = transaction;
            insert.CommandText = $"""
                INSERT INTO keyvault_vaults (name_key, resource_group_key, {Columns})
                VALUES ($key, $rg_key, $name, $sub, $rg, $location, $tags, $properties, $port, $created, $created_by, $updated, $updated_by, $deleted, $purge, $version)
                """;
            Bind(insert, record);
            try
            {
                insert.ExecuteNonQuery();
            }
            catch (SqliteException e) when (e.SqliteErrorCode == SqliteConstraint)
            {
                throw new VaultNameTakenException($"The vault name '{draft.Name}' is taken.", e);
            }
        }

        transaction.Commit();
        return record;
    }

    public VaultRecord? TryReplace(VaultRecord updated)
    {
        ArgumentNullException.ThrowIfNull(updated);
        using var connection = _database.OpenConnection();
        using var command = connection.CreateCommand();
        var stored = updated with { Version = updated.Version + 1 };
        command.CommandText = """
            UPDATE keyvault_vaults SET name = $name, subscription_id = $sub, resource_group = $rg, resource_group_key = $rg_key,
                location = $location, tags = $tags, properties = $properties, created_at_ms = $created, created_by = $created_by,
                updated_at_ms = $updated, updated_by = $updated_by, deleted_at_ms = $deleted, scheduled_purge_at_ms = $purge, version = $version
            WHERE name_key = $key AND version = $expected AND port = $port
            """;
        Bind(command, stored);
        command.Parameters.AddWithValue("$expected", updated.Version);
        return command.ExecuteNonQuery() == 1 ? stored : null;
    }

    public bool TryPurge(string name, long version)
    {
        using var connection = _database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM keyvault_vaults WHERE name_key = $key AND version = $version";
        command.Parameters.AddWithValue("$key", Key(name));
        command.Parameters.AddWithValue("$version", version);
        return command.ExecuteNonQuery() == 1;
    }

    public IReadOnlyList<VaultRecord> PurgeExpired(DateTimeOffset now)
    {
        using var connection = _database.OpenConnection();
        // Every request calls this: look first (a read, no write lock) and delete only when something is due.
        using (var due = connection.CreateCommand())
        {
            due.CommandText = "SELECT EXISTS (SELECT 1 FROM keyvault_vaults WHERE scheduled_purge_at_ms <= $now)";
            due.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
            if ((long)due.ExecuteScalar()! == 0)
            {
                return [];
            }
        }

        using var command = connection.CreateCommand();
        command.CommandText = $"DELETE FROM keyvault_vaults WHERE scheduled_purge_at_ms <= $now RETURNING {Columns}";
        command.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
        return ReadAll(command);
    }

    private static string Key(string name) => name.ToLowerInvariant();

    private static int? LowestFreePort(SqliteConnection connection, SqliteTransaction transaction, VaultPortRange ports)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT port FROM keyvault_vaults WHERE port BETWEEN $first AND $last ORDER BY port";
        command.Parameters.AddWithValue("$first", ports.First);
        command.Parameters.AddWithValue("$last", ports.Last);
        using var reader = command.ExecuteReader();
        var candidate = ports.First;
        while (reader.Read())
        {
            var used = reader.GetInt32(0);
            if (used > candidate)
            {
                break;
            }

            candidate = used + 1;
        }

        return candidate <= ports.Last ? candidate : null;
    }

    private static void Bind(SqliteCommand command, VaultRecord record)
    {
        command.Parameters.AddWithValue("$key", Key(record.Name));
        command.Parameters.AddWithValue("$rg_key", Key(record.ResourceGroup));
        command.Parameters.AddWithValue("$name", record.Name);
        command.Parameters.AddWithValue("$sub", record.SubscriptionId.ToString("D"));
        command.Parameters.AddWithValue("$rg", record.ResourceGroup);
        command.Parameters.AddWithValue("$location", record.Location);
        command.Parameters.AddWithValue("$tags", record.Tags.ToJsonString());
        command.Parameters.AddWithValue("$properties", record.Properties.ToJsonString());
        command.Parameters.AddWithValue("$port", record.Port);
        command.Parameters.AddWithValue("$created", record.CreatedAt.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$created_by", record.CreatedBy);
        command.Parameters.AddWithValue("$updated", record.UpdatedAt.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$updated_by", record.UpdatedBy);
        command.Parameters.AddWithValue("$deleted", record.DeletedAt is { } d ? d.ToUnixTimeMilliseconds() : DBNull.Value);
        command.Parameters.AddWithValue("$purge", record.ScheduledPurgeDate is { } p ? p.ToUnixTimeMilliseconds() : DBNull.Value);
        command.Parameters.AddWithValue("$version", record.Version);
    }

    private static VaultRecord? QuerySingle(SqliteConnection connection, SqliteTransaction? transaction, string where, (string Name, object Value) parameter)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = $"SELECT {Columns} FROM keyvault_vaults WHERE {where}";
        command.Parameters.AddWithValue(parameter.Name, parameter.Value);
        return ReadAll(command).SingleOrDefault();
    }

    private static List<VaultRecord> ReadAll(SqliteCommand command)
    {
        using var reader = command.ExecuteReader();
        var result = new List<VaultRecord>();
        while (reader.Read())
        {
            result.Add(new VaultRecord(
                Name: reader.GetString(0),
                SubscriptionId: Guid.Parse(reader.GetString(1)),
                ResourceGroup: reader.GetString(2),
                Location: reader.GetString(3),
                Tags: (JsonObject)JsonNode.Parse(reader.GetString(4))!,
                Properties: (JsonObject)JsonNode.Parse(reader.GetString(5))!,
                Port: reader.GetInt32(6),
                CreatedAt: DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(7)),
                CreatedBy: reader.GetString(8),
                UpdatedAt: DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(9)),
                UpdatedBy: reader.GetString(10),
                DeletedAt: reader.IsDBNull(11) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(11)),
                ScheduledPurgeDate: reader.IsDBNull(12) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(12)),
                Version: reader.GetInt64(13)));
        }

        return result;
    }
}
