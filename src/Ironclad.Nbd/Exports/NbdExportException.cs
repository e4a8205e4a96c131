// The one way an export reports an expected failure: with the errno the client should see.
namespace Ironclad.Nbd.Exports;

public enum NbdErrno : uint
{
    EPERM = 1,
    EIO = 5,
    ENOMEM = 12,
    EINVAL = 22,
    ENOSPC = 28,
    EOVERFLOW = 75,
    ENOTSUP = 95,
    ESHUTDOWN = 108,
}

public sealed class NbdExportException : Exception
{
    public NbdExportException(NbdErrno errno, string message)
        : base(message)
    {
        Errno = errno;
    }

    public NbdExportException(NbdErrno errno, string message, Exception innerException)
        : base(message, innerException)
    {
        Errno = errno;
    }

    public NbdExportException()
        : this(NbdErrno.EIO, "I/O error.")
    {
    }

    public NbdExportException(string message)
        : this(NbdErrno.EIO, message)
    {
    }

    public NbdExportException(string message, Exception innerException)
        : this(NbdErrno.EIO, message, innerException)
    {
    }

    public NbdErrno Errno { get; }
}
