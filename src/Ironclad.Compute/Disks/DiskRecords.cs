// The stored shape of disks, snapshots and images (component "compute-disks" of the metadata
// database). Invariant: every record names exactly one storage volume per disk (VolumeId = the
// resource's uniqueId) and the encryption its wrapped DEKs are under; JSON columns hold only what
// the client sent (tags, zones, creationData), never key material.
namespace Ironclad.Compute.Disks;

/// <summary>A disk or snapshot row.</summary>
/// <param name="Id">Canonical ARM id (case as first created).</param>
/// <param name="TagsJson">The tags object as JSON.</param>
/// <param name="ZonesJson">The zones array as JSON, or null.</param>
/// <param name="CreationDataJson">creationData as answered (createOption, sourceResourceId, imageReference, uploadSizeBytes, sourceUniqueId).</param>
/// <param name="Incremental">Snapshots only.</param>
internal sealed record DiskRecord(
    string Id,
    DiskResourceKind Kind,
    Guid SubscriptionId,
    string ResourceGroup,
    string Name,
    string Location,
    string TagsJson,
    string SkuName,
    string? ZonesJson,
    Guid VolumeId,
    long SizeBytes,
    string DiskState,
    string? ManagedBy,
    string EncryptionType,
    string? EncryptionSetId,
    string CreateOption,
    string CreationDataJson,
    bool Incremental,
    string? OsType,
    string? HyperVGeneration,
    DateTimeOffset TimeCreated)
{
    public DiskInfo ToInfo() => new(Id, Kind, VolumeId, SubscriptionId, ResourceGroup, Name, Location, EncryptionType, EncryptionSetId, DiskState, ManagedBy, SizeBytes);
}

/// <summary>An image: its OS disk and data disks, each a volume of its own.</summary>
internal sealed record ImageRecord(
    string Id,
    Guid SubscriptionId,
    string ResourceGroup,
    string Name,
    string Location,
    string TagsJson,
    string HyperVGeneration,
    bool ZoneResilient,
    DateTimeOffset TimeCreated,
    IReadOnlyList<ImageDiskRecord> Disks)
{
    public ImageDiskRecord? OsDisk => Disks.FirstOrDefault(d => d.Lun is null);

    public IEnumerable<ImageDiskRecord> DataDisks => Disks.Where(d => d.Lun is not null).OrderBy(d => d.Lun);

    public DiskInfo ToInfo(ImageDiskRecord disk) =>
        new(Id, DiskResourceKind.ImageDisk, disk.VolumeId, SubscriptionId, ResourceGroup, Name, Location, disk.EncryptionType, disk.EncryptionSetId,
            DiskStates.Unattached, ManagedBy: null, disk.SizeBytes, disk.Lun);
}

/// <summary>One disk of an image.</summary>
/// <param name="Lun">Null for the OS disk.</param>
/// <param name="SourceKind">"managedDisk" or "snapshot" (the storageProfile property it came from).</param>
/// <param name="SourceId">The disk or snapshot it was made from (kept for the answer; it may be gone since).</param>
internal sealed record ImageDiskRecord(
    Guid VolumeId,
    int? Lun,
    string? OsType,
    string? OsState,
    string SourceKind,
    string SourceId,
    long SizeBytes,
    string EncryptionType,
    string? EncryptionSetId,
    string? Caching,
    string? StorageAccountType);
