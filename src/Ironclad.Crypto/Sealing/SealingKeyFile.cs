// A root sealing key kept in a file of exactly 32 random bytes, mode 0600, created on first use.
// The one file access in Ironclad.Crypto, kept here so every role that seals (Identity, later Key
// Vault) loads its root key the same way. Invariant: an existing file of the wrong size is refused,
// never overwritten (that would make everything sealed under it unreadable).
using System.Security.Cryptography;

namespace Ironclad.Crypto.Sealing;

public static class SealingKeyFile
{
    /// <summary>Opens the key in <paramref name="path"/>, creating the file (and its directory, 0700) if it does not exist.</summary>
    public static Sealer LoadOrCreate(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (!Directory.Exists(directory))
        {
            if (OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(directory);
            }
            else
            {
                Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
        }

        var key = new byte[Sealer.KeySizeBytes];
        try
        {
            if (!File.Exists(path))
            {
                RandomNumberGenerator.Fill(key);
                var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
                if (!OperatingSystem.IsWindows())
                {
                    options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
                }

                using var stream = new FileStream(path, options);
                stream.Write(key);
                stream.Flush(flushToDisk: true);
                return new Sealer(key);
            }

            using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read))
            {
                if (stream.Length != Sealer.KeySizeBytes)
                {
                    throw new InvalidDataException($"The sealing key file '{path}' is {stream.Length} bytes, not {Sealer.KeySizeBytes}.");
                }

                stream.ReadExactly(key);
            }

            return new Sealer(key);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
    }
}
