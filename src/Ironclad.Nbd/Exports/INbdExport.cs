// What the NBD server serves: a range of bytes with a handful of operations. The server knows
// nothing else about it (the way nbdkit's server knows nothing of its plugins). Implementations are
// called concurrently from many threads and must be thread-safe.
// Invariant: every method either completes or throws NbdExportException with the errno to report;
// any other exception is reported to the client as EIO and logged by the server.
namespace Ironclad.Nbd.Exports;

public interface INbdExport : IDisposable
{
    long SizeBytes { get; }

    bool IsReadOnly { get; }

    /// <summary>True if the effects of flush and FUA are visible on every connection to this export (NBD_FLAG_CAN_MULTI_CONN).</summary>
    bool CanMultiConnect { get; }

    /// <summary>Reads exactly destination.Length bytes at offset (the server has checked the range).</summary>
    void Read(long offsetBytes, Span<byte> destination);

    /// <summary>Writes source at offset; with fua, durable before returning.</summary>
    void Write(long offsetBytes, ReadOnlySpan<byte> source, bool fua);

    /// <summary>Makes every completed write durable.</summary>
    void Flush();

    /// <summary>Discards a range (reads of it may then return anything, typically zeros).</summary>
    void Trim(long offsetBytes, long lengthBytes, bool fua);

    /// <summary>Makes a range read as zeros; noHole keeps it allocated.</summary>
    void WriteZeroes(long offsetBytes, long lengthBytes, bool fua, bool noHole);

    /// <summary>True if WriteZeroes with these flags is as fast as a metadata update (NBD_CMD_FLAG_FAST_ZERO).</summary>
    bool IsZeroingFast(bool noHole);

    /// <summary>
    /// Writes up to extents.Length extents describing [offset, offset+length) for the
    /// base:allocation context, in order and without gaps, starting at offset; returns how many.
    /// Extents may stop short of the end of the range (the client asks again), but never beyond it.
    /// </summary>
    int GetAllocation(long offsetBytes, long lengthBytes, Span<NbdExtent> extents);
}

/// <param name="State">NBD_STATE_HOLE (1) and/or NBD_STATE_ZERO (2) for base:allocation.</param>
public readonly record struct NbdExtent(long LengthBytes, uint State)
{
    public const uint Hole = 1;
    public const uint Zero = 2;
}
