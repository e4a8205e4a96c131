// Builds a marketplace image in-process: a GPT disk (protective MBR, primary and backup headers and
// entry arrays with their CRC32s) with one partition holding a FAT16 filesystem whose root directory
// has /IRONCLAD.TXT naming the image. Invariant: the output is only the metadata blocks (everything
// else reads as zeros), so writing it into a sparse volume allocates a few hundred KiB, and it is a
// pure function of the catalog entry (same image, same bytes, GUIDs included).
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Ironclad.Compute.Marketplace;

/// <summary>One non-zero block of a generated image.</summary>
public sealed record ImageBlock(long OffsetBytes, byte[] Data);

public static class MarketplaceImageGenerator
{
    public const int SectorBytes = 512;

    /// <summary>First LBA of the partition (1 MiB, as partitioning tools align).</summary>
    public const long PartitionFirstLba = 2048;

    public const string MarkerFileName = "IRONCLAD.TXT";

    /// <summary>The GPT partition type "EFI System" (a FAT partition, as an image's boot partition is).</summary>
    public static readonly Guid EfiSystemPartitionType = new("C12A7328-F81F-11D2-BA4B-00A0C93EC93B");

    private const int EntryCount = 128;
    private const int EntryBytes = 128;
    private const int EntryArraySectors = EntryCount * EntryBytes / SectorBytes;
    private const int RootEntries = 512;
    private const int RootDirSectors = RootEntries * 32 / SectorBytes;
    private const int ReservedSectors = 1;

    /// <summary>The text of /IRONCLAD.TXT for <paramref name="image"/>.</summary>
    public static string MarkerText(MarketplaceImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        return string.Create(CultureInfo.InvariantCulture,
            $"Ironclad marketplace image\npublisher: {image.Publisher}\noffer: {image.Offer}\nsku: {image.Sku}\nversion: {image.Version}\nosType: {image.OsType}\nhyperVGeneration: {image.HyperVGeneration}\n");
    }

    /// <summary>The partition's first byte (for tools that read the filesystem out of the image file).</summary>
    public static long PartitionOffsetBytes => PartitionFirstLba * SectorBytes;

    /// <summary>The non-zero blocks of the image of <paramref name="image"/>, in offset order.</summary>
    public static IReadOnlyList<ImageBlock> Generate(MarketplaceImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (image.SizeBytes % SectorBytes != 0 || image.SizeBytes < 64L << 20 || image.SizeBytes > 2L << 30)
        {
            throw new ArgumentException($"An image is 64 MiB to 2 GiB in whole sectors; {image.SizeBytes} bytes was asked.", nameof(image));
        }

        var seed = SHA256.HashData(Encoding.UTF8.GetBytes($"{image.Publisher}/{image.Offer}/{image.Sku}/{image.Version}".ToUpperInvariant()));
        var diskGuid = GuidFrom(seed, 0);
        var partitionGuid = GuidFrom(seed, 1);
        var volumeSerial = BitConverter.ToUInt32(seed, 28);

        var lastLba = (image.SizeBytes / SectorBytes) - 1;
        var lastUsableLba = lastLba - EntryArraySectors - 1;
        // The partition ends on a 1 MiB boundary, inside the usable range.
        var partitionLastLba = (((lastUsableLba + 1) / 2048) * 2048) - 1;
        var partitionSectors = partitionLastLba - PartitionFirstLba + 1;

        var entries = new byte[EntryArraySectors * SectorBytes];
        WriteEntry(entries, EfiSystemPartitionType, partitionGuid, PartitionFirstLba, partitionLastLba, "IRONCLAD");
        var entriesCrc = Crc32.Compute(entries);

        var blocks = new List<ImageBlock>
        {
            new(0, ProtectiveMbr(lastLba)),
            new(SectorBytes, GptHeader(1, lastLba, 2, lastLba, lastUsableLba, diskGuid, entriesCrc)),
            new(2 * SectorBytes, entries),
        };
        blocks.AddRange(Fat16(image, PartitionFirstLba, partitionSectors, volumeSerial));
        blocks.Add(new((lastLba - EntryArraySectors) * SectorBytes, (byte[])entries.Clone()));
        blocks.Add(new(lastLba * SectorBytes, GptHeader(lastLba, 1, lastLba - EntryArraySectors, lastLba, lastUsableLba, diskGuid, entriesCrc)));
        return blocks;
    }

