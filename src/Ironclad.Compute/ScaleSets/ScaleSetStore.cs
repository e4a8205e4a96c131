// Persistence of virtual machine scale sets in the metadata database (component "compute-scalesets"):
// the set's model (sku, virtualMachineProfile without secrets) and the next instance id. Invariant:
// the instances themselves live only in the VM store (IVirtualMachineService.InstancesOf), so the
// capacity shown is always the number of instances that exist; instance ids are never reused.
using System.Globalization;
using Ironclad.Metadata;
using Microsoft.Data.Sqlite;

namespace Ironclad.Compute.ScaleSets;

/// <param name="PropertiesJson">The set's `properties` as stored (virtualMachineProfile with secrets removed, upgradePolicy, orchestrationMode…).</param>
/// <param name="NextInstanceId">The instance id the next scale-out starts at.</param>
internal sealed record ScaleSetRecord(
    string Id,
    Guid SubscriptionId,
    string ResourceGroup,
    string Name,
    string Location,
    string TagsJson,
    string SkuName,
    string? SkuTier,
    string? ZonesJson,
    string PropertiesJson,
    Guid UniqueId,
    long NextInstanceId,
    DateTimeOffset TimeCreated);

internal sealed class ScaleSetStore
{
    public const string Component = "compute-scalesets";

    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE compute_scalesets (
            id_key TEXT PRIMARY KEY,              -- canonical id, upper case
            id TEXT NOT NULL,
            subscription_id TEXT NOT NULL,
            resource_group_key TEXT NOT NULL,     -- upper case
            resource_group TEXT NOT NULL,
            name TEXT NOT NULL,
            location TEXT NOT NULL,
            tags TEXT NOT NULL,
            sku_name TEXT NOT NULL,
            sku_tier TEXT,
            zones TEXT,
            properties TEXT NOT NULL,             -- JSON, no adminPassword / customData / secrets
            unique_id TEXT NOT NULL,
            next_instance_id INTEGER NOT NULL,
            time_created TEXT NOT NULL
        );
        CREATE INDEX compute_scalesets_group ON compute_scalesets (subscription_id, resource_group_key);
        """,
    ];

    private readonly MetadataDatabase _database;

    public ScaleSetStore(MetadataDatabase database)
    {
        _database = database ?? throw new ArgumentNullException(nameof(database));
        database.Migrate(Component, Migrations);
    }

    /// <summary>Inserts a new set; false if the id exists already.</summary>
    public bool TryInsert(ScaleSetRecord set)
    {
        ArgumentNullException.ThrowIfNull(set);
        using var connection = _database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = """
            INSERT INTO compute_scalesets (id_key, id, subscription_id, resource_group_key, resource_group, name, location, tags,
                sku_name, sku_tier, zones, properties, unique_id, next_instance_id, time_created)
            VALUES ($key, $id, $sub, $rgkey, $rg, $name, $location, $tags, $skuName, $skuTier, $zones, $properties, $unique, $next, $created)
            ON CONFLICT (id_key) DO NOTHING
            """;
        command.Parameters.AddWithValue("$key", set.Id.ToUpperInvariant());
        command.Parameters.AddWithValue("$id", set.Id);
        command.Parameters.AddWithValue("$sub", set.SubscriptionId.ToString());
        command.Parameters.AddWithValue("$rgkey", set.ResourceGroup.ToUpperInvariant());
        command.Parameters.AddWithValue("$rg", set.ResourceGroup);
        command.Parameters.AddWithValue("$name", set.Name);
        command.Parameters.AddWithValue("$location", set.Location);
        command.Parameters.AddWithValue("$tags", set.TagsJson);
        command.Parameters.AddWithValue("$skuName", set.SkuName);
        command.Parameters.AddWithValue("$skuTier", (object?)set.SkuTier ?? DBNull.Value);
        command.Parameters.AddWithValue("$zones", (object?)set.ZonesJson ?? DBNull.Value);
        command.Parameters.AddWithValue("$properties", set.PropertiesJson);
        command.Parameters.AddWithValue("$unique", set.UniqueId.ToString());
        command.Parameters.AddWithValue("$next", set.NextInstanceId);
        command.Parameters.AddWithValue("$created", set.TimeCreated.ToString("o", CultureInfo.InvariantCulture));
        return command.ExecuteNonQuery() == 1;
    }

    /// <summary>Writes the model (tags, sku, zones, properties); the id, location, unique id and next instance id stay.</summary>
    public void UpdateModel(ScaleSetRecord set)
    {
        ArgumentNullException.ThrowIfNull(set);
        using var connection = _database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = """
            UPDATE compute_scalesets SET tags = $tags, sku_name = $skuName, sku_tier = $skuTier, zones = $zones, properties = $properties
            WHERE id_key = $key
            """;
        command.Parameters.AddWithValue("$key", set.Id.ToUpperInvariant());
        command.Parameters.AddWithValue("$tags", set.TagsJson);
        command.Parameters.AddWithValue("$skuName", set.SkuName);
        command.Parameters.AddWithValue("$skuTier", (object?)set.SkuTier ?? DBNull.Value);
        command.Parameters.AddWithValue("$zones", (object?)set.ZonesJson ?? DBNull.Value);
        command.Parameters.AddWithValue("$properties", set.PropertiesJson);
        command.ExecuteNonQuery();
    }

    /// <summary>Reserves <paramref name="count"/> instance ids (never handed out again, even if the scale-out fails); returns the first.</summary>
    public long ReserveInstanceIds(string id, long atLeast, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        using var connection = _database.OpenConnection();
        using var transaction = connection.BeginTransaction(deferred: false);
        long first;
        using (var read = connection.CreateCommand())
        {
            read.Transaction = transaction;
            read.CommandText = "SELECT next_instance_id FROM compute_scalesets WHERE id_key = $key";
            read.Parameters.AddWithValue("$key", id.ToUpperInvariant());
            first = Math.Max(atLeast, read.ExecuteScalar() is long next ? next : throw new InvalidOperationException($"The scale set '{id}' is not stored."));
        }

        using (var write = connection.CreateCommand())
        {
            write.Transaction = transaction;
            write.CommandText = "UPDATE compute_scalesets SET next_instance_id = $next WHERE id_key = $key";
            write.Parameters.AddWithValue("$key", id.ToUpperInvariant());
            write.Parameters.AddWithValue("$next", first + count);
            write.ExecuteNonQuery();
        }

        transaction.Commit();
        return first;
    }

    public ScaleSetRecord? Find(string id) =>
        Query("SELECT * FROM compute_scalesets WHERE id_key = $key", ("$key", id.ToUpperInvariant())).FirstOrDefault();

    public IReadOnlyList<ScaleSetRecord> List(Guid subscriptionId, string? resourceGroup) =>
        resourceGroup is null
            ? Query("SELECT * FROM compute_scalesets WHERE subscription_id = $sub ORDER BY id_key", ("$sub", subscriptionId.ToString()))
            : Query("SELECT * FROM compute_scalesets WHERE subscription_id = $sub AND resource_group_key = $rg ORDER BY id_key",
                ("$sub", subscriptionId.ToString()), ("$rg", resourceGroup.ToUpperInvariant()));

    public bool Delete(string id)
    {
        using var connection = _database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM compute_scalesets WHERE id_key = $key";
        command.Parameters.AddWithValue("$key", id.ToUpperInvariant());
        return command.ExecuteNonQuery() == 1;
    }

    private List<ScaleSetRecord> Query(string sql, params (string Name, string Value)[] parameters) =>
        _database.Query(sql, Read, [.. parameters.Select(p => (p.Name, (object?)p.Value))]);

    private static ScaleSetRecord Read(SqliteDataReader reader) => new(
            Id: reader.GetString(reader.GetOrdinal("id")),
            SubscriptionId: Guid.Parse(reader.GetString(reader.GetOrdinal("subscription_id"))),
            ResourceGroup: reader.GetString(reader.GetOrdinal("resource_group")),
            Name: reader.GetString(reader.GetOrdinal("name")),
            Location: reader.GetString(reader.GetOrdinal("location")),
            TagsJson: reader.GetString(reader.GetOrdinal("tags")),
            SkuName: reader.GetString(reader.GetOrdinal("sku_name")),
            SkuTier: reader.IsDBNull(reader.GetOrdinal("sku_tier")) ? null : reader.GetString(reader.GetOrdinal("sku_tier")),
            ZonesJson: reader.IsDBNull(reader.GetOrdinal("zones")) ? null : reader.GetString(reader.GetOrdinal("zones")),
            PropertiesJson: reader.GetString(reader.GetOrdinal("properties")),
            UniqueId: Guid.Parse(reader.GetString(reader.GetOrdinal("unique_id"))),
            NextInstanceId: reader.GetInt64(reader.GetOrdinal("next_instance_id")),
            TimeCreated: DateTimeOffset.Parse(reader.GetString(reader.GetOrdinal("time_created")), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind));
}
