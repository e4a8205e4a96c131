// SAS access to a disk's or snapshot's data (beginGetAccess / endGetAccess): a time-limited HTTPS URL
// that reads (and, for an Upload disk, writes) plaintext through the server, page-blob style.
// Invariant: the URL's token is signed by the server, expires, is bound to one grant of one volume,
// and is never logged; ending the grant (or revocation) makes the URL fail at once.
using Ironclad.Compute.Disks;

namespace Ironclad.Compute.Access;

public enum DiskAccessLevel
{
    Read,
    Write,
}

public interface IDiskAccessGrants
{
    /// <summary>
    /// Opens a session on the disk (a fresh unwrap through the vault) and returns the accessSAS URL,
    /// rooted at <paramref name="baseUri"/> (the ARM origin). Moves the disk to ActiveSAS / ActiveUpload.
    /// </summary>
    /// <exception cref="KeyAccess.KeyAccessException">The key is unusable: no grant was made.</exception>
    Task<Uri> GrantAsync(DiskInfo disk, DiskAccessLevel access, TimeSpan duration, Uri baseUri, CancellationToken cancellationToken);

    /// <summary>Ends every grant on the disk and returns it to Unattached (or ReadyToUpload → Unattached after an upload). False if none was open.</summary>
    Task<bool> EndAsync(DiskInfo disk, CancellationToken cancellationToken);

    /// <summary>True while a grant on the volume is open and unexpired.</summary>
    bool HasGrant(Guid volumeId);
}
