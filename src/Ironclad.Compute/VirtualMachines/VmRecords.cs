// The stored shape of virtual machines (component "compute-vms" of the metadata database): the VM's
// envelope, the profiles as the client sent them (osProfile without secrets), the resolved disks and
// the recorded power state. Invariant: no secret is ever stored (adminPassword, customData, secrets are
// dropped before a record is made), and a VM's disks are real disks resources, referenced by id.
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Ironclad.Compute.VirtualMachines;

/// <summary>Wire spellings of the recorded power state.</summary>
internal static class VmPowerStates
{
    public const string Running = "running";
    public const string Stopped = "stopped";
    public const string Deallocated = "deallocated";
}

/// <summary>One disk of a VM as stored.</summary>
/// <param name="Lun">Null for the OS disk.</param>
/// <param name="CreateOption">FromImage, Empty or Attach (as the disk was given to the VM).</param>
/// <param name="DeleteOption">Delete or Detach: what DELETE of the VM does to the disk.</param>
internal sealed record VmDiskRecord(
    int? Lun,
    string DiskId,
    string Name,
    Guid VolumeId,
    string CreateOption,
    string? Caching,
    string DeleteOption,
    string? StorageAccountType,
    string? OsType);

/// <summary>A VM or a scale-set instance.</summary>
/// <param name="HardwareProfileJson">As sent (or null).</param>
/// <param name="OsProfileJson">As sent minus secrets (or null).</param>
/// <param name="ExtraPropertiesJson">Other properties as sent (networkProfile, securityProfile, …), one JSON object.</param>
/// <param name="ImageReferenceJson">As rendered (marketplace: with exactVersion), or null for an attached OS disk.</param>
internal sealed record VmRecord(
    string Id,
    Guid SubscriptionId,
    string ResourceGroup,
    string Name,
    string Location,
    string TagsJson,
    Guid VmUniqueId,
    string? HardwareProfileJson,
    string? OsProfileJson,
    string ExtraPropertiesJson,
    string? ImageReferenceJson,
    IReadOnlyList<VmDiskRecord> Disks,
    string PowerState,
    string? StopCode,
    string? StopReason,
    DateTimeOffset? StopTime,
    string? ScaleSetId,
    string? InstanceId,
    DateTimeOffset TimeCreated)
{
    public VmDiskRecord OsDisk => Disks.First(d => d.Lun is null);

    public IEnumerable<VmDiskRecord> DataDisks => Disks.Where(d => d.Lun is not null).OrderBy(d => d.Lun);

    public VmRuntimeSpec ToSpec() =>
        new(Id, VmUniqueId, Name, [.. Disks.OrderBy(d => d.Lun ?? -1).Select(d => new VmDisk(d.DiskId, d.Name, d.VolumeId, d.Lun))]);
}

[JsonSerializable(typeof(List<VmDiskRecord>))]
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
internal sealed partial class VmJsonContext : JsonSerializerContext
{
    public static string Serialize(IReadOnlyList<VmDiskRecord> disks) => JsonSerializer.Serialize([.. disks], Default.ListVmDiskRecord);

    public static List<VmDiskRecord> Deserialize(string json) =>
        JsonSerializer.Deserialize(json, Default.ListVmDiskRecord) ?? throw new InvalidDataException("A VM's disks column is not a JSON array.");
}
