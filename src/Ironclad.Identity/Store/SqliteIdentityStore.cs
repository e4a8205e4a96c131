// IIdentityStore on the embedded SQLite metadata database (tables prefixed identity_). Times are
// Unix milliseconds, GUIDs lowercase text. Invariants: app ids are unique (index), secrets cascade
// with their principal (foreign key), each call is one short transaction on its own connection.
using Ironclad.Metadata;
using Microsoft.Data.Sqlite;

namespace Ironclad.Identity.Store;

public sealed class SqliteIdentityStore : IIdentityStore
{
    public const string Component = "identity";

    /// <summary>Append-only: never edit a released migration.</summary>
    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE identity_tenants (
            tenant_id TEXT PRIMARY KEY, display_name TEXT NOT NULL, created_ms INTEGER NOT NULL);
        CREATE TABLE identity_principals (
            object_id TEXT PRIMARY KEY, app_id TEXT NOT NULL UNIQUE,
            tenant_id TEXT NOT NULL REFERENCES identity_tenants (tenant_id),
            display_name TEXT NOT NULL, kind INTEGER NOT NULL, resource_id TEXT COLLATE NOCASE,
            created_ms INTEGER NOT NULL);
        CREATE INDEX identity_principals_resource ON identity_principals (resource_id, kind);
        CREATE TABLE identity_secrets (
            key_id TEXT PRIMARY KEY,
            object_id TEXT NOT NULL REFERENCES identity_principals (object_id) ON DELETE CASCADE,
            hash BLOB NOT NULL, hint TEXT NOT NULL, display_name TEXT NOT NULL,
            created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL);
        CREATE INDEX identity_secrets_principal ON identity_secrets (object_id);
        CREATE TABLE identity_signing_keys (
            key_id TEXT PRIMARY KEY, sealed_private_key BLOB NOT NULL,
            created_ms INTEGER NOT NULL, retired_ms INTEGER);
        CREATE TABLE identity_settings (name TEXT PRIMARY KEY, value BLOB NOT NULL);
        """,
    ];

    private const string PrincipalColumns = "object_id, app_id, tenant_id, display_name, kind, resource_id, created_ms";

    private readonly MetadataDatabase _database;

    public SqliteIdentityStore(MetadataDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        _database = database;
        database.Migrate(Component, Migrations);
    }

    public void AddTenant(Tenant tenant)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        Execute("INSERT INTO identity_tenants (tenant_id, display_name, created_ms) VALUES ($id, $name, $created)",
            ("$id", Text(tenant.TenantId)), ("$name", tenant.DisplayName), ("$created", Ms(tenant.CreatedOn)));
    }

    public Tenant? FindTenant(Guid tenantId) =>
        QuerySingle("SELECT tenant_id, display_name, created_ms FROM identity_tenants WHERE tenant_id = $id",
            r => new Tenant(Guid.Parse(r.GetString(0)), r.GetString(1), FromMs(r.GetInt64(2))), ("$id", Text(tenantId)));

    public void AddPrincipal(ServicePrincipal principal)
    {
        ArgumentNullException.ThrowIfNull(principal);
        Execute($"INSERT INTO identity_principals ({PrincipalColumns}) VALUES ($oid, $appid, $tid, $name, $kind, $resource, $created)",
            ("$oid", Text(principal.ObjectId)), ("$appid", Text(principal.AppId)), ("$tid", Text(principal.TenantId)),
            ("$name", principal.DisplayName), ("$kind", (long)principal.Kind), ("$resource", principal.ResourceId),
            ("$created", Ms(principal.CreatedOn)));
    }

    public ServicePrincipal? FindPrincipal(Guid objectId) =>
        QuerySingle($"SELECT {PrincipalColumns} FROM identity_principals WHERE object_id = $oid", ReadPrincipal, ("$oid", Text(objectId)));

    public ServicePrincipal? FindPrincipalByAppId(Guid appId) =>
        QuerySingle($"SELECT {PrincipalColumns} FROM identity_principals WHERE app_id = $appid", ReadPrincipal, ("$appid", Text(appId)));

    public ServicePrincipal? FindPrincipalByResourceId(string resourceId, PrincipalKind kind) =>
        QuerySingle($"SELECT {PrincipalColumns} FROM identity_principals WHERE resource_id = $resource AND kind = $kind",
            ReadPrincipal, ("$resource", resourceId), ("$kind", (long)kind));

    public IReadOnlyList<ServicePrincipal> ListPrincipals(Guid tenantId) =>
        Query($"SELECT {PrincipalColumns} FROM identity_principals WHERE tenant_id = $tid ORDER BY created_ms, object_id",
            ReadPrincipal, ("$tid", Text(tenantId)));

    public bool DeletePrincipal(Guid objectId) =>
        Execute("DELETE FROM identity_principals WHERE object_id = $oid", ("$oid", Text(objectId))) > 0;

    public void AddSecret(ClientSecretRecord secret)
    {
        ArgumentNullException.ThrowIfNull(secret);
        Execute("""
            INSERT INTO identity_secrets (key_id, object_id, hash, hint, display_name, created_ms, expires_ms)
            VALUES ($kid, $oid, $hash, $hint, $name, $created, $expires)
            """,
            ("$kid", Text(secret.KeyId)), ("$oid", Text(secret.ObjectId)), ("$hash", secret.Hash), ("$hint", secret.Hint),
            ("$name", secret.DisplayName), ("$created", Ms(secret.CreatedOn)), ("$expires", Ms(secret.ExpiresOn)));
    }

    public IReadOnlyList<ClientSecretRecord> ListSecrets(Guid objectId) =>
        Query("SELECT key_id, object_id, hash, hint, display_name, created_ms, expires_ms FROM identity_secrets WHERE object_id = $oid ORDER BY created_ms, key_id",
            r => new ClientSecretRecord(Guid.Parse(r.GetString(0)), Guid.Parse(r.GetString(1)), (byte[])r.GetValue(2), r.GetString(3),
                r.GetString(4), FromMs(r.GetInt64(5)), FromMs(r.GetInt64(6))),
            ("$oid", Text(objectId)));

    public bool DeleteSecret(Guid objectId, Guid keyId) =>
        Execute("DELETE FROM identity_secrets WHERE object_id = $oid AND key_id = $kid", ("$oid", Text(objectId)), ("$kid", Text(keyId))) > 0;

    public void AddSigningKey(SigningKeyRecord key)
    {
        ArgumentNullException.ThrowIfNull(key);
        Execute("INSERT INTO identity_signing_keys (key_id, sealed_private_key, created_ms, retired_ms) VALUES ($kid, $sealed, $created, $retired)",
            ("$kid", key.KeyId), ("$sealed", key.SealedPrivateKey), ("$created", Ms(key.CreatedOn)),
            ("$retired", key.RetiredOn is { } retired ? Ms(retired) : null));
    }

    public IReadOnlyList<SigningKeyRecord> ListSigningKeys() =>
        Query("SELECT key_id, sealed_private_key, created_ms, retired_ms FROM identity_signing_keys ORDER BY created_ms, rowid",
            r => new SigningKeyRecord(r.GetString(0), (byte[])r.GetValue(1), FromMs(r.GetInt64(2)), r.IsDBNull(3) ? null : FromMs(r.GetInt64(3))));

    public void RetireSigningKey(string keyId, DateTimeOffset retiredOn) =>
        Execute("UPDATE identity_signing_keys SET retired_ms = $retired WHERE key_id = $kid AND retired_ms IS NULL",
            ("$kid", keyId), ("$retired", Ms(retiredOn)));

    public byte[]? GetSetting(string name) =>
        QuerySingle("SELECT value FROM identity_settings WHERE name = $name", r => (byte[])r.GetValue(0), ("$name", name));

    public void SetSetting(string name, byte[] value) =>
        Execute("INSERT INTO identity_settings (name, value) VALUES ($name, $value) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            ("$name", name), ("$value", value));

    private static ServicePrincipal ReadPrincipal(SqliteDataReader r) => new(
        Guid.Parse(r.GetString(0)), Guid.Parse(r.GetString(1)), Guid.Parse(r.GetString(2)), r.GetString(3),
        (PrincipalKind)r.GetInt64(4), r.IsDBNull(5) ? null : r.GetString(5), FromMs(r.GetInt64(6)));

    private static string Text(Guid id) => id.ToString("D");

    private static long Ms(DateTimeOffset time) => time.ToUnixTimeMilliseconds();

    private static DateTimeOffset FromMs(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    private int Execute(string sql, params (string Name, object? Value)[] parameters)
    {
        using var connection = _database.OpenConnection();
        using var command = Prepare(connection, sql, parameters);
        return command.ExecuteNonQuery();
    }

    private T? QuerySingle<T>(string sql, Func<SqliteDataReader, T> read, params (string Name, object? Value)[] parameters)
        where T : class
    {
        using var connection = _database.OpenConnection();
        using var command = Prepare(connection, sql, parameters);
        using var reader = command.ExecuteReader();
        return reader.Read() ? read(reader) : null;
    }

    private List<T> Query<T>(string sql, Func<SqliteDataReader, T> read, params (string Name, object? Value)[] parameters)
    {
        using var connection = _database.OpenConnection();
        using var command = Prepare(connection, sql, parameters);
        using var reader = command.ExecuteReader();
        var rows = new List<T>();
        while (reader.Read())
        {
            rows.Add(read(reader));
        }

        return rows;
    }

    private static SqliteCommand Prepare(SqliteConnection connection, string sql, (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return command;
    }
}
