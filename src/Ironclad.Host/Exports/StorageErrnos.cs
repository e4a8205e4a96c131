// The NBD edge's one mapping from storage errors to the errno a client sees (the style guide's
// "one mapping table per edge", nbdkit's nbd_errno). Keyed by StorageError, never by message text.
// Invariant: the message handed to the client names the operation, the range and the error code
// only: never data, key material or the storage engine's own message.
using System.Collections.Frozen;
using System.Globalization;
using Ironclad.Nbd.Exports;
using Ironclad.Storage;

namespace Ironclad.Host.Exports;

/// <summary>What an export was asked to do, for the errno choice and the message.</summary>
internal enum ExportOperation
{
    Read,
    Write,
    Flush,
    Trim,
    WriteZeroes,
    BlockStatus,
}

internal static class StorageErrnos
{
    /// <summary>StorageError → errno. Anything missing here (Corrupt, WrongKey, NotFound, ...) is EIO.</summary>
    private static readonly FrozenDictionary<StorageError, NbdErrno> ErrnoByError = new Dictionary<StorageError, NbdErrno>
    {
        [StorageError.ReadOnly] = NbdErrno.EPERM,
        [StorageError.OutOfRange] = NbdErrno.EINVAL,
        [StorageError.InvalidArgument] = NbdErrno.EINVAL,
        [StorageError.Closed] = NbdErrno.ESHUTDOWN,
    }.ToFrozenDictionary();

    /// <summary>
    /// The errno for <paramref name="error"/> during <paramref name="operation"/>. A write past the
    /// end is ENOSPC, as the NBD protocol asks of NBD_CMD_WRITE and NBD_CMD_WRITE_ZEROES
    /// ("Request types"); a read or trim past the end is EINVAL.
    /// </summary>
    public static NbdErrno ToErrno(StorageError error, ExportOperation operation)
    {
        if (error == StorageError.OutOfRange && operation is ExportOperation.Write or ExportOperation.WriteZeroes)
        {
            return NbdErrno.ENOSPC;
        }

        return ErrnoByError.GetValueOrDefault(error, NbdErrno.EIO);
    }

    /// <summary>The exception an export throws for a storage failure; the original stays as the inner exception for the server's log.</summary>
    public static NbdExportException ToException(StorageException exception, ExportOperation operation, long offsetBytes, long lengthBytes)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var errno = ToErrno(exception.Error, operation);
        return new NbdExportException(errno, Describe(operation, offsetBytes, lengthBytes, exception.Error.ToString()), exception);
    }

    /// <summary>A volume handle that was closed under the request (the export was revoked or the store is closing): ESHUTDOWN.</summary>
    public static NbdExportException ToException(ObjectDisposedException exception, ExportOperation operation, long offsetBytes, long lengthBytes) =>
        new(NbdErrno.ESHUTDOWN, Describe(operation, offsetBytes, lengthBytes, "export closed"), exception);

    /// <summary>
    /// A disk session the revocation monitor closed (the key or the access is gone): EPERM, the
    /// client is no longer permitted to use the disk. The message names the operation only; the
    /// reason (which names the key) stays in the inner exception for the server's log.
    /// </summary>
    public static NbdExportException ToException(Compute.Sessions.DiskSessionRevokedException exception, ExportOperation operation, long offsetBytes, long lengthBytes) =>
        new(NbdErrno.EPERM, Describe(operation, offsetBytes, lengthBytes, "access to the disk was revoked"), exception);

    private static string Describe(ExportOperation operation, long offsetBytes, long lengthBytes, string reason) =>
        operation == ExportOperation.Flush
            ? $"flush failed: {reason}"
            : string.Create(CultureInfo.InvariantCulture, $"{operation} of [{offsetBytes}, +{lengthBytes}) failed: {reason}");
}
