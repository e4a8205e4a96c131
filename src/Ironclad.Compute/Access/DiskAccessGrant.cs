// One open SAS grant on a disk or snapshot, and the page blob it presents: a fixed VHD, as Azure's
// exported disks are — the volume's bytes, followed by a computed 512-byte VHD footer unless the
// volume already ends with one (an uploaded VHD keeps its own). An upload (Write) grant presents the
// volume exactly: uploadSizeBytes, footer included. Invariants: I/O goes only through the session
// (so a revocation stops it); a computed footer is never stored.
using Ironclad.Compute.Sessions;

namespace Ironclad.Compute.Access;

public sealed class DiskAccessGrant
{
    /// <summary>Page blobs are written in 512-byte pages.</summary>
    public const int PageSizeBytes = 512;

    /// <summary>The largest Put Page body the storage service accepts.</summary>
    public const int MaxPageWriteBytes = 4 << 20;

    private readonly byte[] _footer;
    private volatile string? _endedReason;

    internal DiskAccessGrant(
        Guid grantId, string resourceId, string resourceName, Guid volumeId, DiskAccessLevel access,
        DateTimeOffset issuedOn, DateTimeOffset expiresOn, IDiskSession session, bool presentFooter)
    {
        GrantId = grantId;
        ResourceId = resourceId;
        ResourceName = resourceName;
        VolumeId = volumeId;
        Access = access;
        IssuedOn = issuedOn;
        ExpiresOn = expiresOn;
        Session = session;
        DataLengthBytes = session.SizeBytes;
        _footer = presentFooter ? VhdFooter.Create(DataLengthBytes, volumeId) : [];
    }

    public Guid GrantId { get; }

    public string ResourceId { get; }

    public string ResourceName { get; }

    public Guid VolumeId { get; }

    public DiskAccessLevel Access { get; }

    public DateTimeOffset IssuedOn { get; }

    public DateTimeOffset ExpiresOn { get; }

    internal IDiskSession Session { get; }

    /// <summary>The disk's bytes (the volume's size).</summary>
    public long DataLengthBytes { get; }

    /// <summary>The blob's length: the data plus the computed VHD footer, when there is one.</summary>
    public long ContentLengthBytes => DataLengthBytes + _footer.Length;

    /// <summary>Why the grant ended (endGetAccess, expiry, revocation), or null while it is open.</summary>
    public string? EndedReason => _endedReason;

    /// <summary>A strong validator stable for the grant's life (the blob changes only through it).</summary>
    public string ETag => $"\"0x{IssuedOn.UtcTicks:X}{GrantId.ToString("N")[..8].ToUpperInvariant()}\"";

    internal bool IsEnded => _endedReason is not null;

    internal void MarkEnded(string reason) => _endedReason ??= reason;

    /// <summary>Reads blob bytes [offset, offset + destination.Length) — data, then footer.</summary>
    public void Read(long offsetBytes, Span<byte> destination)
    {
        CheckRange(offsetBytes, destination.Length);
        if (offsetBytes < DataLengthBytes)
        {
            var inData = (int)Math.Min(destination.Length, DataLengthBytes - offsetBytes);
            Session.Read(offsetBytes, destination[..inData]);
            destination = destination[inData..];
            offsetBytes += inData;
        }

        if (!destination.IsEmpty)
        {
            _footer.AsSpan((int)(offsetBytes - DataLengthBytes), destination.Length).CopyTo(destination);
        }
    }

    /// <summary>Put Page (update): <paramref name="source"/> at a 512-aligned offset; the footer part is discarded.</summary>
    public void WritePages(long offsetBytes, ReadOnlySpan<byte> source)
    {
        CheckPages(offsetBytes, source.Length);
        var inData = (int)Math.Clamp(DataLengthBytes - offsetBytes, 0, source.Length);
        if (inData > 0)
        {
            Session.Write(offsetBytes, source[..inData]);
        }
    }

    /// <summary>Put Page (clear): the range reads as zeros afterwards; the footer part is ignored.</summary>
    public void ClearPages(long offsetBytes, long lengthBytes)
    {
        CheckPages(offsetBytes, lengthBytes);
        var inData = Math.Clamp(DataLengthBytes - offsetBytes, 0, lengthBytes);
        if (inData > 0)
        {
            Session.WriteZeroes(offsetBytes, inData);
        }
    }

    /// <summary>Makes page writes durable (the storage engine's group commit).</summary>
    public void Flush() => Session.Flush();

    /// <summary>Get Page Ranges: the ranges that hold data, plus the footer (always present).</summary>
    public IReadOnlyList<(long Start, long End)> PageRanges(long offsetBytes, long lengthBytes)
    {
        CheckRange(offsetBytes, lengthBytes);
        var ranges = new List<(long Start, long End)>();
        var end = offsetBytes + lengthBytes;
        if (offsetBytes < DataLengthBytes)
        {
            var dataEnd = Math.Min(end, DataLengthBytes);
            foreach (var range in Session.GetAllocatedRanges(offsetBytes, dataEnd - offsetBytes))
            {
                ranges.Add((range.OffsetBytes, range.OffsetBytes + range.LengthBytes - 1));
            }
        }

        if (end > DataLengthBytes && _footer.Length > 0)
        {
            var footerStart = Math.Max(offsetBytes, DataLengthBytes);
            if (ranges.Count > 0 && ranges[^1].End + 1 == footerStart)
            {
                ranges[^1] = (ranges[^1].Start, end - 1);
            }
            else
            {
                ranges.Add((footerStart, end - 1));
            }
        }

        return ranges;
    }

    private void CheckRange(long offsetBytes, long lengthBytes)
    {
        if (offsetBytes < 0 || lengthBytes < 0 || offsetBytes > ContentLengthBytes - lengthBytes)
        {
            throw new ArgumentOutOfRangeException(nameof(offsetBytes), "The range is outside the blob.");
        }
    }

    private void CheckPages(long offsetBytes, long lengthBytes)
    {
        CheckRange(offsetBytes, lengthBytes);
        if (offsetBytes % PageSizeBytes != 0 || lengthBytes % PageSizeBytes != 0 || lengthBytes == 0)
        {
            throw new ArgumentException("Page ranges are 512-byte aligned.", nameof(offsetBytes));
        }
    }
}
