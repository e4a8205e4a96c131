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

    /// <summary>The volumes with at least one open session (what revocation re-checks).</summary>
    IReadOnlyList<Guid> OpenVolumes();

    /// <summary>Closes every session on the volume and zeroes its DEKs; returns how many were closed.</summary>
    int Revoke(Guid volumeId, string reason);
}

/// <summary>
/// One open use of a disk. Dispose closes the volume and zeroes the DEKs (unless other sessions share
/// them). I/O goes through <see cref="Read"/> / <see cref="Write"/> / <see cref="WriteZeroes"/>, which
/// hold the volume against a concurrent revocation for the length of one call (revocation waits for
/// calls in flight, then refuses new ones with <see cref="DiskSessionRevokedException"/>).
/// </summary>
public interface IDiskSession : IDisposable
{
    Guid VolumeId { get; }

    string Purpose { get; }

    /// <summary>The open volume; throws ObjectDisposedException once revoked. Prefer the I/O methods, which are safe against revocation.</summary>
    Volume Volume { get; }

    long SizeBytes { get; }

    bool IsReadOnly { get; }

    /// <summary>Set when the session was closed by revocation: why (names the key and what is missing).</summary>
    string? RevokedReason { get; }

    void Read(long offsetBytes, Span<byte> destination);

    void Write(long offsetBytes, ReadOnlySpan<byte> source, WriteOptions options = WriteOptions.None);

    void WriteZeroes(long offsetBytes, long lengthBytes);

    void Flush();

    /// <summary>Data ranges (4 KiB granular); everything else reads as zeros.</summary>
    IReadOnlyList<AllocatedRange> GetAllocatedRanges(long offsetBytes, long lengthBytes);
}

/// <summary>The session was closed (revoked or disposed): no further I/O through it.</summary>
public sealed class DiskSessionRevokedException : Exception
{
    public DiskSessionRevokedException()
    {
    }

    public DiskSessionRevokedException(string message)
        : base(message)
    {
    }

    public DiskSessionRevokedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
