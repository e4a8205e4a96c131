// One named export in the registry: how to describe it without opening it, how to open it for a
// connection, and who may see it. Registrations are immutable; to change one, remove and re-add.
using System.Text;
using Ironclad.Nbd.Exports;
using Ironclad.Storage;

namespace Ironclad.Host.Exports;

/// <summary>What NBD_OPT_INFO and NBD_OPT_LIST report about an export, read without opening it.</summary>
internal readonly record struct ExportShape(long SizeBytes, bool IsReadOnly, bool CanMultiConnect);

internal sealed record ExportRegistration
{
    /// <summary>The NBD protocol caps export names at 4096 bytes of UTF-8 ("Option types", NBD_OPT_EXPORT_NAME).</summary>
    public const int NameBytesMax = 4096;

    /// <param name="name">Export name clients ask for (exact, case-sensitive). Not empty: the default export is not served.</param>
    /// <param name="description">Free text shown by NBD_OPT_LIST and NBD_INFO_DESCRIPTION; no secrets.</param>
    /// <param name="describe">Current size and flags; cheap, thread-safe, throws StorageException if the backing volume is gone.</param>
    /// <param name="open">Opens the export for one connection; the connection disposes it.</param>
    public ExportRegistration(string name, string? description, Func<ExportShape> describe, Func<NbdClient, INbdExport> open)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(describe);
        ArgumentNullException.ThrowIfNull(open);
        if (Encoding.UTF8.GetByteCount(name) > NameBytesMax)
        {
            throw new ArgumentException($"An NBD export name is at most {NameBytesMax} bytes of UTF-8.", nameof(name));
        }

        Name = name;
        Description = description;
        Describe = describe;
        Open = open;
    }

    public string Name { get; }

    public string? Description { get; }

    public Func<ExportShape> Describe { get; }

    public Func<NbdClient, INbdExport> Open { get; }

    /// <summary>Whether a client may list, describe and open the export; everyone by default.</summary>
    public Func<NbdClient, bool> IsVisibleTo { get; init; } = static _ => true;

    /// <summary>
    /// A volume or snapshot of <paramref name="store"/>: described from the store's catalog (no
    /// key needed) and opened per connection with <paramref name="openVolume"/>, which holds the key.
    /// </summary>
    public static ExportRegistration ForVolume(
        string name, string? description, VolumeStore store, Guid volumeId, Func<Volume> openVolume)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(openVolume);
        return new ExportRegistration(
            name,
            description,
            () =>
            {
                var info = store.Find(volumeId)
                    ?? throw new StorageException(StorageError.NotFound, $"Volume {volumeId} no longer exists.");
                return new ExportShape(info.SizeBytes, info.Kind == VolumeKind.Snapshot, CanMultiConnect: true);
            },
            _ => new VolumeExport(openVolume()));
    }
}
