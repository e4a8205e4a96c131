// The store header file (store.hdr, 64 bytes): identifies a directory as an Ironclad volume store and
// pins the geometry it was created with. Written once at creation; verified on every open.
using System.Buffers.Binary;
using Ironclad.Storage.Posix;

namespace Ironclad.Storage.Format;

internal static class StoreHeader
{
    public const int SizeBytes = 64;

    public static byte[] Encode(Guid storeId)
    {
        var header = new byte[SizeBytes];
        Layout.StoreMagic.CopyTo(header);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(8), Layout.FormatVersion);
        header[12] = Layout.ClusterSizeLog2;
        header[13] = Layout.UnitSizeLog2;
        header[14] = Layout.SegmentClustersLog2;
        header[15] = Layout.MapFanoutLog2;
        _ = storeId.TryWriteBytes(header.AsSpan(16), bigEndian: false, out _);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(60), Crc32C.Compute(header.AsSpan(0, 60)));
        return header;
    }

    public static Guid Decode(ReadOnlySpan<byte> header)
    {
        if (header.Length != SizeBytes || !header[..8].SequenceEqual(Layout.StoreMagic))
        {
            throw new StorageException(StorageError.Corrupt, "The directory does not hold an Ironclad volume store (bad store.hdr).");
        }

        if (BinaryPrimitives.ReadUInt32LittleEndian(header[60..]) != Crc32C.Compute(header[..60]))
        {
            throw new StorageException(StorageError.Corrupt, "store.hdr fails its checksum.");
        }

        var version = BinaryPrimitives.ReadUInt32LittleEndian(header[8..]);
        if (version != Layout.FormatVersion)
        {
            throw new StorageException(StorageError.Corrupt, $"The store has format version {version}; this build reads version {Layout.FormatVersion}.");
        }

        if (header[12] != Layout.ClusterSizeLog2 || header[13] != Layout.UnitSizeLog2 || header[14] != Layout.SegmentClustersLog2 || header[15] != Layout.MapFanoutLog2)
        {
            throw new StorageException(StorageError.Corrupt, "The store's geometry differs from this build's.");
        }

        return new Guid(header.Slice(16, 16), bigEndian: false);
    }

    public static Guid ReadOrCreate(string directory)
    {
        var path = Path.Combine(directory, Layout.HeaderFileName);
        if (File.Exists(path))
        {
            return Decode(File.ReadAllBytes(path));
        }

        var storeId = Guid.NewGuid();
        var temporary = path + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            stream.Write(Encode(storeId));
            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, path);
        NativeMethods.FsyncDirectory(directory);
        return storeId;
    }
}