    private static byte[] ProtectiveMbr(long lastLba)
    {
        var mbr = new byte[SectorBytes];
        var entry = mbr.AsSpan(446, 16);
        entry[0] = 0x00;                                   // not bootable
        entry[1] = 0x00; entry[2] = 0x02; entry[3] = 0x00; // CHS of LBA 1
        entry[4] = 0xEE;                                   // GPT protective
        entry[5] = 0xFF; entry[6] = 0xFF; entry[7] = 0xFF; // CHS beyond addressing
        WriteUInt32(entry[8..], 1);
        WriteUInt32(entry[12..], (uint)Math.Min(lastLba, uint.MaxValue));
        mbr[510] = 0x55;
        mbr[511] = 0xAA;
        return mbr;
    }

    private static byte[] GptHeader(long currentLba, long backupLba, long entriesLba, long lastLba, long lastUsableLba, Guid diskGuid, uint entriesCrc)
    {
        _ = lastLba;
        var header = new byte[SectorBytes];
        var span = header.AsSpan();
        Encoding.ASCII.GetBytes("EFI PART").CopyTo(span);
        WriteUInt32(span[8..], 0x00010000);              // revision 1.0
        WriteUInt32(span[12..], 92);                     // header size
        WriteUInt64(span[24..], (ulong)currentLba);
        WriteUInt64(span[32..], (ulong)backupLba);
        WriteUInt64(span[40..], 2 + EntryArraySectors);  // first usable LBA (34)
        WriteUInt64(span[48..], (ulong)lastUsableLba);
        diskGuid.TryWriteBytes(span[56..72]);
        WriteUInt64(span[72..], (ulong)entriesLba);
        WriteUInt32(span[80..], EntryCount);
        WriteUInt32(span[84..], EntryBytes);
        WriteUInt32(span[88..], entriesCrc);
        WriteUInt32(span[16..], Crc32.Compute(span[..92])); // computed with its own field zero
        return header;
    }

    private static void WriteEntry(byte[] entries, Guid type, Guid unique, long firstLba, long lastLba, string name)
    {
        var entry = entries.AsSpan(0, EntryBytes);
        type.TryWriteBytes(entry[..16]);
        unique.TryWriteBytes(entry[16..32]);
        WriteUInt64(entry[32..], (ulong)firstLba);
        WriteUInt64(entry[40..], (ulong)lastLba);
        Encoding.Unicode.GetBytes(name).CopyTo(entry[56..]);
    }

    /// <summary>A FAT16 filesystem over <paramref name="sectors"/> sectors at <paramref name="startLba"/>, holding the marker file.</summary>
    private static List<ImageBlock> Fat16(MarketplaceImage image, long startLba, long sectors, uint serial)
    {
        // The smallest cluster that keeps the count under FAT16's 65,525 (and at least 4,085, else it would be FAT12).
        int sectorsPerCluster = 1, fatSectors = 0;
        long clusters = 0;
        for (; sectorsPerCluster <= 64; sectorsPerCluster *= 2)
        {
            var estimate = (sectors - ReservedSectors - RootDirSectors) / sectorsPerCluster;
            fatSectors = (int)(((estimate + 2) * 2 + SectorBytes - 1) / SectorBytes);
            clusters = (sectors - ReservedSectors - RootDirSectors - (2L * fatSectors)) / sectorsPerCluster;
            if (clusters < 65_525 - 16)
            {
                break;
            }
        }

        if (clusters is < 4_085 + 16 or >= 65_525 - 16)
        {
            throw new ArgumentException($"No FAT16 geometry fits a partition of {sectors} sectors.", nameof(sectors));
        }

        var boot = new byte[SectorBytes];
        var b = boot.AsSpan();
        b[0] = 0xEB; b[1] = 0x3C; b[2] = 0x90;
        Encoding.ASCII.GetBytes("IRONCLAD").CopyTo(b[3..]);
        WriteUInt16(b[11..], SectorBytes);
        b[13] = (byte)sectorsPerCluster;
        WriteUInt16(b[14..], ReservedSectors);
        b[16] = 2;                                         // FATs
        WriteUInt16(b[17..], RootEntries);
        WriteUInt16(b[19..], sectors <= ushort.MaxValue ? (ushort)sectors : (ushort)0);
        b[21] = 0xF8;                                      // fixed disk
        WriteUInt16(b[22..], (ushort)fatSectors);
        WriteUInt16(b[24..], 63);                          // sectors per track
        WriteUInt16(b[26..], 255);                         // heads
        WriteUInt32(b[28..], (uint)startLba);              // hidden sectors
        WriteUInt32(b[32..], sectors <= ushort.MaxValue ? 0u : (uint)sectors);
        b[36] = 0x80;                                      // drive number
        b[38] = 0x29;                                      // extended boot signature
        WriteUInt32(b[39..], serial);
        Encoding.ASCII.GetBytes("IRONCLAD   ").CopyTo(b[43..]);
        Encoding.ASCII.GetBytes("FAT16   ").CopyTo(b[54..]);
        b[510] = 0x55;
        b[511] = 0xAA;

        var text = Encoding.ASCII.GetBytes(MarkerText(image));
        var clusterBytes = sectorsPerCluster * SectorBytes;
        var fileClusters = (text.Length + clusterBytes - 1) / clusterBytes;

        // The used part of one FAT: media entry, end-of-chain/clean entry, then the file's chain from cluster 2.
        var fat = new byte[((2 + fileClusters) * 2 + SectorBytes - 1) / SectorBytes * SectorBytes];
        WriteUInt16(fat.AsSpan(0), 0xFFF8);
        WriteUInt16(fat.AsSpan(2), 0xFFFF);
        for (var i = 0; i < fileClusters; i++)
        {
            WriteUInt16(fat.AsSpan((2 + i) * 2), i == fileClusters - 1 ? (ushort)0xFFFF : (ushort)(3 + i));
        }

        var root = new byte[SectorBytes];
        var date = DosDate(image);
        DirectoryEntry(root.AsSpan(0, 32), "IRONCLAD   ", 0x08, date, 0, 0);
        DirectoryEntry(root.AsSpan(32, 32), "IRONCLADTXT", 0x20, date, 2, (uint)text.Length); // archive

        var data = new byte[fileClusters * clusterBytes];
        text.CopyTo(data, 0);

        var partition = startLba * SectorBytes;
        var fat1 = partition + (ReservedSectors * SectorBytes);
        var fat2 = fat1 + ((long)fatSectors * SectorBytes);
        var rootOffset = fat2 + ((long)fatSectors * SectorBytes);
        var dataOffset = rootOffset + (RootDirSectors * SectorBytes);
        return
        [
            new(partition, boot),
            new(fat1, fat),
            new(fat2, (byte[])fat.Clone()),
            new(rootOffset, root),
            new(dataOffset, data),
        ];
    }

