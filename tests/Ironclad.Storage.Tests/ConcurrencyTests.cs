// Many threads reading and writing one volume at once, sharing 4 KiB units and clusters (so
// read-modify-write and copy-on-write race), while snapshots are taken: no write may be lost, no
// read may see a torn sector, and each snapshot must be a consistent point in time.
using Ironclad.Testing;

namespace Ironclad.Storage.Tests;

public sealed class ConcurrencyTests
{
    private const int Sector = 512;

    [Fact]
    [Trait("Category", "Simulation")]
    public async Task Concurrent_sector_writers_readers_and_snapshots_lose_nothing()
    {
        var seed = Seeds.FromEnvironmentOrRandom();
        const int threads = 8;
        const long size = 4L << 20;
        const int sectors = (int)(size / Sector);
        using var context = new StorageTestContext(new VolumeStoreOptions { CollectAfterGarbageHints = 16, CheckpointAfterJournalBytes = 256 * 1024 });
        var id = Guid.NewGuid();
        context.Store.CreateVolume(id, size, context.Key);
        using var volume = context.Store.OpenVolume(id, context.Key);

        // Sector s belongs to writer s % threads; each write stamps (sector, version) into every 8 bytes.
        var versions = new int[sectors];
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var snapshots = new System.Collections.Concurrent.ConcurrentBag<Guid>();
        using var stop = new CancellationTokenSource();
        var writers = Enumerable.Range(0, threads).Select(t => Task.Run(() =>
        {
            var random = new Random(seed + t);
            var buffer = new byte[Sector * 4];
            for (var i = 0; i < 1500; i++)
            {
                // A run of up to 4 of this writer's sectors that are consecutive in its own sequence.
                var run = random.Next(1, 5);
                var first = (random.Next(sectors / threads) * threads) + t;
                for (var k = 0; k < run && first + (k * threads) < sectors; k++)
                {
                    var sector = first + (k * threads);
                    var version = ++versions[sector];
                    Stamp(buffer.AsSpan(0, Sector), sector, version);
                    volume.Write((long)sector * Sector, buffer.AsSpan(0, Sector), random.Next(50) == 0 ? WriteOptions.Fua : WriteOptions.None);
                }
            }
        }, TestContext.Current.CancellationToken)).ToArray();
        var readers = Enumerable.Range(0, 2).Select(r => Task.Run(() =>
        {
            var random = new Random(seed + 100 + r);
            var buffer = new byte[64 * 1024];
            while (!stop.IsCancellationRequested)
            {
                var offset = random.NextInt64(0, (size - buffer.Length) / Sector) * Sector;
                volume.Read(offset, buffer);
                for (var s = 0; s < buffer.Length / Sector; s++)
                {
                    if (!IsWholeStamp(buffer.AsSpan(s * Sector, Sector), (int)(offset / Sector) + s, out var why))
                    {
                        failures.Enqueue($"reader saw a torn sector {(offset / Sector) + s}: {why}");
                    }
                }
            }
        }, TestContext.Current.CancellationToken)).ToArray();
        var snapshotter = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                var snapshotId = Guid.NewGuid();
                context.Store.CreateSnapshot(id, snapshotId);
                snapshots.Add(snapshotId);
                Thread.Sleep(5);
            }
        }, TestContext.Current.CancellationToken);

        await Task.WhenAll(writers);
        await stop.CancelAsync();
        await Task.WhenAll([.. readers, snapshotter]);
        Assert.Empty(failures);

        var back = new byte[Sector];
        for (var sector = 0; sector < sectors; sector++)
        {
            volume.Read((long)sector * Sector, back);
            var expected = new byte[Sector];
            if (versions[sector] > 0)
            {
                Stamp(expected, sector, versions[sector]);
            }

            StorageTestContext.AssertSameBytes(expected, back, $"sector {sector} (seed {seed})");
        }

        // Each snapshot is whole: every sector in it is zero or a complete stamp of that sector.
        foreach (var snapshotId in snapshots.Take(10))
        {
            using var snapshot = context.Store.OpenVolume(snapshotId, context.Key);
            var image = new byte[size];
            snapshot.Read(0, image);
            for (var sector = 0; sector < sectors; sector++)
            {
                Assert.True(IsWholeStamp(image.AsSpan(sector * Sector, Sector), sector, out var why), $"snapshot {snapshotId} sector {sector}: {why}");
            }
        }
    }

    private static void Stamp(Span<byte> sector, int sectorIndex, int version)
    {
        for (var i = 0; i < Sector; i += 8)
        {
            BitConverter.TryWriteBytes(sector[i..], sectorIndex);
            BitConverter.TryWriteBytes(sector[(i + 4)..], version);
        }
    }

    private static bool IsWholeStamp(ReadOnlySpan<byte> sector, int sectorIndex, out string why)
    {
        why = "";
        if (sector.IndexOfAnyExcept((byte)0) < 0)
        {
            return true;
        }

        var version = BitConverter.ToInt32(sector[4..]);
        for (var i = 0; i < Sector; i += 8)
        {
            if (BitConverter.ToInt32(sector[i..]) != sectorIndex || BitConverter.ToInt32(sector[(i + 4)..]) != version)
            {
                why = $"mixed content at byte {i}";
                return false;
            }
        }

        return true;
    }
}
