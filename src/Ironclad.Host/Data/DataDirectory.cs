// The server's data directory and its exclusive lock. Invariant: while a DataDirectory is open,
// this process holds DIR/lock with FileShare.None (an flock(2) LOCK_EX on Unix), so no second
// server can run on the same directory; the lock dies with the process, never goes stale.
using System.Globalization;
using System.Text;
using Ironclad.Host.Server;

namespace Ironclad.Host.Data;

internal sealed class DataDirectory : IDisposable
{
    public const string LockFileName = "lock";
    public const string EndpointsFileName = "endpoints.json";
    public const string TlsDirectoryName = "tls";
    public const string VolumesDirectoryName = "volumes";

    private readonly FileStream _lock;

    private DataDirectory(string path, FileStream lockStream, bool created)
    {
        FullPath = path;
        _lock = lockStream;
        Created = created;
    }

    /// <summary>Absolute path of the directory.</summary>
    public string FullPath { get; }

    /// <summary>True when this start created the directory.</summary>
    public bool Created { get; }

    public string EndpointsFile => Path.Combine(FullPath, EndpointsFileName);

    public string TlsDirectory => Path.Combine(FullPath, TlsDirectoryName);

    public string LockFile => Path.Combine(FullPath, LockFileName);

    /// <summary>The storage engine's volume store (encrypted clusters, journal, checkpoints).</summary>
    public string VolumesDirectory => Path.Combine(FullPath, VolumesDirectoryName);

    /// <summary>The control plane's SQLite metadata database (identity, resources, RBAC, activity log).</summary>
    public string MetadataDatabase => Path.Combine(FullPath, "metadata.db");

    /// <summary>The keys data plane's own files: keys.db (sealed key material), root.key (file mode), audit.log.</summary>
    public string KeyVaultDirectory => Path.Combine(FullPath, "keyvault");

    // Later roles put their files here too: vault store, audit log.

    /// <summary>Creates the directory (mode 0700) if needed and takes its lock, or throws <see cref="StartupException"/>.</summary>
    public static DataDirectory Open(string path)
    {
        path = Path.GetFullPath(path);
        if (File.Exists(path))
        {
            throw new StartupException($"data directory '{path}' is a file, not a directory");
        }

        var created = !Directory.Exists(path);
        try
        {
            UnixFileModes.CreateOwnerOnlyDirectory(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StartupException($"cannot create data directory '{path}': {e.Message}", e);
        }

        var lockStream = AcquireLock(path);
        return new DataDirectory(path, lockStream, created);
    }

    private static FileStream AcquireLock(string directory)
    {
        var lockPath = Path.Combine(directory, LockFileName);
        var options = new FileStreamOptions
        {
            Mode = FileMode.OpenOrCreate,
            Access = FileAccess.ReadWrite,
            Share = FileShare.None,
        };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileModes.OwnerOnlyFile;
        }

        FileStream stream;
        try
        {
            stream = new FileStream(lockPath, options);
        }
        catch (IOException e) when (IsHeldByAnotherProcess(e))
        {
            throw new StartupException(
                $"data directory '{directory}' is in use by another ironclad server (it holds '{lockPath}')", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new StartupException($"data directory '{directory}' is not writable: {e.Message}", e);
        }
        catch (IOException e)
        {
            throw new StartupException($"cannot open lock file '{lockPath}': {e.Message}", e);
        }

        try
        {
            // For humans only (`cat DIR/lock`); the lock itself is the flock, not this content.
            stream.SetLength(0);
            stream.Write(Encoding.ASCII.GetBytes(Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n"));
            stream.Flush();
        }
        catch (IOException e)
        {
            stream.Dispose();
            throw new StartupException($"data directory '{directory}' is not writable: {e.Message}", e);
        }

        return stream;
    }

    // .NET reports a refused lock with the platform's code in HResult: flock(2)'s EWOULDBLOCK on
    // Unix (11 on Linux, 35 on macOS/BSD), ERROR_SHARING_VIOLATION on Windows.
    private static bool IsHeldByAnotherProcess(IOException e) =>
        e.HResult == unchecked((int)0x80070020)
        || (OperatingSystem.IsLinux() && e.HResult == 11)
        || ((OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD()) && e.HResult == 35);

    public void Dispose() => _lock.Dispose();
}
