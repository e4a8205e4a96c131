// The data path of a re-encrypting copy (DiskVolumes.CopyAllocated) on a real volume store in a temp
// directory: only allocated ranges are copied, the copy reads back identical under its own DEK, and
// the throughput is measured (MB/s, the figure docs/compute/disks.md quotes).
using Ironclad.Compute.Disks;
using Ironclad.Crypto.Keys;
using Ironclad.Storage;
using Ironclad.Testing;

namespace Ironclad.Compute.Tests.Disks;

public sealed class ReencryptingCopyTests
{
    [Fact]
    public void Copy_of_allocated_ranges_reads_back_identical_under_a_new_key_and_reports_its_throughput()
    {
        var seed = Environment.GetEnvironmentVariable("IRONCLAD_TEST_SEED") is { } s ? int.Parse(s, System.Globalization.CultureInfo.InvariantCulture) : Random.Shared.Next();
        TestContext.Current.TestOutputHelper?.WriteLine($"seed {seed} (IRONCLAD_TEST_SEED)");
        var random = new Random(seed);
        using var directory = new TempDirectory("ironclad-copy");
        using var store = VolumeStore.Open(directory.Path);
        using var sourceKey = DataKey.Generate();
        using var targetKey = DataKey.Generate();
        var sourceId = Guid.NewGuid();
        var targetId = Guid.NewGuid();
        const long size = 64L << 30;
        store.CreateVolume(sourceId, size, sourceKey);
        store.CreateVolume(targetId, size, targetKey);

        // 256 MiB of data in 1 MiB extents spread over a 64 GiB disk: the copy must not touch the rest.
        var extents = new List<(long Offset, byte[] Data)>();
        using (var source = store.OpenVolume(sourceId, sourceKey))
        {
            for (var i = 0; i < 256; i++)
            {
                var data = new byte[1 << 20];
                random.NextBytes(data);
                var offset = (long)i * (256L << 20) + ((long)random.Next(0, 255) << 20);
                source.Write(offset, data);
                extents.Add((offset, data));
            }

            source.Flush();
        }

        CopyStatistics statistics;
        using (var from = store.OpenVolume(sourceId, sourceKey))
        using (var to = store.OpenVolume(targetId, targetKey))
        {
            statistics = DiskVolumes.CopyAllocated(from, to, TestContext.Current.CancellationToken);
        }

        Assert.Equal(256L << 20, statistics.CopiedBytes);
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"re-encrypting copy: {statistics.CopiedBytes / 1e6:F0} MB allocated of a {size >> 30} GiB disk in {statistics.Elapsed.TotalMilliseconds:F0} ms = {statistics.MegabytesPerSecond:F0} MB/s");

        using var copy = store.OpenVolume(targetId, targetKey);
        Assert.Equal(256L << 20, copy.GetAllocatedRanges(0, size).Sum(r => r.LengthBytes));
        var buffer = new byte[1 << 20];
        foreach (var (offset, data) in extents)
        {
            copy.Read(offset, buffer);
            Assert.True(data.AsSpan().SequenceEqual(buffer), $"the copy differs at {offset} (seed {seed})");
        }

        Assert.Throws<StorageException>(() => store.OpenVolume(targetId, sourceKey).Dispose());
    }
}
