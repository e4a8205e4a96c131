// A storage volume (or read-only snapshot) served over NBD: the adapter between INbdExport and
// Ironclad.Storage.Volume, one instance per connection, owning its volume handle.
// Invariants: every storage failure reaches the NBD server as NbdExportException with the errno of
// StorageErrnos (the one table); block status never describes bytes outside the requested range
// and always returns at least one extent for a non-empty request.
using Ironclad.Nbd.Exports;
using Ironclad.Storage;

namespace Ironclad.Host.Exports;

internal sealed class VolumeExport : INbdExport
{
    private readonly Volume _volume;

    /// <param name="volume">An open volume; disposed (which flushes it) with this export.</param>
    public VolumeExport(Volume volume)
    {
        ArgumentNullException.ThrowIfNull(volume);
        _volume = volume;
    }

    public long SizeBytes => _volume.SizeBytes;

    public bool IsReadOnly => _volume.IsReadOnly;

    /// <summary>
    /// True: every connection's volume handle writes through the same VolumeStore, and a flush or
    /// FUA write commits the whole store (every data file written and every journal record), so
    /// a flush on one connection covers the completed writes of all of them (NBD_FLAG_CAN_MULTI_CONN).
    /// </summary>
    public bool CanMultiConnect => true;

    public void Read(long offsetBytes, Span<byte> destination)
    {
        try
        {
            _volume.Read(offsetBytes, destination);
        }
        catch (StorageException e)
        {
            throw StorageErrnos.ToException(e, ExportOperation.Read, offsetBytes, destination.Length);
        }
        catch (ObjectDisposedException e)
        {
            throw StorageErrnos.ToException(e, ExportOperation.Read, offsetBytes, destination.Length);
        }
    }

    public void Write(long offsetBytes, ReadOnlySpan<byte> source, bool fua)
    {
        try
        {
            _volume.Write(offsetBytes, source, fua ? WriteOptions.Fua : WriteOptions.None);
        }
        catch (StorageException e)
        {
            throw StorageErrnos.ToException(e, ExportOperation.Write, offsetBytes, source.Length);
        }
        catch (ObjectDisposedException e)
        {
            throw StorageErrnos.ToException(e, ExportOperation.Write, offsetBytes, source.Length);
        }
    }

    public void Flush()
    {
        try
        {
            _volume.Flush();
        }
        catch (StorageException e)
        {
            throw StorageErrnos.ToException(e, ExportOperation.Flush, 0, 0);
        }
        catch (ObjectDisposedException e)
        {
            throw StorageErrnos.ToException(e, ExportOperation.Flush, 0, 0);
        }
    }

    /// <summary>Whole 4 KiB units in the range are unmapped (read as zeros); partial units keep their data, as NBD_CMD_TRIM allows.</summary>
    public void Trim(long offsetBytes, long lengthBytes, bool fua)
    {
        try
        {
            _volume.Trim(offsetBytes, lengthBytes, fua ? WriteOptions.Fua : WriteOptions.None);
        }
        catch (StorageException e)
        {
            throw StorageErrnos.ToException(e, ExportOperation.Trim, offsetBytes, lengthBytes);
        }
        catch (ObjectDisposedException e)
        {
            throw StorageErrnos.ToException(e, ExportOperation.Trim, offsetBytes, lengthBytes);
        }
    }

    public void WriteZeroes(long offsetBytes, long lengthBytes, bool fua, bool noHole)
    {
        var options = (fua ? ZeroOptions.Fua : ZeroOptions.None) | (noHole ? ZeroOptions.NoHole : ZeroOptions.None);
        try
        {
            _volume.WriteZeroes(offsetBytes, lengthBytes, options);
        }
        catch (StorageException e)
        {
            throw StorageErrnos.ToException(e, ExportOperation.WriteZeroes, offsetBytes, lengthBytes);
        }
        catch (ObjectDisposedException e)
        {
            throw StorageErrnos.ToException(e, ExportOperation.WriteZeroes, offsetBytes, lengthBytes);
        }
    }

    /// <summary>
    /// Without NBD_CMD_FLAG_NO_HOLE zeroing unmaps the range (a map update, no data written); with
    /// it every byte is encrypted and written, as slow as a write.
    /// </summary>
    public bool IsZeroingFast(bool noHole) => !noHole;

    /// <summary>
    /// base:allocation from the volume's cluster map: ranges that hold data are state 0, the gaps
    /// between them read as zeros and are NBD_STATE_HOLE | NBD_STATE_ZERO. Extents are 4 KiB
    /// granular (the data unit) except where the request itself starts or ends mid-unit.
    /// </summary>
    public int GetAllocation(long offsetBytes, long lengthBytes, Span<NbdExtent> extents)
    {
        if (lengthBytes == 0 || extents.IsEmpty)
        {
            return 0;
        }

        // Alternating data and gaps: k slots never need more than k data ranges. One more than
        // that is asked for so the gap before it (if it is reached) has a known end.
        var rangesWanted = Math.Min(extents.Length, int.MaxValue - 1) + 1;
        IReadOnlyList<AllocatedRange> ranges;
        try
        {
            ranges = _volume.GetAllocatedRanges(offsetBytes, lengthBytes, rangesWanted);
        }
        catch (StorageException e)
        {
            throw StorageErrnos.ToException(e, ExportOperation.BlockStatus, offsetBytes, lengthBytes);
        }
        catch (ObjectDisposedException e)
        {
            throw StorageErrnos.ToException(e, ExportOperation.BlockStatus, offsetBytes, lengthBytes);
        }

        var endBytes = offsetBytes + lengthBytes;
        var positionBytes = offsetBytes;
        var count = 0;
        foreach (var range in ranges)
        {
            if (range.OffsetBytes > positionBytes)
            {
                if (count == extents.Length)
                {
                    return count;
                }

                extents[count++] = new NbdExtent(range.OffsetBytes - positionBytes, NbdExtent.Hole | NbdExtent.Zero);
                positionBytes = range.OffsetBytes;
            }

            if (count == extents.Length)
            {
                return count;
            }

            extents[count++] = new NbdExtent(range.LengthBytes, 0);
            positionBytes = range.OffsetBytes + range.LengthBytes;
        }

        // Fewer ranges than asked for means the list is complete: the rest of the request is a hole.
        if (positionBytes < endBytes && count < extents.Length && ranges.Count < rangesWanted)
        {
            extents[count++] = new NbdExtent(endBytes - positionBytes, NbdExtent.Hole | NbdExtent.Zero);
        }

        return count;
    }

    /// <summary>Flushes (a writable volume) and closes the volume handle.</summary>
    public void Dispose() => _volume.Dispose();
}
