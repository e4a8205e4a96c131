// A VM disk served over NBD: the adapter between INbdExport and a Compute disk session, one
// instance per connection. It does not own the session (the VM runtime does: Dispose here only
// ends this connection's use). Invariants: every failure reaches the NBD server as
// NbdExportException via StorageErrnos (revoked → EPERM, closed → ESHUTDOWN, storage → its table);
// block status never describes bytes outside the requested range.
using Ironclad.Compute.Sessions;
using Ironclad.Nbd.Exports;
using Ironclad.Storage;

namespace Ironclad.Host.Exports;

internal sealed class SessionExport : INbdExport
{
    private const int DataUnitBytes = 4096;
    private const int ZeroChunkBytes = 1 << 20;

    private readonly IDiskSession _session;

    public SessionExport(IDiskSession session)
    {
        ArgumentNullException.ThrowIfNull(session);
        _session = session;
    }

    public long SizeBytes => _session.SizeBytes;

    public bool IsReadOnly => _session.IsReadOnly;

    /// <summary>True: every connection goes through the one open volume of the session, and a flush commits the whole store.</summary>
    public bool CanMultiConnect => true;

    public void Read(long offsetBytes, Span<byte> destination)
    {
        try
        {
            _session.Read(offsetBytes, destination);
        }
        catch (Exception e) when (Map(e, ExportOperation.Read, offsetBytes, destination.Length) is { } mapped)
        {
            throw mapped;
        }
    }

    public void Write(long offsetBytes, ReadOnlySpan<byte> source, bool fua)
    {
        try
        {
            _session.Write(offsetBytes, source, fua ? WriteOptions.Fua : WriteOptions.None);
        }
        catch (Exception e) when (Map(e, ExportOperation.Write, offsetBytes, source.Length) is { } mapped)
        {
            throw mapped;
        }
    }

    public void Flush()
    {
        try
        {
            _session.Flush();
        }
        catch (Exception e) when (Map(e, ExportOperation.Flush, 0, 0) is { } mapped)
        {
            throw mapped;
        }
    }

    /// <summary>Whole 4 KiB units inside the range are unmapped (read as zeros); partial units keep their data, as NBD_CMD_TRIM allows.</summary>
    public void Trim(long offsetBytes, long lengthBytes, bool fua)
    {
        var start = (offsetBytes + DataUnitBytes - 1) / DataUnitBytes * DataUnitBytes;
        var end = (offsetBytes + lengthBytes) / DataUnitBytes * DataUnitBytes;
        try
        {
            if (end > start)
            {
                _session.WriteZeroes(start, end - start);
            }

            if (fua)
            {
                _session.Flush();
            }
        }
        catch (Exception e) when (Map(e, ExportOperation.Trim, offsetBytes, lengthBytes) is { } mapped)
        {
            throw mapped;
        }
    }

    /// <summary>Without NO_HOLE the range is unmapped (fast); with it zeros are encrypted and written like data.</summary>
    public void WriteZeroes(long offsetBytes, long lengthBytes, bool fua, bool noHole)
    {
        try
        {
            if (!noHole)
            {
                _session.WriteZeroes(offsetBytes, lengthBytes);
            }
            else
            {
                var zeros = new byte[(int)Math.Min(ZeroChunkBytes, Math.Max(lengthBytes, 1))];
                for (var done = 0L; done < lengthBytes;)
                {
                    var chunk = (int)Math.Min(zeros.Length, lengthBytes - done);
                    _session.Write(offsetBytes + done, zeros.AsSpan(0, chunk));
                    done += chunk;
                }
            }

            if (fua)
            {
                _session.Flush();
            }
        }
        catch (Exception e) when (Map(e, ExportOperation.WriteZeroes, offsetBytes, lengthBytes) is { } mapped)
        {
            throw mapped;
        }
    }

    public bool IsZeroingFast(bool noHole) => !noHole;

    /// <summary>base:allocation from the session's data ranges: data is state 0, gaps are NBD_STATE_HOLE | NBD_STATE_ZERO.</summary>
    public int GetAllocation(long offsetBytes, long lengthBytes, Span<NbdExtent> extents)
    {
        if (lengthBytes == 0 || extents.IsEmpty)
        {
            return 0;
        }

        IReadOnlyList<AllocatedRange> ranges;
        try
        {
            ranges = _session.GetAllocatedRanges(offsetBytes, lengthBytes);
        }
        catch (Exception e) when (Map(e, ExportOperation.BlockStatus, offsetBytes, lengthBytes) is { } mapped)
        {
            throw mapped;
        }

        var endBytes = offsetBytes + lengthBytes;
        var positionBytes = offsetBytes;
        var count = 0;
        foreach (var range in ranges)
        {
            // Clamp to the request: an extent never describes bytes outside it.
            var rangeStart = Math.Max(range.OffsetBytes, positionBytes);
            var rangeEnd = Math.Min(range.OffsetBytes + range.LengthBytes, endBytes);
            if (rangeEnd <= rangeStart)
            {
                continue;
            }

            if (rangeStart > positionBytes)
            {
                if (count == extents.Length)
                {
                    return count;
                }

                extents[count++] = new NbdExtent(rangeStart - positionBytes, NbdExtent.Hole | NbdExtent.Zero);
            }

            if (count == extents.Length)
            {
                return count;
            }

            extents[count++] = new NbdExtent(rangeEnd - rangeStart, 0);
            positionBytes = rangeEnd;
        }

        if (positionBytes < endBytes && count < extents.Length)
        {
            extents[count++] = new NbdExtent(endBytes - positionBytes, NbdExtent.Hole | NbdExtent.Zero);
        }

        return count;
    }

    /// <summary>Ends this connection's use only: the session belongs to the VM runtime, which flushes and closes it.</summary>
    public void Dispose()
    {
    }

    private static NbdExportException? Map(Exception exception, ExportOperation operation, long offsetBytes, long lengthBytes) => exception switch
    {
        DiskSessionRevokedException revoked => StorageErrnos.ToException(revoked, operation, offsetBytes, lengthBytes),
        StorageException storage => StorageErrnos.ToException(storage, operation, offsetBytes, lengthBytes),
        ObjectDisposedException disposed => StorageErrnos.ToException(disposed, operation, offsetBytes, lengthBytes),
        _ => null,
    };
}
