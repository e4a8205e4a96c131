// What the rest of Compute may ask about disks, snapshots and images (the disks handler implements
// it): which volumes exist, which set each uses, and the disk state machine other parts drive
// (SAS access now, VM attach in issue 7). Invariant: DiskState changes only by compare-and-swap.
namespace Ironclad.Compute.Disks;

public enum DiskResourceKind
{
    Disk,
    Snapshot,

    /// <summary>One disk of an image (its OS disk or a data disk at a LUN).</summary>
    ImageDisk,
}

/// <summary>One volume-backed resource (for an image, one per OS/data disk).</summary>
/// <param name="ResourceId">Canonical ARM id (the image's id for image disks).</param>
/// <param name="VolumeId">The storage volume (also the disk's uniqueId).</param>
/// <param name="EncryptionSetId">The set, for customer-key types; null for platform-key.</param>
/// <param name="DiskState">Unattached, Attached, ActiveSAS, ReadyToUpload, ActiveUpload, … (snapshots: Unattached / ActiveSAS).</param>
/// <param name="ManagedBy">The VM id when attached.</param>
/// <param name="Lun">For image disks: null = OS disk, else the data disk's LUN.</param>
public sealed record DiskInfo(
    string ResourceId,
    DiskResourceKind Kind,
    Guid VolumeId,
    Guid SubscriptionId,
    string ResourceGroup,
    string Name,
    string Location,
    string EncryptionType,
    string? EncryptionSetId,
    string DiskState,
    string? ManagedBy,
    long SizeBytes,
    int? Lun = null);

public interface IDiskDirectory
{
    /// <summary>A disk or snapshot by id (case-insensitive); image disks are found with <see cref="FindByVolume"/>.</summary>
    DiskInfo? Find(string resourceId);

    DiskInfo? FindByVolume(Guid volumeId);

    /// <summary>Disks, snapshots and image disks encrypted through the set (for associatedResources and delete-in-use).</summary>
    IReadOnlyList<DiskInfo> UsingEncryptionSet(string encryptionSetId);

    IReadOnlyList<DiskInfo> All();

    /// <summary>Moves a disk or snapshot from <paramref name="expected"/> to <paramref name="newState"/>; false if it is not in <paramref name="expected"/>.</summary>
    bool TrySetDiskState(string resourceId, string expected, string newState, string? managedBy = null);
}

/// <summary>Wire spellings of diskState.</summary>
public static class DiskStates
{
    public const string Unattached = "Unattached";
    public const string Attached = "Attached";
    public const string Reserved = "Reserved";
    public const string ActiveSas = "ActiveSAS";
    public const string ReadyToUpload = "ReadyToUpload";
    public const string ActiveUpload = "ActiveUpload";
}
