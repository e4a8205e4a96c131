// Durability primitives over SafeFileHandle: data-only sync and hole punching.
// Invariant: a failed sync is never ignored; it surfaces as an IOException to the flush that asked for it.
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Ironclad.Storage.Posix;

internal static class FileSync
{
    public static void DataSync(SafeFileHandle handle)
    {
        var added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            if (NativeMethods.fdatasync(handle.DangerousGetHandle()) != 0)
            {
                throw new IOException($"fdatasync failed (errno {Marshal.GetLastPInvokeError()}).");
            }
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    /// <summary>posix_fadvise(DONTNEED) over the whole file: clean pages leave the page cache.</summary>
    public static void DropCachedPages(SafeFileHandle handle)
    {
        var added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            const int PosixFadviseDontNeed = 4;
            var rc = NativeMethods.posix_fadvise(handle.DangerousGetHandle(), 0, 0, PosixFadviseDontNeed);
            if (rc != 0)
            {
                throw new IOException($"posix_fadvise failed (error {rc}).");
            }
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    /// <summary>Deallocates [offset, offset+length) without changing the file size. Returns false if the file system cannot punch holes.</summary>
    public static bool TryPunchHole(SafeFileHandle handle, long offsetBytes, long lengthBytes)
    {
        var added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            var rc = NativeMethods.fallocate(handle.DangerousGetHandle(), NativeMethods.FallocPunchHole | NativeMethods.FallocKeepSize, offsetBytes, lengthBytes);
            if (rc == 0)
            {
                return true;
            }

            var errno = Marshal.GetLastPInvokeError();
            const int EOpNotSupp = 95;
            return errno == EOpNotSupp ? false : throw new IOException($"fallocate(PUNCH_HOLE) failed (errno {errno}).");
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }
}
