// The keys' SQLite tables in the Key Vault's own database (DIR/keyvault/keys.db): one row per key
// (name, soft-delete state, rotation policy) and one per version (public key, attributes, tags and
// either the sealed PKCS#8 private key or an HSM handle). Invariants: (vault, name) is unique across
// active and deleted keys; a version row never holds plaintext private material; secure_delete is on
// for every connection that changes rows, so purged pages are overwritten, not just unlinked.
using System.Text.Json;
using Ironclad.Metadata;
using Microsoft.Data.Sqlite;

namespace Ironclad.KeyVault.Keys;

/// <summary>A key row. Names are the lower-case lookup forms; <see cref="Name"/> is the first spelling.</summary>
internal sealed record StoredKey(
    string VaultKey,
    string NameKey,
    string Name,
    DateTimeOffset? DeletedAt,
    DateTimeOffset? ScheduledPurgeDate,
    string? RotationPolicyJson);

/// <summary>A version row, public part and attributes (material is read separately, on a cache miss).</summary>
internal sealed record StoredVersion(
    string Version,
    long Sequence,
    string KeyType,
    int KeySize,
    byte[] Modulus,
    byte[] PublicExponent,
    IReadOnlyList<string> KeyOps,
    KeyAttributes Attributes,
    IReadOnlyDictionary<string, string> Tags,
    string? HsmHandle,
    bool ExpiredNotified);

/// <summary>How a version's private part is held: sealed PKCS#8 or a token handle.</summary>
internal sealed record StoredMaterial(byte[]? SealedPrivateKey, string? HsmHandle);

