// The storage engine's domain errors. Each edge (NBD, HTTP) maps StorageError once, by code.
// Messages name volumes by id and sizes in bytes; they never carry data or key material.
namespace Ironclad.Storage;

public enum StorageError
{
    /// <summary>No volume or snapshot has that id.</summary>
    NotFound,

    /// <summary>A volume or snapshot with that id already exists.</summary>
    AlreadyExists,

    /// <summary>The volume is open and the operation needs it closed (delete).</summary>
    InUse,

    /// <summary>A write to a snapshot, or a snapshot used where a writable volume is needed.</summary>
    ReadOnly,

    /// <summary>An offset/length outside the volume, or a size outside the supported range.</summary>
    OutOfRange,

    /// <summary>A malformed argument (unaligned size, shrinking a volume, wrong source kind).</summary>
    InvalidArgument,

    /// <summary>The data key given does not match the one the volume was created with.</summary>
    WrongKey,

    /// <summary>The store's files are damaged beyond what crash recovery repairs.</summary>
    Corrupt,

    /// <summary>The store was closed, or failed and stopped accepting work.</summary>
    Closed,
}

public sealed class StorageException : Exception
{
    public StorageException(StorageError error, string message)
        : base(message)
    {
        Error = error;
    }

    public StorageException(StorageError error, string message, Exception innerException)
        : base(message, innerException)
    {
        Error = error;
    }

    public StorageException()
        : this(StorageError.Corrupt, "Storage error.")
    {
    }

    public StorageException(string message)
        : this(StorageError.Corrupt, message)
    {
    }

    public StorageException(string message, Exception innerException)
        : this(StorageError.Corrupt, message, innerException)
    {
    }

    public StorageError Error { get; }
}
