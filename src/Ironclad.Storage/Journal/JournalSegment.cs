// One journal file: a 64-byte header (magic, format version, generation, CRC) followed by framed
// records appended at the end. Generations are consecutive; recovery replays every segment from
// the checkpoint's generation on. Invariant: bytes are appended only, and only after the cluster
// data they reference was made durable (the committer orders fdatasync(data) before Append).
using System.Buffers.Binary;
using Ironclad.Storage.Format;
using Ironclad.Storage.Posix;
using Microsoft.Win32.SafeHandles;

namespace Ironclad.Storage.Journal;

internal sealed class JournalSegment : IDisposable
{
    public const int HeaderBytes = 64;

    private readonly SafeFileHandle _handle;

    private JournalSegment(SafeFileHandle handle, ulong generation, long lengthBytes, string path)
    {
        _handle = handle;
        Generation = generation;
        LengthBytes = lengthBytes;
        Path = path;
    }

    public ulong Generation { get; }

    public long LengthBytes { get; private set; }

    public string Path { get; }

    /// <summary>Creates a new, empty segment and makes its existence durable.</summary>
    public static JournalSegment Create(string directory, ulong generation)
    {
        var path = System.IO.Path.Combine(directory, Layout.JournalFileName(generation));
        var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
        try
        {
            Span<byte> header = stackalloc byte[HeaderBytes];
            WriteHeader(header, generation);
            RandomAccess.Write(handle, header, 0);
            FileSync.DataSync(handle);
            NativeMethods.FsyncDirectory(directory);
            return new JournalSegment(handle, generation, HeaderBytes, path);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Opens an existing segment to append after <paramref name="validLengthBytes"/> (a torn tail beyond it is cut off).</summary>
    public static JournalSegment OpenForAppend(string path, ulong generation, long validLengthBytes)
    {
        var handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
        if (RandomAccess.GetLength(handle) != validLengthBytes)
        {
            RandomAccess.SetLength(handle, validLengthBytes);
            FileSync.DataSync(handle);
        }

        return new JournalSegment(handle, generation, validLengthBytes, path);
    }

    public static void WriteHeader(Span<byte> header, ulong generation)
    {
        header.Clear();
        Layout.JournalMagic.CopyTo(header);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], Layout.FormatVersion);
        BinaryPrimitives.WriteUInt32LittleEndian(header[12..], HeaderBytes);
        BinaryPrimitives.WriteUInt64LittleEndian(header[16..], generation);
        BinaryPrimitives.WriteUInt32LittleEndian(header[60..], Crc32C.Compute(header[..60]));
    }

    public static bool TryReadHeader(ReadOnlySpan<byte> file, out ulong generation)
    {
        generation = 0;
        if (file.Length < HeaderBytes || !file[..8].SequenceEqual(Layout.JournalMagic))
        {
            return false;
        }

        if (BinaryPrimitives.ReadUInt32LittleEndian(file[60..]) != Crc32C.Compute(file[..60]))
        {
            return false;
        }

        if (BinaryPrimitives.ReadUInt32LittleEndian(file[8..]) != Layout.FormatVersion)
        {
            throw new StorageException(StorageError.Corrupt, "Journal segment has an unsupported format version.");
        }

        generation = BinaryPrimitives.ReadUInt64LittleEndian(file[16..]);
        return true;
    }

    /// <summary>Appends framed records and makes them durable before returning.</summary>
    public void AppendDurably(ReadOnlySpan<byte> records)
    {
        if (records.IsEmpty)
        {
            return;
        }

        RandomAccess.Write(_handle, records, LengthBytes);
        FileSync.DataSync(_handle);
        LengthBytes += records.Length;
    }

    public void Dispose() => _handle.Dispose();
}