internal sealed class SqliteKeyStore
{
    /// <summary>The component name in schema_versions (distinct from the vault store's "keyvault", so both can share a file).</summary>
    public const string Component = "keyvault-keys";

    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE kv_keys (
            vault_key TEXT NOT NULL,
            name_key TEXT NOT NULL,
            name TEXT NOT NULL,
            deleted_at_ms INTEGER NULL,
            scheduled_purge_at_ms INTEGER NULL,
            rotation_policy TEXT NULL,
            PRIMARY KEY (vault_key, name_key)
        );
        CREATE INDEX kv_keys_purge ON kv_keys (scheduled_purge_at_ms) WHERE scheduled_purge_at_ms IS NOT NULL;
        CREATE TABLE kv_key_versions (
            vault_key TEXT NOT NULL,
            name_key TEXT NOT NULL,
            version TEXT NOT NULL,
            seq INTEGER NOT NULL,
            kty TEXT NOT NULL,
            key_size INTEGER NOT NULL,
            n BLOB NOT NULL,
            e BLOB NOT NULL,
            key_ops TEXT NOT NULL,
            enabled INTEGER NOT NULL,
            nbf_ms INTEGER NULL,
            exp_ms INTEGER NULL,
            created_ms INTEGER NOT NULL,
            updated_ms INTEGER NOT NULL,
            exportable INTEGER NOT NULL,
            tags TEXT NOT NULL,
            sealed_private BLOB NULL,
            hsm_handle TEXT NULL,
            expired_notified INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (vault_key, name_key, version),
            UNIQUE (vault_key, name_key, seq),
            FOREIGN KEY (vault_key, name_key) REFERENCES kv_keys (vault_key, name_key) ON DELETE CASCADE,
            CHECK ((sealed_private IS NULL) <> (hsm_handle IS NULL))
        );
        CREATE INDEX kv_key_versions_exp ON kv_key_versions (exp_ms) WHERE exp_ms IS NOT NULL AND expired_notified = 0;
        """,
    ];

    private const string VersionColumns =
        "version, seq, kty, key_size, n, e, key_ops, enabled, nbf_ms, exp_ms, created_ms, updated_ms, exportable, tags, hsm_handle, expired_notified";

    private readonly MetadataDatabase _database;
    private long _generation;

    public SqliteKeyStore(MetadataDatabase database)
    {
        _database = database;
        _database.Migrate(Component, Migrations);
    }

    /// <summary>
    /// Bumped after every committed write: a cached read taken at an older generation is stale. Valid
    /// because this store is the only writer of its tables (one KeyVaultService per database).
    /// </summary>
    public long Generation => Interlocked.Read(ref _generation);

    /// <summary>A read connection.</summary>
    public SqliteConnection OpenRead() => _database.OpenConnection();

    /// <summary>An IMMEDIATE write transaction with secure_delete on: writers serialize, purged bytes are overwritten.</summary>
    public WriteUnit BeginWrite()
    {
        var connection = _database.OpenConnection();
        try
        {
            Execute(connection, null, "PRAGMA secure_delete = ON;");
            var transaction = connection.BeginTransaction(deferred: false);
            return new WriteUnit(connection, transaction, () => Interlocked.Increment(ref _generation));
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>Folds the WAL back into the database and truncates it (after a purge, so no old page copies linger).</summary>
    public void Checkpoint()
    {
        using var connection = _database.OpenConnection();
        Execute(connection, null, "PRAGMA wal_checkpoint(TRUNCATE);");
    }

    // ── Keys ───────────────────────────────────────────────────────────────────────────────────

    public static StoredKey? FindKey(SqliteConnection connection, SqliteTransaction? transaction, string vaultKey, string nameKey)
    {
        using var command = Command(connection, transaction,
            "SELECT name, deleted_at_ms, scheduled_purge_at_ms, rotation_policy FROM kv_keys WHERE vault_key = $vault AND name_key = $name",
            ("$vault", vaultKey), ("$name", nameKey));
        using var reader = command.ExecuteReader();
        return reader.Read()
            ? new StoredKey(vaultKey, nameKey, reader.GetString(0), Time(reader, 1), Time(reader, 2), reader.IsDBNull(3) ? null : reader.GetString(3))
            : null;
    }

    /// <summary>Keys of a vault in name order after <paramref name="afterNameKey"/>, active or deleted.</summary>
    public static List<StoredKey> ListKeys(SqliteConnection connection, string vaultKey, bool deleted, string? afterNameKey, int limit)
    {
        using var command = Command(connection, null,
            $"""
            SELECT name_key, name, deleted_at_ms, scheduled_purge_at_ms, rotation_policy FROM kv_keys
            WHERE vault_key = $vault AND deleted_at_ms IS {(deleted ? "NOT NULL" : "NULL")} AND name_key > $after
            ORDER BY name_key LIMIT $limit
            """,
            ("$vault", vaultKey), ("$after", afterNameKey ?? string.Empty), ("$limit", limit));
        return ReadKeys(command, vaultKey);
    }

    /// <summary>Every key of one vault, or of every vault when <paramref name="vaultKey"/> is null.</summary>
    public static List<StoredKey> AllKeys(SqliteConnection connection, SqliteTransaction? transaction, string? vaultKey)
    {
        using var command = Command(connection, transaction,
            "SELECT name_key, name, deleted_at_ms, scheduled_purge_at_ms, rotation_policy, vault_key FROM kv_keys WHERE ($vault IS NULL OR vault_key = $vault) ORDER BY vault_key, name_key",
            ("$vault", vaultKey));
        var keys = new List<StoredKey>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            keys.Add(new StoredKey(reader.GetString(5), reader.GetString(0), reader.GetString(1), Time(reader, 2), Time(reader, 3), reader.IsDBNull(4) ? null : reader.GetString(4)));
        }

        return keys;
    }

    public static void InsertKey(WriteUnit unit, string vaultKey, string nameKey, string name, string? rotationPolicyJson)
    {
        using var command = unit.Command(
            "INSERT INTO kv_keys (vault_key, name_key, name, rotation_policy) VALUES ($vault, $key, $name, $policy)",
            ("$vault", vaultKey), ("$key", nameKey), ("$name", name), ("$policy", rotationPolicyJson));
        command.ExecuteNonQuery();
    }

    public static void SetDeleted(WriteUnit unit, string vaultKey, string nameKey, DateTimeOffset? deletedAt, DateTimeOffset? scheduledPurgeDate)
    {
        using var command = unit.Command(
            "UPDATE kv_keys SET deleted_at_ms = $deleted, scheduled_purge_at_ms = $purge WHERE vault_key = $vault AND name_key = $key",
            ("$vault", vaultKey), ("$key", nameKey), ("$deleted", Ms(deletedAt)), ("$purge", Ms(scheduledPurgeDate)));
        command.ExecuteNonQuery();
    }

    public static void SetRotationPolicy(WriteUnit unit, string vaultKey, string nameKey, string? json)
    {
        using var command = unit.Command(
            "UPDATE kv_keys SET rotation_policy = $policy WHERE vault_key = $vault AND name_key = $key",
            ("$vault", vaultKey), ("$key", nameKey), ("$policy", json));
        command.ExecuteNonQuery();
    }

    /// <summary>Deletes the key and (cascade) its versions; secure_delete overwrites the freed pages.</summary>
    public static void DeleteKey(WriteUnit unit, string vaultKey, string nameKey)
    {
        using var versions = unit.Command(
            "DELETE FROM kv_key_versions WHERE vault_key = $vault AND name_key = $key", ("$vault", vaultKey), ("$key", nameKey));
        versions.ExecuteNonQuery();
        using var key = unit.Command(
            "DELETE FROM kv_keys WHERE vault_key = $vault AND name_key = $key", ("$vault", vaultKey), ("$key", nameKey));
        key.ExecuteNonQuery();
    }

    // ── Versions ───────────────────────────────────────────────────────────────────────────────

    /// <summary>The version, or the latest one when <paramref name="version"/> is null.</summary>
    public static StoredVersion? FindVersion(SqliteConnection connection, SqliteTransaction? transaction, string vaultKey, string nameKey, string? version)
    {
        using var command = version is null
            ? Command(connection, transaction,
                $"SELECT {VersionColumns} FROM kv_key_versions WHERE vault_key = $vault AND name_key = $key ORDER BY seq DESC LIMIT 1",
                ("$vault", vaultKey), ("$key", nameKey))
            : Command(connection, transaction,
                $"SELECT {VersionColumns} FROM kv_key_versions WHERE vault_key = $vault AND name_key = $key AND version = $version",
                ("$vault", vaultKey), ("$key", nameKey), ("$version", version));
        using var reader = command.ExecuteReader();
        return reader.Read() ? ReadVersion(reader) : null;
    }

    /// <summary>Versions of one key in creation order, after sequence <paramref name="afterSequence"/>.</summary>
    public static List<StoredVersion> ListVersions(SqliteConnection connection, SqliteTransaction? transaction, string vaultKey, string nameKey, long afterSequence, int limit)
    {
        using var command = Command(connection, transaction,
            $"SELECT {VersionColumns} FROM kv_key_versions WHERE vault_key = $vault AND name_key = $key AND seq > $after ORDER BY seq LIMIT $limit",
            ("$vault", vaultKey), ("$key", nameKey), ("$after", afterSequence), ("$limit", limit));
        var versions = new List<StoredVersion>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            versions.Add(ReadVersion(reader));
        }

        return versions;
    }

    public static StoredMaterial? FindMaterial(SqliteConnection connection, SqliteTransaction? transaction, string vaultKey, string nameKey, string version)
    {
        using var command = Command(connection, transaction,
            "SELECT sealed_private, hsm_handle FROM kv_key_versions WHERE vault_key = $vault AND name_key = $key AND version = $version",
            ("$vault", vaultKey), ("$key", nameKey), ("$version", version));
        using var reader = command.ExecuteReader();
        return reader.Read()
            ? new StoredMaterial(reader.IsDBNull(0) ? null : (byte[])reader.GetValue(0), reader.IsDBNull(1) ? null : reader.GetString(1))
            : null;
    }

    public static long NextSequence(WriteUnit unit, string vaultKey, string nameKey)
    {
        using var command = unit.Command(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM kv_key_versions WHERE vault_key = $vault AND name_key = $key",
            ("$vault", vaultKey), ("$key", nameKey));
        return (long)command.ExecuteScalar()!;
    }

    public static void InsertVersion(WriteUnit unit, string vaultKey, string nameKey, StoredVersion version, byte[]? sealedPrivateKey)
    {
        using var command = unit.Command(
            """
            INSERT INTO kv_key_versions (vault_key, name_key, version, seq, kty, key_size, n, e, key_ops, enabled, nbf_ms, exp_ms,
                created_ms, updated_ms, exportable, tags, sealed_private, hsm_handle, expired_notified)
            VALUES ($vault, $key, $version, $seq, $kty, $size, $n, $e, $ops, $enabled, $nbf, $exp, $created, $updated, $exportable, $tags, $sealed, $hsm, $notified)
            """,
            ("$vault", vaultKey), ("$key", nameKey), ("$version", version.Version), ("$seq", version.Sequence),
            ("$kty", version.KeyType), ("$size", version.KeySize), ("$n", version.Modulus), ("$e", version.PublicExponent),
            ("$ops", JsonSerializer.Serialize(version.KeyOps)), ("$enabled", version.Attributes.Enabled ? 1 : 0),
            ("$nbf", Ms(version.Attributes.NotBefore)), ("$exp", Ms(version.Attributes.Expires)),
            ("$created", Ms(version.Attributes.Created)), ("$updated", Ms(version.Attributes.Updated)),
            ("$exportable", version.Attributes.Exportable ? 1 : 0), ("$tags", JsonSerializer.Serialize(version.Tags)),
            ("$sealed", sealedPrivateKey), ("$hsm", version.HsmHandle), ("$notified", version.ExpiredNotified ? 1 : 0));
        command.ExecuteNonQuery();
    }

    /// <summary>Writes a version's changeable attributes (enabled, nbf, exp, updated, key_ops, tags, expired flag).</summary>
    public static void UpdateVersion(WriteUnit unit, string vaultKey, string nameKey, StoredVersion version)
    {
        using var command = unit.Command(
            """
            UPDATE kv_key_versions SET enabled = $enabled, nbf_ms = $nbf, exp_ms = $exp, updated_ms = $updated, key_ops = $ops,
                tags = $tags, expired_notified = $notified
            WHERE vault_key = $vault AND name_key = $key AND version = $version
            """,
            ("$vault", vaultKey), ("$key", nameKey), ("$version", version.Version),
            ("$enabled", version.Attributes.Enabled ? 1 : 0), ("$nbf", Ms(version.Attributes.NotBefore)),
            ("$exp", Ms(version.Attributes.Expires)), ("$updated", Ms(version.Attributes.Updated)),
            ("$ops", JsonSerializer.Serialize(version.KeyOps)), ("$tags", JsonSerializer.Serialize(version.Tags)),
            ("$notified", version.ExpiredNotified ? 1 : 0));
        command.ExecuteNonQuery();
    }

    /// <summary>Active keys' versions whose exp is at or before <paramref name="now"/> and not yet reported.</summary>
    public static List<(string VaultKey, string NameKey, string Version)> DueExpiries(SqliteConnection connection, SqliteTransaction? transaction, DateTimeOffset now)
    {
        using var command = Command(connection, transaction,
            """
            SELECT v.vault_key, v.name_key, v.version FROM kv_key_versions v
            JOIN kv_keys k ON k.vault_key = v.vault_key AND k.name_key = v.name_key
            WHERE v.exp_ms IS NOT NULL AND v.exp_ms <= $now AND v.expired_notified = 0 AND k.deleted_at_ms IS NULL
            ORDER BY v.vault_key, v.name_key, v.seq
            """,
            ("$now", Ms(now)));
        var due = new List<(string, string, string)>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            due.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2)));
        }

        return due;
    }

    // ── Helpers ────────────────────────────────────────────────────────────────────────────────

    public static long? Ms(DateTimeOffset? time) => time?.ToUnixTimeMilliseconds();

    private static DateTimeOffset? Time(SqliteDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(ordinal));

    private static List<StoredKey> ReadKeys(SqliteCommand command, string vaultKey)
    {
        var keys = new List<StoredKey>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            keys.Add(new StoredKey(vaultKey, reader.GetString(0), reader.GetString(1), Time(reader, 2), Time(reader, 3), reader.IsDBNull(4) ? null : reader.GetString(4)));
        }

        return keys;
    }

    private static StoredVersion ReadVersion(SqliteDataReader reader) => new(
        reader.GetString(0),
        reader.GetInt64(1),
        reader.GetString(2),
        reader.GetInt32(3),
        (byte[])reader.GetValue(4),
        (byte[])reader.GetValue(5),
        JsonSerializer.Deserialize<string[]>(reader.GetString(6))!,
        new KeyAttributes(
            reader.GetInt64(7) != 0,
            Time(reader, 8),
            Time(reader, 9),
            Time(reader, 10)!.Value,
            Time(reader, 11)!.Value,
            reader.GetInt64(12) != 0),
        JsonSerializer.Deserialize<Dictionary<string, string>>(reader.GetString(13))!,
        reader.IsDBNull(14) ? null : reader.GetString(14),
        reader.GetInt64(15) != 0);

    private static void Execute(SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        using var command = Command(connection, transaction, sql);
        command.ExecuteNonQuery();
    }

    internal static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return command;
    }

    /// <summary>One write transaction; Commit, or dispose to roll back.</summary>
    internal sealed class WriteUnit(SqliteConnection connection, SqliteTransaction transaction, Action committed) : IDisposable
    {
        public SqliteConnection Connection { get; } = connection;

        public SqliteTransaction Transaction { get; } = transaction;

        public SqliteCommand Command(string sql, params (string Name, object? Value)[] parameters) =>
            SqliteKeyStore.Command(Connection, Transaction, sql, parameters);

        public void Commit()
        {
            Transaction.Commit();
            committed();
        }

        public void Dispose()
        {
            Transaction.Dispose();
            Connection.Dispose();
        }
    }

}
