// What the disks, snapshots and images types share: the store and directory, the storage side, the
// encryption policy, SAS grants, the clock, the page size, and the small rules common to all three
// (names, skus, error mapping). Invariant: every storage failure leaves as an ARM error with a stable
// code, never a raw exception.
using System.Text.RegularExpressions;
using Ironclad.Compute.Access;
using Ironclad.Compute.DataKeys;
using Ironclad.Compute.Marketplace;
using Ironclad.Compute.VirtualMachines;
using Ironclad.ResourceManager.Providers;
using Ironclad.Storage;

namespace Ironclad.Compute.Disks;

internal sealed partial class DiskServices
{
    public const long GiB = 1L << 30;

    /// <summary>The largest diskSizeGB we take (the engine's 32 TiB limit, as the cloud's 32,767 GiB).</summary>
    public const long MaxDiskSizeGb = 32_767;

    private readonly Lazy<IDiskAccessGrants?> _grants;
    private readonly Lazy<IDataKeyService> _dataKeys;
    private readonly Lazy<IMarketplaceImages?> _marketplace;
    private readonly Lazy<IVmDirectory?> _vms;
    private readonly Lazy<IVmRuntime?> _runtime;

    public DiskServices(
        DiskDirectory directory, DiskVolumes volumes, DiskEncryptionPolicy encryption, Func<IDataKeyService> dataKeys,
        Func<IDiskAccessGrants?> grants, TimeProvider time, int pageSize, Func<IMarketplaceImages?>? marketplace = null,
        Func<IVmDirectory?>? vms = null, Func<IVmRuntime?>? runtime = null)
    {
        _vms = new Lazy<IVmDirectory?>(vms ?? (() => null));
        _runtime = new Lazy<IVmRuntime?>(runtime ?? (() => null));
        _marketplace = new Lazy<IMarketplaceImages?>(marketplace ?? (() => null));
        Directory = directory ?? throw new ArgumentNullException(nameof(directory));
        Volumes = volumes ?? throw new ArgumentNullException(nameof(volumes));
        Encryption = encryption ?? throw new ArgumentNullException(nameof(encryption));
        ArgumentNullException.ThrowIfNull(dataKeys);
        _dataKeys = new Lazy<IDataKeyService>(dataKeys);
        ArgumentNullException.ThrowIfNull(grants);
        _grants = new Lazy<IDiskAccessGrants?>(grants);
        Time = time ?? throw new ArgumentNullException(nameof(time));
        ArgumentOutOfRangeException.ThrowIfLessThan(pageSize, 1);
        PageSize = pageSize;
    }

    public DiskDirectory Directory { get; }

    public DiskStore Store => Directory.Store;

    public DiskVolumes Volumes { get; }

    public DiskEncryptionPolicy Encryption { get; }

    public IDataKeyService DataKeys => _dataKeys.Value;

    /// <summary>SAS grants (resolved on first use: the grants depend on the disk directory, not on these types).</summary>
    public IDiskAccessGrants? Grants => _grants.Value;

    /// <summary>The built-in marketplace (resolved on first use; null when the server has none).</summary>
    public IMarketplaceImages? Marketplace => _marketplace.Value;

    /// <summary>The VMs (images from a VM's disks), resolved on first use; null when the server has none.</summary>
    public IVmDirectory? Vms => _vms.Value;

    /// <summary>What runs now (an image is made only of a VM that does not run), resolved on first use.</summary>
    public IVmRuntime? Runtime => _runtime.Value;

    public TimeProvider Time { get; }

    public int PageSize { get; }

    /// <summary>Disk, snapshot and image names: 1-80 letters, digits, '_', '.', '-'; start with a letter or digit, end with a letter, digit or '_'.</summary>
    public static void RequireName(string name, string kind)
    {
        if (!NamePattern().IsMatch(name))
        {
            throw new ArmException(400, "InvalidResourceName",
                $"The {kind} name '{name}' is invalid: use 1-80 letters, digits, underscores, periods and hyphens, starting with a letter or digit and ending with a letter, digit or underscore.");
        }
    }

    /// <summary>The canonical spelling of a sku name among <paramref name="allowed"/>, case-insensitively.</summary>
    public static string CanonicalSku(string? name, IReadOnlyList<string> allowed, string kind) =>
        name is null
            ? allowed[0]
            : allowed.FirstOrDefault(a => a.Equals(name, StringComparison.OrdinalIgnoreCase))
              ?? throw new ArmException(400, "InvalidParameter", $"sku.name '{name}' is not a {kind} sku: use one of {string.Join(", ", allowed)}.");

    public static string SkuTier(string sku) => sku.StartsWith("Premium", StringComparison.Ordinal) ? "Premium"
        : sku.StartsWith("Ultra", StringComparison.Ordinal) ? "Ultra"
        : "Standard";

    /// <summary>Bytes → diskSizeGB as the cloud reports it (rounded up).</summary>
    public static long SizeGb(long bytes) => (bytes + GiB - 1) / GiB;

    public static long RequireSizeGb(long gb, string property) =>
        gb is >= 1 and <= MaxDiskSizeGb
            ? gb * GiB
            : throw new ArmException(400, "InvalidParameter", $"{property} must be between 1 and {MaxDiskSizeGb} (GiB); it was {gb}.");

    /// <summary>The ARM error for a storage engine failure (codes from docs/error-codes.md).</summary>
    public static ArmException StorageError(StorageException exception, string doing)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return exception.Error switch
        {
            Storage.StorageError.InUse => new ArmException(409, "OperationNotAllowed", $"Could not {doing}: the volume is in use ({exception.Message}). Retry when the operation using it ends."),
            Storage.StorageError.NotFound => new ArmException(409, "OperationNotAllowed", $"Could not {doing}: {exception.Message}"),
            Storage.StorageError.OutOfRange or Storage.StorageError.InvalidArgument => new ArmException(400, "InvalidParameter", $"Could not {doing}: {exception.Message}"),
            Storage.StorageError.Closed => new ArmException(503, "ServiceUnavailable", $"Could not {doing}: the storage engine is stopping or stopped."),
            _ => new ArmException(500, "InternalServerError", $"Could not {doing}: the storage engine failed ({exception.Error})."),
        };
    }

    [GeneratedRegex("^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,78}[A-Za-z0-9_])?$")]
    private static partial Regex NamePattern();
}