    private static void DirectoryEntry(Span<byte> entry, string name83, byte attributes, ushort date, ushort firstCluster, uint size)
    {
        Encoding.ASCII.GetBytes(name83).CopyTo(entry);
        entry[11] = attributes;
        WriteUInt16(entry[16..], date);                    // created
        WriteUInt16(entry[18..], date);                    // accessed
        WriteUInt16(entry[24..], date);                    // modified
        WriteUInt16(entry[26..], firstCluster);
        WriteUInt32(entry[28..], size);
    }

    /// <summary>The DOS date of the image's release: 1 January of the year its version starts with (2026 when it names none).</summary>
    private static ushort DosDate(MarketplaceImage image)
    {
        var digits = new string([.. image.Version.TakeWhile(char.IsAsciiDigit)]);
        var year = int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var y) ? y : 0;
        year = year switch { >= 1980 and <= 2107 => year, >= 0 and <= 99 => 2000 + year, _ => 2026 };
        return (ushort)(((year - 1980) << 9) | (1 << 5) | 1);
    }

    private static Guid GuidFrom(byte[] seed, int index)
    {
        var bytes = SHA256.HashData([.. seed, (byte)index])[..16];
        bytes[7] = (byte)((bytes[7] & 0x0F) | 0x40); // version 4 layout (Guid bytes are little-endian in the first three fields)
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80); // RFC 4122 variant
        return new Guid(bytes);
    }

    private static void WriteUInt16(Span<byte> destination, ushort value) => System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(destination, value);

    private static void WriteUInt32(Span<byte> destination, uint value) => System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(destination, value);

    private static void WriteUInt64(Span<byte> destination, ulong value) => System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(destination, value);

    /// <summary>CRC-32 (IEEE 802.3, reflected, as GPT uses).</summary>
    internal static class Crc32
    {
        private static readonly uint[] Table = BuildTable();

        public static uint Compute(ReadOnlySpan<byte> data)
        {
            var crc = 0xFFFFFFFFu;
            foreach (var value in data)
            {
                crc = Table[(crc ^ value) & 0xFF] ^ (crc >> 8);
            }

            return ~crc;
        }

        private static uint[] BuildTable()
        {
            var table = new uint[256];
            for (uint i = 0; i < 256; i++)
            {
                var c = i;
                for (var k = 0; k < 8; k++)
                {
                    c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
                }

                table[i] = c;
            }

            return table;
        }
    }
}
