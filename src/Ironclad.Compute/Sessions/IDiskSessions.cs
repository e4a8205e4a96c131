// Open disks: the only holder of unwrapped DEKs at run time. A session is a volume opened with its
// DEKs for one use (a SAS grant now; a VM attachment in issue 7). Invariant: revoking a volume closes
// every session on it and zeroes its DEKs before Revoke returns; a new session always unwraps afresh
// through the vault, so a revoked key refuses it.
using Ironclad.Storage;

namespace Ironclad.Compute.Sessions;

public interface IDiskSessions
{
    /// <summary>Opens <paramref name="volumeId"/> for <paramref name="purpose"/> (e.g. "sas", "vm:{id}").</summary>
    /// <exception cref="KeyAccess.KeyAccessException">The vault refused an unwrap: the disk is unusable until access returns.</exception>
    Task<IDiskSession> OpenAsync(Guid volumeId, string purpose, CancellationToken cancellationToken);

    /// <summary>True while any session is open on the volume.</summary>
    bool IsOpen(Guid volumeId);

    /// <summary>Closes every session on the volume and zeroes its DEKs; returns how many were closed.</summary>
    int Revoke(Guid volumeId, string reason);
}

/// <summary>One open use of a disk. Dispose closes the volume and zeroes the DEKs (unless other sessions share them).</summary>
public interface IDiskSession : IDisposable
{
    Guid VolumeId { get; }

    string Purpose { get; }

    /// <summary>The open volume; throws ObjectDisposedException once revoked.</summary>
    Volume Volume { get; }

    /// <summary>Set when the session was closed by revocation: why (names the key and what is missing).</summary>
    string? RevokedReason { get; }
}
