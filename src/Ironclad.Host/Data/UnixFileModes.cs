// The permission bits Ironclad gives what it writes: directories 0700, secret-bearing files 0600,
// certificates handed to other programs 0644 (umask still applies).
// On Windows there are no POSIX modes; the data directory then relies on its inherited ACL.
namespace Ironclad.Host.Data;

internal static class UnixFileModes
{
    public const UnixFileMode OwnerOnlyDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    public const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    public const UnixFileMode PublicFile = OwnerOnlyFile | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    public const UnixFileMode GroupOrOther = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>Creates <paramref name="path"/> (and missing parents) with mode 0700; an existing directory is left as is.</summary>
    public static DirectoryInfo CreateOwnerOnlyDirectory(string path) =>
        OperatingSystem.IsWindows()
            ? Directory.CreateDirectory(path)
            : Directory.CreateDirectory(path, OwnerOnlyDirectory);

    /// <summary>True when group or other may access <paramref name="path"/> (always false on Windows).</summary>
    public static bool IsGroupOrOtherAccessible(string path) =>
        !OperatingSystem.IsWindows() && (File.GetUnixFileMode(path) & GroupOrOther) != 0;
}
