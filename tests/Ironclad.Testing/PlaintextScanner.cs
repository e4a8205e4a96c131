// Scans every file under a directory for byte patterns (the "nothing plaintext at rest" check).
// Patterns are found even when they straddle read-buffer boundaries.
namespace Ironclad.Testing;

public static class PlaintextScanner
{
    public sealed record Finding(string FilePath, long OffsetBytes, int PatternIndex);

    /// <summary>Returns every place any of <paramref name="patterns"/> occurs in any regular file under <paramref name="directory"/>.</summary>
    public static IReadOnlyList<Finding> Scan(string directory, IReadOnlyList<byte[]> patterns)
    {
        ArgumentNullException.ThrowIfNull(patterns);
        var longest = patterns.Max(p => p.Length);
        var findings = new List<Finding>();
        var buffer = new byte[(1 << 20) + longest];
        foreach (var path in Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories))
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            long fileOffset = 0;
            var carried = 0;
            while (true)
            {
                var read = stream.Read(buffer, carried, buffer.Length - carried);
                if (read == 0)
                {
                    break;
                }

                var valid = carried + read;
                for (var p = 0; p < patterns.Count; p++)
                {
                    var span = buffer.AsSpan(0, valid);
                    var searched = 0;
                    while (true)
                    {
                        var at = span[searched..].IndexOf(patterns[p]);
                        if (at < 0)
                        {
                            break;
                        }

                        var absolute = fileOffset + searched + at;
                        if (!findings.Any(f => f.FilePath == path && f.OffsetBytes == absolute && f.PatternIndex == p))
                        {
                            findings.Add(new Finding(path, absolute, p));
                        }

                        searched += at + 1;
                    }
                }

                carried = Math.Min(longest - 1, valid);
                Array.Copy(buffer, valid - carried, buffer, 0, carried);
                fileOffset += valid - carried;
            }
        }

        return findings;
    }
}
