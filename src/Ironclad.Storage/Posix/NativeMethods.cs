// The few POSIX calls the storage engine needs that .NET does not expose: fdatasync, fsync on a
// directory, and hole punching. Every return code is checked by the callers in Clusters/ and Journal/.
using System.Runtime.InteropServices;

namespace Ironclad.Storage.Posix;

internal static partial class NativeMethods
{
    internal const int FallocKeepSize = 0x01;
    internal const int FallocPunchHole = 0x02;
    private const int ORdOnly = 0;
    private const int ODirectory = 0x10000;

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int fdatasync(nint fd);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int fsync(nint fd);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int fallocate(nint fd, int mode, long offset, long len);

    [LibraryImport("libc")]
    internal static partial int posix_fadvise(nint fd, long offset, long len, int advice);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);

    /// <summary>Makes a directory's entries (created, renamed, deleted files) durable.</summary>
    internal static void FsyncDirectory(string path)
    {
        var fd = Open(path, ORdOnly | ODirectory);
        if (fd < 0)
        {
            throw new IOException($"Cannot open directory '{path}' to sync it (errno {Marshal.GetLastPInvokeError()}).");
        }

        try
        {
            if (fsync(fd) != 0)
            {
                throw new IOException($"fsync of directory '{path}' failed (errno {Marshal.GetLastPInvokeError()}).");
            }
        }
        finally
        {
            _ = close(fd);
        }
    }
}
