// IDataKeyStore over the metadata database (component "compute-datakeys", table compute_data_keys):
// one row per (volume, layer) holding only the wrapped DEK, the exact key version (kid) that wrapped
// it and who wraps it. Invariants: a re-wrap is a compare-and-swap on `revision`; Shred deletes with
// secure_delete on (every metadata connection has it) and then checkpoints the WAL with TRUNCATE, so
// the wrapped bytes are overwritten in the database file and do not linger in metadata.db-wal.
using System.Globalization;
using Ironclad.Compute.KeyAccess;
using Ironclad.Metadata;
using Microsoft.Data.Sqlite;

namespace Ironclad.Compute.DataKeys;

public sealed class SqliteDataKeyStore : IDataKeyStore
{
    public const string Component = "compute-datakeys";

    /// <summary>How often Shred retries a WAL checkpoint that a concurrent reader kept from completing.</summary>
    private const int CheckpointAttemptsMax = 20;

    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE compute_data_keys (
            volume_id TEXT NOT NULL,
            layer INTEGER NOT NULL,
            kind INTEGER NOT NULL,
            encryption_set_key TEXT NULL,
            encryption_set_id TEXT NULL,
            platform_region TEXT NULL,
            vault_origin TEXT NOT NULL,
            key_name_key TEXT NOT NULL,
            kid TEXT NOT NULL,
            algorithm TEXT NOT NULL,
            wrapped BLOB NOT NULL,
            wrapped_at_ms INTEGER NOT NULL,
            revision INTEGER NOT NULL,
            PRIMARY KEY (volume_id, layer)
        );
        CREATE INDEX compute_data_keys_set ON compute_data_keys (encryption_set_key) WHERE encryption_set_key IS NOT NULL;
        CREATE INDEX compute_data_keys_region ON compute_data_keys (platform_region) WHERE platform_region IS NOT NULL;
        CREATE INDEX compute_data_keys_key ON compute_data_keys (vault_origin, key_name_key);
        """,
    ];

    private const string Columns =
        "volume_id, layer, kind, encryption_set_id, platform_region, kid, algorithm, wrapped, wrapped_at_ms, revision";

    private readonly MetadataDatabase _database;

    public SqliteDataKeyStore(MetadataDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        _database = database;
        _database.Migrate(Component, Migrations);
    }

    public IReadOnlyList<DataKeyRecord> ForVolume(Guid volumeId) =>
        Query("volume_id = $volume ORDER BY layer", ("$volume", VolumeKey(volumeId)));

    public IReadOnlyList<DataKeyRecord> ForEncryptionSet(string encryptionSetId)
    {
        ArgumentException.ThrowIfNullOrEmpty(encryptionSetId);
        return Query("encryption_set_key = $set ORDER BY volume_id, layer", ("$set", encryptionSetId.ToLowerInvariant()));
    }

    public IReadOnlyList<DataKeyRecord> ForPlatformRegion(string region)
    {
        ArgumentException.ThrowIfNullOrEmpty(region);
        return Query("platform_region = $region AND kind = 0 ORDER BY volume_id, layer", ("$region", region.ToLowerInvariant()));
    }

    public IReadOnlyList<DataKeyRecord> ForKey(Uri vaultUri, string keyName)
    {
        ArgumentNullException.ThrowIfNull(vaultUri);
        ArgumentException.ThrowIfNullOrEmpty(keyName);
        return Query("vault_origin = $origin AND key_name_key = $name ORDER BY volume_id, layer",
            ("$origin", Origin(vaultUri)), ("$name", keyName.ToLowerInvariant()));
    }

    public void Add(IReadOnlyList<DataKeyRecord> layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        if (layers.Count == 0)
        {
            throw new ArgumentException("A volume has at least one layer.", nameof(layers));
        }

        var volumeId = layers[0].VolumeId;
        if (layers.Any(l => l.VolumeId != volumeId) || layers.Select(l => l.Layer).Distinct().Count() != layers.Count)
        {
            throw new ArgumentException("The layers must belong to one volume, one record per layer.", nameof(layers));
        }

        using var connection = _database.OpenConnection();
        using var transaction = connection.BeginTransaction(deferred: false);
        using (var exists = connection.CreateCommand())
        {
            exists.Transaction = transaction;
            exists.CommandText = "SELECT COUNT(*) FROM compute_data_keys WHERE volume_id = $volume";
            exists.Parameters.AddWithValue("$volume", VolumeKey(volumeId));
            if ((long)exists.ExecuteScalar()! > 0)
            {
                throw new InvalidOperationException($"Volume {volumeId:D} already has data keys.");
            }
        }

        foreach (var layer in layers)
        {
            Insert(connection, transaction, layer with { Revision = 1 });
        }

        transaction.Commit();
    }

    public bool TryReplace(DataKeyRecord replacement, long expectedRevision)
    {
        ArgumentNullException.ThrowIfNull(replacement);
        using var connection = _database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = """
            UPDATE compute_data_keys SET kind = $kind, encryption_set_key = $setKey, encryption_set_id = $set, platform_region = $region,
                vault_origin = $origin, key_name_key = $name, kid = $kid, algorithm = $alg, wrapped = $wrapped, wrapped_at_ms = $at,
                revision = $expected + 1
            WHERE volume_id = $volume AND layer = $layer AND revision = $expected
            """;
        Bind(command, replacement);
        command.Parameters.AddWithValue("$expected", expectedRevision);
        return command.ExecuteNonQuery() == 1;
    }

    public void CopyLayers(Guid sourceVolumeId, Guid targetVolumeId)
    {
        using var connection = _database.OpenConnection();
        using var transaction = connection.BeginTransaction(deferred: false);
        var source = Query(connection, transaction, "volume_id = $volume ORDER BY layer", ("$volume", VolumeKey(sourceVolumeId)));
        if (source.Count == 0)
        {
            throw new InvalidOperationException($"Volume {sourceVolumeId:D} has no data keys to share.");
        }

        using (var exists = connection.CreateCommand())
        {
            exists.Transaction = transaction;
            exists.CommandText = "SELECT COUNT(*) FROM compute_data_keys WHERE volume_id = $volume";
            exists.Parameters.AddWithValue("$volume", VolumeKey(targetVolumeId));
            if ((long)exists.ExecuteScalar()! > 0)
            {
                throw new InvalidOperationException($"Volume {targetVolumeId:D} already has data keys.");
            }
        }

        foreach (var layer in source)
        {
            Insert(connection, transaction, layer with { VolumeId = targetVolumeId, Revision = 1 });
        }

        transaction.Commit();
    }

    public void Shred(Guid volumeId)
    {
        using var connection = _database.OpenConnection();
        using (var delete = connection.CreateCommand())
        {
            // secure_delete is on for every metadata connection (MetadataDatabase.OpenConnection);
            // said again here because crypto-shredding depends on it.
            delete.CommandText = "PRAGMA secure_delete = ON; DELETE FROM compute_data_keys WHERE volume_id = $volume";
            delete.Parameters.AddWithValue("$volume", VolumeKey(volumeId));
            delete.ExecuteNonQuery();
        }

        CheckpointWal(connection);
    }

    /// <summary>
    /// Copies the WAL into the database (where secure_delete zeroed the rows) and truncates it, so the
    /// frames that held the wrapped bytes are gone. A reader in the middle of a transaction can keep
    /// the checkpoint from finishing: retry briefly, as the readers here are short.
    /// </summary>
    private static void CheckpointWal(SqliteConnection connection)
    {
        for (var attempt = 1; ; attempt++)
        {
            using var checkpoint = connection.CreateCommand();
            checkpoint.CommandText = "PRAGMA wal_checkpoint(TRUNCATE)";
            using var reader = checkpoint.ExecuteReader();
            var busy = reader.Read() && reader.GetInt64(0) != 0;
            if (!busy || attempt >= CheckpointAttemptsMax)
            {
                return;
            }

            Thread.Sleep(TimeSpan.FromMilliseconds(10 * attempt));
        }
    }

    // ── Rows ───────────────────────────────────────────────────────────────────────────────────

    private static void Insert(SqliteConnection connection, SqliteTransaction transaction, DataKeyRecord record)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            INSERT INTO compute_data_keys (volume_id, layer, kind, encryption_set_key, encryption_set_id, platform_region,
                vault_origin, key_name_key, kid, algorithm, wrapped, wrapped_at_ms, revision)
            VALUES ($volume, $layer, $kind, $setKey, $set, $region, $origin, $name, $kid, $alg, $wrapped, $at, $revision)
            """;
        Bind(command, record);
        command.Parameters.AddWithValue("$revision", record.Revision);
        command.ExecuteNonQuery();
    }

    private static void Bind(SqliteCommand command, DataKeyRecord record)
    {
        if (!record.Wrapped.Kid.IsVersioned)
        {
            throw new ArgumentException("A stored wrapped DEK names the exact key version (kid) that wrapped it.", nameof(record));
        }

        command.Parameters.AddWithValue("$volume", VolumeKey(record.VolumeId));
        command.Parameters.AddWithValue("$layer", (int)record.Layer);
        command.Parameters.AddWithValue("$kind", (int)record.Kind);
        command.Parameters.AddWithValue("$setKey", (object?)record.EncryptionSetId?.ToLowerInvariant() ?? DBNull.Value);
        command.Parameters.AddWithValue("$set", (object?)record.EncryptionSetId ?? DBNull.Value);
        command.Parameters.AddWithValue("$region", (object?)record.PlatformRegion?.ToLowerInvariant() ?? DBNull.Value);
        command.Parameters.AddWithValue("$origin", Origin(record.Wrapped.Kid.VaultUri));
        command.Parameters.AddWithValue("$name", record.Wrapped.Kid.Name.ToLowerInvariant());
        command.Parameters.AddWithValue("$kid", record.Wrapped.Kid.ToString());
        command.Parameters.AddWithValue("$alg", record.Wrapped.Algorithm);
        command.Parameters.AddWithValue("$wrapped", record.Wrapped.Value);
        command.Parameters.AddWithValue("$at", record.WrappedAt.ToUnixTimeMilliseconds());
    }

    private List<DataKeyRecord> Query(string where, params (string Name, object Value)[] parameters)
    {
        using var connection = _database.OpenConnection();
        return Query(connection, null, where, parameters);
    }

    private static List<DataKeyRecord> Query(SqliteConnection connection, SqliteTransaction? transaction, string where, params (string Name, object Value)[] parameters)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = $"SELECT {Columns} FROM compute_data_keys WHERE {where}";
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        using var reader = command.ExecuteReader();
        var records = new List<DataKeyRecord>();
        while (reader.Read())
        {
            records.Add(new DataKeyRecord(
                Guid.Parse(reader.GetString(0)),
                (KeyLayer)reader.GetInt32(1),
                (KeyEncryptionKind)reader.GetInt32(2),
                reader.IsDBNull(3) ? null : reader.GetString(3),
                reader.IsDBNull(4) ? null : reader.GetString(4),
                new WrappedKey(KeyReference.Parse(reader.GetString(5)), reader.GetString(6), (byte[])reader.GetValue(7)),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(8)),
                reader.GetInt64(9)));
        }

        return records;
    }

    private static string VolumeKey(Guid volumeId) => volumeId.ToString("D", CultureInfo.InvariantCulture);

    /// <summary>https://127.0.0.1:P (lower case, no trailing slash): how a vault is named in this table.</summary>
    private static string Origin(Uri vaultUri) => vaultUri.GetLeftPart(UriPartial.Authority).ToLowerInvariant();
}
