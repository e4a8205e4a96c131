// The "nothing plaintext at rest" check after a client wrote known bytes through NBD: scan every
// file of the store for them. The scan is only meaningful if the bytes really reached the
// directory, so it also demands that the data files hold at least as many bytes as were written
// (the positive control in PlaintextControlTests shows the same scan does find them unencrypted).
// The scan is bounded in time: PlaintextScanner de-duplicates each hit against every earlier one,
// so a pattern that is a run of one byte (qemu-io's `write -P`) found at rest in quantity would
// take quadratic time; that must fail the test, not hang the run.
using Ironclad.Testing;

namespace Ironclad.Interop.Tests.Support;

internal static class AtRest
{
    /// <summary>How long a scan of a test-sized store may take; minutes of work means thousands of hits.</summary>
    private static readonly TimeSpan ScanTimeout = TimeSpan.FromSeconds(60);

    public static async Task AssertNoPlaintextAsync(string storeDirectory, IReadOnlyList<byte[]> patterns, long bytesWrittenAtLeast)
    {
        ArgumentNullException.ThrowIfNull(patterns);
        Assert.NotEmpty(patterns);
        var stored = AllocatedBytes(storeDirectory);
        Assert.True(stored >= bytesWrittenAtLeast,
            $"{storeDirectory} holds {stored} allocated bytes, fewer than the {bytesWrittenAtLeast} written: the scan would prove nothing.");

        IReadOnlyList<PlaintextScanner.Finding> findings;
        try
        {
            findings = await Task.Run(() => PlaintextScanner.Scan(storeDirectory, patterns)).WaitAsync(ScanTimeout);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"scanning {storeDirectory} for {patterns.Count} patterns took over {ScanTimeout.TotalSeconds:0} s: "
                + "it only takes that long when the patterns are found at rest many times over.");
            throw;
        }

        Assert.True(findings.Count == 0,
            $"{findings.Count} plaintext pattern(s) found at rest, e.g. "
            + string.Join("; ", findings.Take(5).Select(f => $"pattern {f.PatternIndex} in {f.FilePath} at byte {f.OffsetBytes}")));
    }

    /// <summary>Bytes the files under <paramref name="directory"/> occupy on disk (data files are sparse, so length says little).</summary>
    public static long AllocatedBytes(string directory)
    {
        long total = 0;
        foreach (var path in Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories))
        {
            // Without a stat(2) binding, count the non-zero 4 KiB blocks: holes read as zeros, ciphertext never does.
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 20);
            var block = new byte[4096];
            int read;
            while ((read = stream.ReadAtLeast(block, block.Length, throwOnEndOfStream: false)) > 0)
            {
                if (block.AsSpan(0, read).ContainsAnyExcept((byte)0))
                {
                    total += read;
                }
            }
        }

        return total;
    }
}
