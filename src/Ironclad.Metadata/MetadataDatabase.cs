// The embedded metadata database: one SQLite file (WAL) in the data directory, shared by the roles'
// stores (Identity, Resource Manager, Key Vault, Compute), each in its own tables. Invariants: the
// file is owner-only (0600) from creation; every
// connection has foreign keys on, secure_delete on (a deleted row's bytes are overwritten with zeros,
// so a crypto-shredded wrapped DEK does not linger in free pages) and a busy timeout, so concurrent requests wait instead of failing;
// each component's schema is migrated forward exactly once, in order, inside one transaction.
using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Ironclad.Metadata;

public sealed class MetadataDatabase
{
    /// <summary>How long a writer waits for another writer's transaction before SQLITE_BUSY.</summary>
    private const int BusyTimeoutMilliseconds = 30_000;

    private readonly string _connectionString;

    private MetadataDatabase(string path)
    {
        Path = path;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            ForeignKeys = true,
            DefaultTimeout = BusyTimeoutMilliseconds / 1000,
        }.ToString();
    }

    /// <summary>The database file.</summary>
    public string Path { get; }

    /// <summary>Opens (creating if needed) the database at <paramref name="path"/> in WAL mode.</summary>
    public static MetadataDatabase Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path) && !OperatingSystem.IsWindows())
        {
            // Owner-only from the first byte: SQLite gives the -wal and -shm files the same mode.
            using var created = new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            });
        }

        var database = new MetadataDatabase(path);
        using var connection = database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = """
            PRAGMA journal_mode = WAL;
            PRAGMA synchronous = FULL;
            CREATE TABLE IF NOT EXISTS schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL);
            """;
        command.ExecuteNonQuery();
        return database;
    }

    /// <summary>An open connection (pooled); dispose it after each unit of work.</summary>
    public SqliteConnection OpenConnection()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = string.Create(CultureInfo.InvariantCulture, $"PRAGMA busy_timeout = {BusyTimeoutMilliseconds}; PRAGMA secure_delete = ON;");
        command.ExecuteNonQuery();
        return connection;
    }

    /// <summary>Runs a SELECT with named parameters on a fresh connection and maps each row.</summary>
    public List<T> Query<T>(string sql, Func<SqliteDataReader, T> map, params (string Name, object? Value)[] parameters)
    {
        ArgumentException.ThrowIfNullOrEmpty(sql);
        ArgumentNullException.ThrowIfNull(map);
        using var connection = OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        var rows = new List<T>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            rows.Add(map(reader));
        }

        return rows;
    }

    /// <summary>
    /// Brings <paramref name="component"/>'s tables to the last of <paramref name="migrations"/>:
    /// migration i (SQL) runs once, when the recorded version is below i + 1. Never edit a released
    /// migration; append a new one.
    /// </summary>
    public void Migrate(string component, IReadOnlyList<string> migrations)
    {
        ArgumentException.ThrowIfNullOrEmpty(component);
        ArgumentNullException.ThrowIfNull(migrations);
        using var connection = OpenConnection();
        using var transaction = connection.BeginTransaction(deferred: false);
        using (var read = connection.CreateCommand())
        {
            read.Transaction = transaction;
            read.CommandText = "SELECT version FROM schema_versions WHERE component = $component";
            read.Parameters.AddWithValue("$component", component);
            var current = read.ExecuteScalar() is long version ? (int)version : 0;
            if (current > migrations.Count)
            {
                throw new InvalidOperationException(
                    $"The metadata database has {component} schema version {current}, newer than this build knows ({migrations.Count}).");
            }

            for (var i = current; i < migrations.Count; i++)
            {
                using var migrate = connection.CreateCommand();
                migrate.Transaction = transaction;
                migrate.CommandText = migrations[i];
                migrate.ExecuteNonQuery();
            }

            using var record = connection.CreateCommand();
            record.Transaction = transaction;
            record.CommandText = "INSERT INTO schema_versions (component, version) VALUES ($component, $version) ON CONFLICT (component) DO UPDATE SET version = excluded.version";
            record.Parameters.AddWithValue("$component", component);
            record.Parameters.AddWithValue("$version", migrations.Count);
            record.ExecuteNonQuery();
        }

        transaction.Commit();
    }
}
