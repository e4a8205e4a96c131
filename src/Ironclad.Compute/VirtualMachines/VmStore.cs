// Persistence of virtual machines and scale-set instances in the metadata database (component
// "compute-vms"). Invariant: a row is keyed by the upper-cased canonical id (one VM per id, whatever
// the casing); a row holds no secret (osProfile is stored without adminPassword, customData, secrets).
using System.Globalization;
using Ironclad.Metadata;
using Microsoft.Data.Sqlite;

namespace Ironclad.Compute.VirtualMachines;

internal sealed class VmStore
{
    public const string Component = "compute-vms";

    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE compute_vms (
            id_key TEXT PRIMARY KEY,              -- canonical id, upper case
            id TEXT NOT NULL,
            subscription_id TEXT NOT NULL,
            resource_group_key TEXT NOT NULL,     -- upper case
            resource_group TEXT NOT NULL,
            name TEXT NOT NULL,
            location TEXT NOT NULL,
            tags TEXT NOT NULL,
            vm_unique_id TEXT NOT NULL UNIQUE,
            hardware_profile TEXT,
            os_profile TEXT,                      -- without secrets
            extra_properties TEXT NOT NULL,
            image_reference TEXT,
            disks TEXT NOT NULL,                  -- JSON array of VmDiskRecord
            power_state TEXT NOT NULL,            -- running | stopped | deallocated
            stop_code TEXT,
            stop_reason TEXT,
            stop_time TEXT,
            scale_set_key TEXT,                   -- upper case, NULL for a standalone VM
            scale_set_id TEXT,
            instance_id TEXT,
            time_created TEXT NOT NULL
        );
        CREATE INDEX compute_vms_group ON compute_vms (subscription_id, resource_group_key);
        CREATE INDEX compute_vms_scale_set ON compute_vms (scale_set_key);
        """,
    ];

    private readonly MetadataDatabase _database;

    public VmStore(MetadataDatabase database)
    {
        _database = database ?? throw new ArgumentNullException(nameof(database));
        database.Migrate(Component, Migrations);
    }

    /// <summary>Inserts a new VM; false if the id exists already.</summary>
    public bool TryInsert(VmRecord vm)
    {
        ArgumentNullException.ThrowIfNull(vm);
        using var connection = _database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = """
            INSERT INTO compute_vms (id_key, id, subscription_id, resource_group_key, resource_group, name, location, tags, vm_unique_id,
                hardware_profile, os_profile, extra_properties, image_reference, disks, power_state, stop_code, stop_reason, stop_time,
                scale_set_key, scale_set_id, instance_id, time_created)
            VALUES ($key, $id, $sub, $rgkey, $rg, $name, $location, $tags, $unique,
                $hardware, $os, $extra, $image, $disks, $power, $stopCode, $stopReason, $stopTime,
                $setKey, $setId, $instance, $created)
            ON CONFLICT (id_key) DO NOTHING
            """;
        Bind(command, vm);
        command.Parameters.AddWithValue("$sub", vm.SubscriptionId.ToString());
        command.Parameters.AddWithValue("$rgkey", vm.ResourceGroup.ToUpperInvariant());
        command.Parameters.AddWithValue("$rg", vm.ResourceGroup);
        command.Parameters.AddWithValue("$name", vm.Name);
        command.Parameters.AddWithValue("$location", vm.Location);
        command.Parameters.AddWithValue("$unique", vm.VmUniqueId.ToString());
        command.Parameters.AddWithValue("$setKey", (object?)vm.ScaleSetId?.ToUpperInvariant() ?? DBNull.Value);
        command.Parameters.AddWithValue("$setId", (object?)vm.ScaleSetId ?? DBNull.Value);
        command.Parameters.AddWithValue("$instance", (object?)vm.InstanceId ?? DBNull.Value);
        command.Parameters.AddWithValue("$created", vm.TimeCreated.ToString("o", CultureInfo.InvariantCulture));
        return command.ExecuteNonQuery() == 1;
    }

    /// <summary>Writes the mutable fields (tags, profiles, disks); the power state is left to <see cref="SetPower"/>.</summary>
    public void Update(VmRecord vm)
    {
        ArgumentNullException.ThrowIfNull(vm);
        using var connection = _database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = """
            UPDATE compute_vms SET tags = $tags, hardware_profile = $hardware, os_profile = $os, extra_properties = $extra,
                image_reference = $image, disks = $disks
            WHERE id_key = $key
            """;
        Bind(command, vm);
        command.ExecuteNonQuery();
    }

    /// <summary>Records the power state and why the server stopped the VM (null: a user action); false if the VM is gone.</summary>
    public bool SetPower(string id, string powerState, string? stopCode, string? stopReason, DateTimeOffset? stopTime)
    {
        using var connection = _database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "UPDATE compute_vms SET power_state = $power, stop_code = $stopCode, stop_reason = $stopReason, stop_time = $stopTime WHERE id_key = $key";
        command.Parameters.AddWithValue("$key", id.ToUpperInvariant());
        command.Parameters.AddWithValue("$power", powerState);
        command.Parameters.AddWithValue("$stopCode", (object?)stopCode ?? DBNull.Value);
        command.Parameters.AddWithValue("$stopReason", (object?)stopReason ?? DBNull.Value);
        command.Parameters.AddWithValue("$stopTime", (object?)stopTime?.ToString("o", CultureInfo.InvariantCulture) ?? DBNull.Value);
        return command.ExecuteNonQuery() == 1;
    }

    public VmRecord? Find(string id) => Query("SELECT * FROM compute_vms WHERE id_key = $key", ("$key", id.ToUpperInvariant())).FirstOrDefault();

    /// <summary>Standalone VMs (no scale set) of a subscription or group.</summary>
    public IReadOnlyList<VmRecord> ListStandalone(Guid subscriptionId, string? resourceGroup) =>
        resourceGroup is null
            ? Query("SELECT * FROM compute_vms WHERE subscription_id = $sub AND scale_set_key IS NULL ORDER BY id_key", ("$sub", subscriptionId.ToString()))
            : Query("SELECT * FROM compute_vms WHERE subscription_id = $sub AND resource_group_key = $rg AND scale_set_key IS NULL ORDER BY id_key",
                ("$sub", subscriptionId.ToString()), ("$rg", resourceGroup.ToUpperInvariant()));

    /// <summary>Every VM and instance of a group.</summary>
    public IReadOnlyList<VmRecord> ListGroup(Guid subscriptionId, string resourceGroup) =>
        Query("SELECT * FROM compute_vms WHERE subscription_id = $sub AND resource_group_key = $rg ORDER BY id_key",
            ("$sub", subscriptionId.ToString()), ("$rg", resourceGroup.ToUpperInvariant()));

    public IReadOnlyList<VmRecord> ListScaleSet(string scaleSetId) =>
        Query("SELECT * FROM compute_vms WHERE scale_set_key = $set", ("$set", scaleSetId.ToUpperInvariant()));

    public IReadOnlyList<VmRecord> All() => Query("SELECT * FROM compute_vms ORDER BY id_key");

    public IReadOnlyList<VmRecord> InPowerState(string powerState) =>
        Query("SELECT * FROM compute_vms WHERE power_state = $power ORDER BY id_key", ("$power", powerState));

    public bool Delete(string id)
    {
        using var connection = _database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM compute_vms WHERE id_key = $key";
        command.Parameters.AddWithValue("$key", id.ToUpperInvariant());
        return command.ExecuteNonQuery() == 1;
    }

    private static void Bind(SqliteCommand command, VmRecord vm)
    {
        command.Parameters.AddWithValue("$key", vm.Id.ToUpperInvariant());
        command.Parameters.AddWithValue("$id", vm.Id);
        command.Parameters.AddWithValue("$tags", vm.TagsJson);
        command.Parameters.AddWithValue("$hardware", (object?)vm.HardwareProfileJson ?? DBNull.Value);
        command.Parameters.AddWithValue("$os", (object?)vm.OsProfileJson ?? DBNull.Value);
        command.Parameters.AddWithValue("$extra", vm.ExtraPropertiesJson);
        command.Parameters.AddWithValue("$image", (object?)vm.ImageReferenceJson ?? DBNull.Value);
        command.Parameters.AddWithValue("$disks", VmJsonContext.Serialize(vm.Disks));
        command.Parameters.AddWithValue("$power", vm.PowerState);
        command.Parameters.AddWithValue("$stopCode", (object?)vm.StopCode ?? DBNull.Value);
        command.Parameters.AddWithValue("$stopReason", (object?)vm.StopReason ?? DBNull.Value);
        command.Parameters.AddWithValue("$stopTime", (object?)vm.StopTime?.ToString("o", CultureInfo.InvariantCulture) ?? DBNull.Value);
    }

    private List<VmRecord> Query(string sql, params (string Name, string Value)[] parameters) =>
        _database.Query(sql, Read, [.. parameters.Select(p => (p.Name, (object?)p.Value))]);

    private static VmRecord Read(SqliteDataReader reader) => new(
            Id: reader.GetString(reader.GetOrdinal("id")),
            SubscriptionId: Guid.Parse(reader.GetString(reader.GetOrdinal("subscription_id"))),
            ResourceGroup: reader.GetString(reader.GetOrdinal("resource_group")),
            Name: reader.GetString(reader.GetOrdinal("name")),
            Location: reader.GetString(reader.GetOrdinal("location")),
            TagsJson: reader.GetString(reader.GetOrdinal("tags")),
            VmUniqueId: Guid.Parse(reader.GetString(reader.GetOrdinal("vm_unique_id"))),
            HardwareProfileJson: NullableString(reader, "hardware_profile"),
            OsProfileJson: NullableString(reader, "os_profile"),
            ExtraPropertiesJson: reader.GetString(reader.GetOrdinal("extra_properties")),
            ImageReferenceJson: NullableString(reader, "image_reference"),
            Disks: VmJsonContext.Deserialize(reader.GetString(reader.GetOrdinal("disks"))),
            PowerState: reader.GetString(reader.GetOrdinal("power_state")),
            StopCode: NullableString(reader, "stop_code"),
            StopReason: NullableString(reader, "stop_reason"),
            StopTime: NullableString(reader, "stop_time") is { } stop ? DateTimeOffset.Parse(stop, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind) : null,
            ScaleSetId: NullableString(reader, "scale_set_id"),
            InstanceId: NullableString(reader, "instance_id"),
            TimeCreated: DateTimeOffset.Parse(reader.GetString(reader.GetOrdinal("time_created")), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind));

    private static string? NullableString(SqliteDataReader reader, string column)
    {
        var ordinal = reader.GetOrdinal(column);
        return reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
    }
}
