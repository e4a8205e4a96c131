// Nothing plaintext at rest: known patterns written through every path (volume, snapshot, clone,
// unaligned and partial-sector writes, FUA, reopen) and the data key itself must not appear in
// any file under the store directory.
using System.Text;
using Ironclad.Testing;

namespace Ironclad.Storage.Tests;

public sealed class PlaintextAtRestTests
{
    [Fact]
    public void Known_patterns_and_the_data_key_never_reach_the_store_directory()
    {
        using var context = new StorageTestContext();
        var markers = Enumerable.Range(0, 6).Select(i => Encoding.ASCII.GetBytes($"IRONCLAD-PLAINTEXT-MARKER-{i:D4}!!")).ToArray();
        byte[] Filled(int marker, int length)
        {
            var buffer = new byte[length];
            for (var i = 0; i < length; i += markers[marker].Length)
            {
                markers[marker].AsSpan(0, Math.Min(markers[marker].Length, length - i)).CopyTo(buffer.AsSpan(i));
            }

            return buffer;
        }

        var id = Guid.NewGuid();
        var snapshotId = Guid.NewGuid();
        var cloneId = Guid.NewGuid();
        context.Store.CreateVolume(id, 8 << 20, context.Key);
        using (var volume = context.Store.OpenVolume(id, context.Key))
        {
            volume.Write(0, Filled(0, 1 << 20));                          // aligned, whole clusters
            volume.Write(3_000_017, Filled(1, 70_001), WriteOptions.Fua);   // unaligned, crosses clusters
            volume.Write(5 << 20, Filled(2, 512));                        // one sector: read-modify-write
            context.Store.CreateSnapshot(id, snapshotId);
            volume.Write(4096, Filled(3, 8192));                           // copy-on-write after the snapshot
        }

        context.Store.CreateVolumeFromSnapshot(snapshotId, cloneId, 8 << 20);
        using (var clone = context.Store.OpenVolume(cloneId, context.Key))
        {
            clone.Write(100, Filled(4, 300_000));                          // clone copy-on-write
            clone.WriteZeroes(2 << 20, 1 << 20, ZeroOptions.NoHole);
            clone.Write(7 << 20, Filled(5, 4096), WriteOptions.Fua);
        }

        context.Store.Checkpoint();
        context.Reopen(); // clean close writes a checkpoint; reopen recovers

        // The data really is there (so the scan is not vacuous) ...
        using (var clone = context.Store.OpenVolume(cloneId, context.Key))
        {
            var back = new byte[4096];
            clone.Read(7 << 20, back);
            Assert.Equal(Filled(5, 4096), back);
        }

        // ... and none of it, nor the key, is in any file (closed first: the store holds its lock file exclusively).
        context.Store.Dispose();
        var keyBytes = context.Key.UseBytes(0, static (key, _) => key.ToArray());
        var patterns = markers.Append(keyBytes[..32]).Append(keyBytes[32..]).ToList();
        var findings = PlaintextScanner.Scan(context.Directory.Path, patterns);
        Assert.True(findings.Count == 0, "plaintext found at rest: " + string.Join("; ", findings.Take(5).Select(f => $"{Path.GetFileName(f.FilePath)}@{f.OffsetBytes} pattern {f.PatternIndex}")));
    }

    [Fact]
    public void The_scanner_finds_a_pattern_it_is_shown()
    {
        using var directory = new TempDirectory();
        var pattern = Encoding.ASCII.GetBytes("IRONCLAD-PLAINTEXT-MARKER-SELF!!");
        var content = new byte[(1 << 20) + 100];
        pattern.CopyTo(content, (1 << 20) - 10); // straddles the scanner's read buffer
        File.WriteAllBytes(directory.Combine("file.bin"), content);
        var finding = Assert.Single(PlaintextScanner.Scan(directory.Path, [pattern]));
        Assert.Equal((1 << 20) - 10, finding.OffsetBytes);
    }
}
