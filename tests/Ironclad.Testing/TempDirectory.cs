// A fresh directory under the system temp folder, deleted on dispose (kept when
// IRONCLAD_KEEP_TEMP=1, for post-mortems).
namespace Ironclad.Testing;

public sealed class TempDirectory : IDisposable
{
    public TempDirectory(string prefix = "ironclad-test")
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    public void Dispose()
    {
        if (Environment.GetEnvironmentVariable("IRONCLAD_KEEP_TEMP") == "1")
        {
            return;
        }

        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
            // Already gone: nothing to clean.
        }
        catch (IOException)
        {
            // A child process may still be closing a file; the OS temp directory is cleaned later anyway.
        }
    }
}
