// Persistence of disks, snapshots and images in the metadata database (component "compute-disks").
// Invariant: a row is keyed by the upper-cased canonical id (one resource per id, whatever the
// casing), a volume id belongs to at most one row, and diskState changes only through the
// compare-and-swap in TrySetState.
using System.Globalization;
using Ironclad.Metadata;
using Microsoft.Data.Sqlite;

namespace Ironclad.Compute.Disks;

internal sealed class DiskStore
{
    public const string Component = "compute-disks";

    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE compute_disks (
            id_key TEXT PRIMARY KEY,              -- canonical id, upper case
            id TEXT NOT NULL,
            kind TEXT NOT NULL,                   -- Disk | Snapshot
            subscription_id TEXT NOT NULL,
            resource_group_key TEXT NOT NULL,     -- upper case
            resource_group TEXT NOT NULL,
            name TEXT NOT NULL,
            location TEXT NOT NULL,
            tags TEXT NOT NULL,
            sku TEXT NOT NULL,
            zones TEXT,
            volume_id TEXT NOT NULL UNIQUE,
            size_bytes INTEGER NOT NULL,
            disk_state TEXT NOT NULL,
            managed_by TEXT,
            encryption_type TEXT NOT NULL,
            encryption_set_id TEXT,
            encryption_set_key TEXT,              -- upper case, for associatedResources
            create_option TEXT NOT NULL,
            creation_data TEXT NOT NULL,
            incremental INTEGER NOT NULL,
            os_type TEXT,
            hyper_v_generation TEXT,
            time_created TEXT NOT NULL
        );
        CREATE INDEX compute_disks_group ON compute_disks (subscription_id, resource_group_key);
        CREATE INDEX compute_disks_set ON compute_disks (encryption_set_key);
        CREATE TABLE compute_images (
            id_key TEXT PRIMARY KEY,
            id TEXT NOT NULL,
            subscription_id TEXT NOT NULL,
            resource_group_key TEXT NOT NULL,
            resource_group TEXT NOT NULL,
            name TEXT NOT NULL,
            location TEXT NOT NULL,
            tags TEXT NOT NULL,
            hyper_v_generation TEXT NOT NULL,
            zone_resilient INTEGER NOT NULL,
            time_created TEXT NOT NULL
        );
        CREATE INDEX compute_images_group ON compute_images (subscription_id, resource_group_key);
        CREATE TABLE compute_image_disks (
            volume_id TEXT PRIMARY KEY,
            image_key TEXT NOT NULL REFERENCES compute_images (id_key) ON DELETE CASCADE,
            lun INTEGER,                          -- NULL = the OS disk
            os_type TEXT,
            os_state TEXT,
            source_kind TEXT NOT NULL,
            source_id TEXT NOT NULL,
            size_bytes INTEGER NOT NULL,
            encryption_type TEXT NOT NULL,
            encryption_set_id TEXT,
            encryption_set_key TEXT,
            caching TEXT,
            storage_account_type TEXT
        );
        CREATE INDEX compute_image_disks_image ON compute_image_disks (image_key);
        CREATE INDEX compute_image_disks_set ON compute_image_disks (encryption_set_key);
        """,
    ];

    private readonly MetadataDatabase _database;

    public DiskStore(MetadataDatabase database)
    {
        _database = database ?? throw new ArgumentNullException(nameof(database));
        database.Migrate(Component, Migrations);
    }

    /// <summary>Inserts a new disk or snapshot; false if the id exists already.</summary>
    public bool TryInsert(DiskRecord disk)
    {
        ArgumentNullException.ThrowIfNull(disk);
        using var connection = _database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = """
            INSERT INTO compute_disks (id_key, id, kind, subscription_id, resource_group_key, resource_group, name, location, tags, sku, zones,
                volume_id, size_bytes, disk_state, managed_by, encryption_type, encryption_set_id, encryption_set_key, create_option, creation_data,
                incremental, os_type, hyper_v_generation, time_created)
            VALUES ($key, $id, $kind, $sub, $rgkey, $rg, $name, $location, $tags, $sku, $zones,
                $volume, $size, $state, $managedBy, $encType, $setId, $setKey, $createOption, $creationData,
                $incremental, $osType, $hyperV, $created)
            ON CONFLICT (id_key) DO NOTHING
            """;
        command.Parameters.AddWithValue("$key", disk.Id.ToUpperInvariant());
        command.Parameters.AddWithValue("$id", disk.Id);
        command.Parameters.AddWithValue("$kind", disk.Kind.ToString());
        command.Parameters.AddWithValue("$sub", disk.SubscriptionId.ToString());
        command.Parameters.AddWithValue("$rgkey", disk.ResourceGroup.ToUpperInvariant());
        command.Parameters.AddWithValue("$rg", disk.ResourceGroup);
        command.Parameters.AddWithValue("$name", disk.Name);
        command.Parameters.AddWithValue("$location", disk.Location);
        command.Parameters.AddWithValue("$tags", disk.TagsJson);
        command.Parameters.AddWithValue("$sku", disk.SkuName);
        command.Parameters.AddWithValue("$zones", (object?)disk.ZonesJson ?? DBNull.Value);
        command.Parameters.AddWithValue("$volume", disk.VolumeId.ToString());
        command.Parameters.AddWithValue("$size", disk.SizeBytes);
        command.Parameters.AddWithValue("$state", disk.DiskState);
        command.Parameters.AddWithValue("$managedBy", (object?)disk.ManagedBy ?? DBNull.Value);
        command.Parameters.AddWithValue("$encType", disk.EncryptionType);
        command.Parameters.AddWithValue("$setId", (object?)disk.EncryptionSetId ?? DBNull.Value);
        command.Parameters.AddWithValue("$setKey", (object?)disk.EncryptionSetId?.ToUpperInvariant() ?? DBNull.Value);
        command.Parameters.AddWithValue("$createOption", disk.CreateOption);
        command.Parameters.AddWithValue("$creationData", disk.CreationDataJson);
        command.Parameters.AddWithValue("$incremental", disk.Incremental ? 1 : 0);
        command.Parameters.AddWithValue("$osType", (object?)disk.OsType ?? DBNull.Value);
        command.Parameters.AddWithValue("$hyperV", (object?)disk.HyperVGeneration ?? DBNull.Value);
        command.Parameters.AddWithValue("$created", disk.TimeCreated.ToString("o", CultureInfo.InvariantCulture));
        return command.ExecuteNonQuery() == 1;
    }

    /// <summary>Writes the mutable fields (tags, sku, size, encryption); the state is left to <see cref="TrySetState"/>.</summary>
    public void Update(DiskRecord disk)
    {
        ArgumentNullException.ThrowIfNull(disk);
        using var connection = _database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = """
            UPDATE compute_disks SET tags = $tags, sku = $sku, size_bytes = $size, encryption_type = $encType,
                encryption_set_id = $setId, encryption_set_key = $setKey
            WHERE id_key = $key
            """;
        command.Parameters.AddWithValue("$key", disk.Id.ToUpperInvariant());
        command.Parameters.AddWithValue("$tags", disk.TagsJson);
        command.Parameters.AddWithValue("$sku", disk.SkuName);
        command.Parameters.AddWithValue("$size", disk.SizeBytes);
        command.Parameters.AddWithValue("$encType", disk.EncryptionType);
        command.Parameters.AddWithValue("$setId", (object?)disk.EncryptionSetId ?? DBNull.Value);
        command.Parameters.AddWithValue("$setKey", (object?)disk.EncryptionSetId?.ToUpperInvariant() ?? DBNull.Value);
        command.ExecuteNonQuery();
    }

    public bool TrySetState(string id, string expected, string newState, string? managedBy)
    {
        using var connection = _database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "UPDATE compute_disks SET disk_state = $new, managed_by = $managedBy WHERE id_key = $key AND disk_state = $expected";
        command.Parameters.AddWithValue("$key", id.ToUpperInvariant());
        command.Parameters.AddWithValue("$expected", expected);
        command.Parameters.AddWithValue("$new", newState);
        command.Parameters.AddWithValue("$managedBy", (object?)managedBy ?? DBNull.Value);
        return command.ExecuteNonQuery() == 1;
    }

    public DiskRecord? Find(string id) =>
        QueryDisks("SELECT * FROM compute_disks WHERE id_key = $key", ("$key", id.ToUpperInvariant())).FirstOrDefault();

    public DiskRecord? FindByVolume(Guid volumeId) =>
        QueryDisks("SELECT * FROM compute_disks WHERE volume_id = $volume", ("$volume", volumeId.ToString())).FirstOrDefault();

    public IReadOnlyList<DiskRecord> List(DiskResourceKind kind, Guid subscriptionId, string? resourceGroup) =>
        resourceGroup is null
            ? QueryDisks("SELECT * FROM compute_disks WHERE kind = $kind AND subscription_id = $sub ORDER BY id_key",
                ("$kind", kind.ToString()), ("$sub", subscriptionId.ToString()))
            : QueryDisks("SELECT * FROM compute_disks WHERE kind = $kind AND subscription_id = $sub AND resource_group_key = $rg ORDER BY id_key",
                ("$kind", kind.ToString()), ("$sub", subscriptionId.ToString()), ("$rg", resourceGroup.ToUpperInvariant()));

    public IReadOnlyList<DiskRecord> AllDisks() => QueryDisks("SELECT * FROM compute_disks ORDER BY id_key");

    public IReadOnlyList<DiskRecord> DisksUsingSet(string encryptionSetId) =>
        QueryDisks("SELECT * FROM compute_disks WHERE encryption_set_key = $set ORDER BY id_key", ("$set", encryptionSetId.ToUpperInvariant()));

    public bool Delete(string id)
    {
        using var connection = _database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM compute_disks WHERE id_key = $key";
        command.Parameters.AddWithValue("$key", id.ToUpperInvariant());
        return command.ExecuteNonQuery() == 1;
    }

    /// <summary>Inserts an image with its disks in one transaction; false if the id exists already.</summary>
    public bool TryInsertImage(ImageRecord image)
    {
        ArgumentNullException.ThrowIfNull(image);
        using var connection = _database.OpenConnection();
        using var transaction = connection.BeginTransaction(deferred: false);
        using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = """
                INSERT INTO compute_images (id_key, id, subscription_id, resource_group_key, resource_group, name, location, tags, hyper_v_generation, zone_resilient, time_created)
                VALUES ($key, $id, $sub, $rgkey, $rg, $name, $location, $tags, $hyperV, $zoneResilient, $created)
                ON CONFLICT (id_key) DO NOTHING
                """;
            command.Parameters.AddWithValue("$key", image.Id.ToUpperInvariant());
            command.Parameters.AddWithValue("$id", image.Id);
            command.Parameters.AddWithValue("$sub", image.SubscriptionId.ToString());
            command.Parameters.AddWithValue("$rgkey", image.ResourceGroup.ToUpperInvariant());
            command.Parameters.AddWithValue("$rg", image.ResourceGroup);
            command.Parameters.AddWithValue("$name", image.Name);
            command.Parameters.AddWithValue("$location", image.Location);
            command.Parameters.AddWithValue("$tags", image.TagsJson);
            command.Parameters.AddWithValue("$hyperV", image.HyperVGeneration);
            command.Parameters.AddWithValue("$zoneResilient", image.ZoneResilient ? 1 : 0);
            command.Parameters.AddWithValue("$created", image.TimeCreated.ToString("o", CultureInfo.InvariantCulture));
            if (command.ExecuteNonQuery() == 0)
            {
                return false;
            }
        }

        foreach (var disk in image.Disks)
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = """
                INSERT INTO compute_image_disks (volume_id, image_key, lun, os_type, os_state, source_kind, source_id, size_bytes, encryption_type,
                    encryption_set_id, encryption_set_key, caching, storage_account_type)
                VALUES ($volume, $image, $lun, $osType, $osState, $sourceKind, $sourceId, $size, $encType, $setId, $setKey, $caching, $sat)
                """;
            command.Parameters.AddWithValue("$volume", disk.VolumeId.ToString());
            command.Parameters.AddWithValue("$image", image.Id.ToUpperInvariant());
            command.Parameters.AddWithValue("$lun", (object?)disk.Lun ?? DBNull.Value);
            command.Parameters.AddWithValue("$osType", (object?)disk.OsType ?? DBNull.Value);
            command.Parameters.AddWithValue("$osState", (object?)disk.OsState ?? DBNull.Value);
            command.Parameters.AddWithValue("$sourceKind", disk.SourceKind);
            command.Parameters.AddWithValue("$sourceId", disk.SourceId);
            command.Parameters.AddWithValue("$size", disk.SizeBytes);
            command.Parameters.AddWithValue("$encType", disk.EncryptionType);
            command.Parameters.AddWithValue("$setId", (object?)disk.EncryptionSetId ?? DBNull.Value);
            command.Parameters.AddWithValue("$setKey", (object?)disk.EncryptionSetId?.ToUpperInvariant() ?? DBNull.Value);
            command.Parameters.AddWithValue("$caching", (object?)disk.Caching ?? DBNull.Value);
            command.Parameters.AddWithValue("$sat", (object?)disk.StorageAccountType ?? DBNull.Value);
            command.ExecuteNonQuery();
        }

        transaction.Commit();
        return true;
    }

    public void UpdateImageTags(string id, string tagsJson)
    {
        using var connection = _database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "UPDATE compute_images SET tags = $tags WHERE id_key = $key";
        command.Parameters.AddWithValue("$key", id.ToUpperInvariant());
        command.Parameters.AddWithValue("$tags", tagsJson);
        command.ExecuteNonQuery();
    }

    public ImageRecord? FindImage(string id) =>
        QueryImages("SELECT * FROM compute_images WHERE id_key = $key", ("$key", id.ToUpperInvariant())).FirstOrDefault();

    public IReadOnlyList<ImageRecord> ListImages(Guid subscriptionId, string? resourceGroup) =>
        resourceGroup is null
            ? QueryImages("SELECT * FROM compute_images WHERE subscription_id = $sub ORDER BY id_key", ("$sub", subscriptionId.ToString()))
            : QueryImages("SELECT * FROM compute_images WHERE subscription_id = $sub AND resource_group_key = $rg ORDER BY id_key",
                ("$sub", subscriptionId.ToString()), ("$rg", resourceGroup.ToUpperInvariant()));

    public IReadOnlyList<ImageRecord> AllImages() => QueryImages("SELECT * FROM compute_images ORDER BY id_key");

    /// <summary>The image owning an image-disk volume, or null.</summary>
    public ImageRecord? FindImageByVolume(Guid volumeId) =>
        QueryImages("SELECT * FROM compute_images WHERE id_key = (SELECT image_key FROM compute_image_disks WHERE volume_id = $volume)",
            ("$volume", volumeId.ToString())).FirstOrDefault();

    public IReadOnlyList<ImageRecord> ImagesUsingSet(string encryptionSetId) =>
        QueryImages("SELECT * FROM compute_images WHERE id_key IN (SELECT image_key FROM compute_image_disks WHERE encryption_set_key = $set) ORDER BY id_key",
            ("$set", encryptionSetId.ToUpperInvariant()));

    public bool DeleteImage(string id)
    {
        using var connection = _database.OpenConnection();
        using var transaction = connection.BeginTransaction(deferred: false);
        using (var disks = connection.CreateCommand())
        {
            disks.Transaction = transaction;
            disks.CommandText = "DELETE FROM compute_image_disks WHERE image_key = $key";
            disks.Parameters.AddWithValue("$key", id.ToUpperInvariant());
            disks.ExecuteNonQuery();
        }

        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "DELETE FROM compute_images WHERE id_key = $key";
        command.Parameters.AddWithValue("$key", id.ToUpperInvariant());
        var deleted = command.ExecuteNonQuery() == 1;
        transaction.Commit();
        return deleted;
    }

    private List<DiskRecord> QueryDisks(string sql, params (string Name, string Value)[] parameters)
    {
        using var connection = _database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        var result = new List<DiskRecord>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            result.Add(new DiskRecord(
                Id: reader.GetString(reader.GetOrdinal("id")),
                Kind: Enum.Parse<DiskResourceKind>(reader.GetString(reader.GetOrdinal("kind"))),
                SubscriptionId: Guid.Parse(reader.GetString(reader.GetOrdinal("subscription_id"))),
                ResourceGroup: reader.GetString(reader.GetOrdinal("resource_group")),
                Name: reader.GetString(reader.GetOrdinal("name")),
                Location: reader.GetString(reader.GetOrdinal("location")),
                TagsJson: reader.GetString(reader.GetOrdinal("tags")),
                SkuName: reader.GetString(reader.GetOrdinal("sku")),
                ZonesJson: NullableString(reader, "zones"),
                VolumeId: Guid.Parse(reader.GetString(reader.GetOrdinal("volume_id"))),
                SizeBytes: reader.GetInt64(reader.GetOrdinal("size_bytes")),
                DiskState: reader.GetString(reader.GetOrdinal("disk_state")),
                ManagedBy: NullableString(reader, "managed_by"),
                EncryptionType: reader.GetString(reader.GetOrdinal("encryption_type")),
                EncryptionSetId: NullableString(reader, "encryption_set_id"),
                CreateOption: reader.GetString(reader.GetOrdinal("create_option")),
                CreationDataJson: reader.GetString(reader.GetOrdinal("creation_data")),
                Incremental: reader.GetInt64(reader.GetOrdinal("incremental")) != 0,
                OsType: NullableString(reader, "os_type"),
                HyperVGeneration: NullableString(reader, "hyper_v_generation"),
                TimeCreated: DateTimeOffset.Parse(reader.GetString(reader.GetOrdinal("time_created")), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind)));
        }

        return result;
    }

    private List<ImageRecord> QueryImages(string sql, params (string Name, string Value)[] parameters)
    {
        using var connection = _database.OpenConnection();
        var images = new List<(string Key, ImageRecord Image)>();
        using (var command = connection.CreateCommand())
        {
            command.CommandText = sql;
            foreach (var (name, value) in parameters)
            {
                command.Parameters.AddWithValue(name, value);
            }

            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                images.Add((reader.GetString(reader.GetOrdinal("id_key")), new ImageRecord(
                    Id: reader.GetString(reader.GetOrdinal("id")),
                    SubscriptionId: Guid.Parse(reader.GetString(reader.GetOrdinal("subscription_id"))),
                    ResourceGroup: reader.GetString(reader.GetOrdinal("resource_group")),
                    Name: reader.GetString(reader.GetOrdinal("name")),
                    Location: reader.GetString(reader.GetOrdinal("location")),
                    TagsJson: reader.GetString(reader.GetOrdinal("tags")),
                    HyperVGeneration: reader.GetString(reader.GetOrdinal("hyper_v_generation")),
                    ZoneResilient: reader.GetInt64(reader.GetOrdinal("zone_resilient")) != 0,
                    TimeCreated: DateTimeOffset.Parse(reader.GetString(reader.GetOrdinal("time_created")), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind),
                    Disks: [])));
            }
        }

        var result = new List<ImageRecord>(images.Count);
        foreach (var (key, image) in images)
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT * FROM compute_image_disks WHERE image_key = $key ORDER BY lun";
            command.Parameters.AddWithValue("$key", key);
            var disks = new List<ImageDiskRecord>();
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var lunOrdinal = reader.GetOrdinal("lun");
                disks.Add(new ImageDiskRecord(
                    VolumeId: Guid.Parse(reader.GetString(reader.GetOrdinal("volume_id"))),
                    Lun: reader.IsDBNull(lunOrdinal) ? null : (int)reader.GetInt64(lunOrdinal),
                    OsType: NullableString(reader, "os_type"),
                    OsState: NullableString(reader, "os_state"),
                    SourceKind: reader.GetString(reader.GetOrdinal("source_kind")),
                    SourceId: reader.GetString(reader.GetOrdinal("source_id")),
                    SizeBytes: reader.GetInt64(reader.GetOrdinal("size_bytes")),
                    EncryptionType: reader.GetString(reader.GetOrdinal("encryption_type")),
                    EncryptionSetId: NullableString(reader, "encryption_set_id"),
                    Caching: NullableString(reader, "caching"),
                    StorageAccountType: NullableString(reader, "storage_account_type")));
            }

            result.Add(image with { Disks = disks });
        }

        return result;
    }

    private static string? NullableString(SqliteDataReader reader, string column)
    {
        var ordinal = reader.GetOrdinal(column);
        return reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
    }
}
