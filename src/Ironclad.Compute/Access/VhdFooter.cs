// The 512-byte footer of a fixed VHD (Virtual Hard Disk Image Format Specification, Microsoft 2006),
// which a disk's SAS blob presents after the disk's data, as Azure's exported disks do (a page blob
// of diskSizeBytes + 512 that azcopy saves as a .vhd). Invariant: the footer is computed from the
// size and the volume id only, so every read of it returns the same bytes and it stores nothing.
using System.Buffers.Binary;

namespace Ironclad.Compute.Access;

public static class VhdFooter
{
    public const int SizeBytes = 512;

    /// <summary>True when the 512 bytes are a VHD footer (the "conectix" cookie), e.g. the last sector of an uploaded VHD.</summary>
    public static bool IsFooter(ReadOnlySpan<byte> sector) => sector.Length >= 8 && sector[..8].SequenceEqual("conectix"u8);

    /// <summary>The footer of a fixed VHD of <paramref name="diskSizeBytes"/> bytes whose unique id is <paramref name="volumeId"/>.</summary>
    public static byte[] Create(long diskSizeBytes, Guid volumeId)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(diskSizeBytes);
        var footer = new byte[SizeBytes];
        var span = footer.AsSpan();
        "conectix"u8.CopyTo(span);
        BinaryPrimitives.WriteUInt32BigEndian(span[8..], 0x00000002);           // features: reserved bit always set
        BinaryPrimitives.WriteUInt32BigEndian(span[12..], 0x00010000);          // file format version 1.0
        BinaryPrimitives.WriteUInt64BigEndian(span[16..], ulong.MaxValue);      // data offset: none for a fixed disk
        BinaryPrimitives.WriteUInt32BigEndian(span[24..], 0);                   // timestamp: fixed, so the footer is stable
        "ircl"u8.CopyTo(span[28..]);                                            // creator application
        BinaryPrimitives.WriteUInt32BigEndian(span[32..], 0x00010000);          // creator version
        "Wi2k"u8.CopyTo(span[36..]);                                            // creator host OS
        BinaryPrimitives.WriteUInt64BigEndian(span[40..], (ulong)diskSizeBytes); // original size
        BinaryPrimitives.WriteUInt64BigEndian(span[48..], (ulong)diskSizeBytes); // current size
        var (cylinders, heads, sectorsPerTrack) = Geometry(diskSizeBytes);
        BinaryPrimitives.WriteUInt16BigEndian(span[56..], cylinders);
        span[58] = heads;
        span[59] = sectorsPerTrack;
        BinaryPrimitives.WriteUInt32BigEndian(span[60..], 2);                   // disk type: fixed
        volumeId.TryWriteBytes(span[68..84], bigEndian: true, out _);
        uint sum = 0;
        foreach (var b in footer)
        {
            sum += b;
        }

        BinaryPrimitives.WriteUInt32BigEndian(span[64..], ~sum);                // checksum over the footer with this field zero
        return footer;
    }

    /// <summary>CHS geometry by the algorithm of the specification's appendix.</summary>
    internal static (ushort Cylinders, byte Heads, byte SectorsPerTrack) Geometry(long diskSizeBytes)
    {
        var totalSectors = Math.Min(diskSizeBytes / 512, 65535L * 16 * 255);
        long sectorsPerTrack, heads, cylinderTimesHeads;
        if (totalSectors >= 65535L * 16 * 63)
        {
            sectorsPerTrack = 255;
            heads = 16;
            cylinderTimesHeads = totalSectors / sectorsPerTrack;
        }
        else
        {
            sectorsPerTrack = 17;
            cylinderTimesHeads = totalSectors / sectorsPerTrack;
            heads = Math.Max((cylinderTimesHeads + 1023) / 1024, 4);
            if (cylinderTimesHeads >= heads * 1024 || heads > 16)
            {
                sectorsPerTrack = 31;
                heads = 16;
                cylinderTimesHeads = totalSectors / sectorsPerTrack;
            }

            if (cylinderTimesHeads >= heads * 1024)
            {
                sectorsPerTrack = 63;
                heads = 16;
                cylinderTimesHeads = totalSectors / sectorsPerTrack;
            }
        }

        return ((ushort)(cylinderTimesHeads / heads), (byte)heads, (byte)sectorsPerTrack);
    }
}
