// Writes a file so that readers see either the old content or the new, never a torn one: write a
// temporary file beside it (mode 0600 from creation, so a secret is never briefly world-readable),
// flush it to disk, then rename over the target. rename(2) within one directory is atomic.
using System.Security.Cryptography;

namespace Ironclad.Host.Data;

internal static class AtomicFile
{
    /// <summary>Replaces <paramref name="path"/> with <paramref name="content"/>, mode 0600.</summary>
    public static void WriteOwnerOnly(string path, ReadOnlySpan<byte> content) =>
        Write(path, content, UnixFileModes.OwnerOnlyFile);

    /// <summary>Replaces <paramref name="path"/> with <paramref name="content"/>, created with <paramref name="mode"/> (public files only: a secret is always 0600).</summary>
    public static void Write(string path, ReadOnlySpan<byte> content, UnixFileMode mode)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))
            ?? throw new ArgumentException($"'{path}' has no parent directory.", nameof(path));
        var temporaryPath = Path.Combine(directory, $".{Path.GetFileName(path)}.{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}.tmp");
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            Share = FileShare.None,
        };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = mode;
        }

        try
        {
            using (var stream = new FileStream(temporaryPath, options))
            {
                stream.Write(content);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporaryPath, path, overwrite: true);
        }
        catch
        {
            File.Delete(temporaryPath);
            throw;
        }
    }
}
