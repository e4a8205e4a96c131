// Seeded model test: random sequences of every storage operation (write, read, trim, write-zeroes,
// flush, snapshot, clone, delete, resize, allocated ranges, checkpoint, collection, reopen) against
// an in-memory reference model. Replay a failure with IRONCLAD_SEED=<seed>.
using Ironclad.Testing;

namespace Ironclad.Storage.Tests;

public sealed class ModelTests
{
    private const int UnitSize = 4096;

    [Theory]
    [Trait("Category", "Simulation")]
    [InlineData(600, false)]
    [InlineData(600, true)]
    public void Random_operations_match_the_reference_model(int operationCount, bool backgroundMaintenance)
    {
        var seed = Seeds.FromEnvironmentOrRandom();
        var random = new Random(seed);
        using var context = new StorageTestContext(new VolumeStoreOptions
        {
            BackgroundMaintenance = backgroundMaintenance,
            CheckpointAfterJournalBytes = 32 * 1024,
            CommitAfterPendingBytes = 8 * 1024,
            CommitInterval = TimeSpan.FromMilliseconds(10),
            CollectAfterGarbageHints = 4,
        });
        var models = new Dictionary<Guid, ReferenceVolume>();
        var kinds = new Dictionary<Guid, VolumeKind>();
        var open = new Dictionary<Guid, Volume>();
        var buffer = new byte[512 * 1024];
        var readBack = new byte[512 * 1024];

        Volume Handle(Guid id)
        {
            if (!open.TryGetValue(id, out var volume))
            {
                volume = open[id] = context.Store.OpenVolume(id, context.Key);
            }

            return volume;
        }

        void CloseAll()
        {
            foreach (var volume in open.Values)
            {
                volume.Dispose();
            }

            open.Clear();
        }

        Guid Pick(VolumeKind? kind = null)
        {
            var candidates = kinds.Where(k => kind is null || k.Value == kind).Select(k => k.Key).OrderBy(g => g).ToList();
            return candidates.Count == 0 ? Guid.Empty : candidates[random.Next(candidates.Count)];
        }

        (long Offset, int Length) Range(long size)
        {
            var granule = random.Next(4) switch { 0 => 1, 1 => 512, _ => UnitSize };
            var maxLength = (int)Math.Min(buffer.Length, size);
            var length = Math.Max(granule, random.Next(1, (maxLength / granule) + 1) * granule);
            length = Math.Min(length, (int)size);
            var offset = random.NextInt64(0, ((size - length) / granule) + 1) * granule;
            return (offset, length);
        }

        for (var step = 0; step < operationCount; step++)
        {
            var op = random.Next(100);
            var volumeId = Pick(VolumeKind.Volume);
            try
            {
                if (volumeId == Guid.Empty || op < 5)
                {
                    if (kinds.Count < 8)
                    {
                        var id = Guid.NewGuid();
                        var size = random.Next(1, 64) * 64L * 1024 + (random.Next(2) * 512);
                        context.Store.CreateVolume(id, size, context.Key);
                        models[id] = new ReferenceVolume(size);
                        kinds[id] = VolumeKind.Volume;
                    }

                    continue;
                }

                var model = models[volumeId];
                if (op < 40)
                {
                    var (offset, length) = Range(model.SizeBytes);
                    random.NextBytes(buffer.AsSpan(0, length));
                    var options = random.Next(10) == 0 ? WriteOptions.Fua : WriteOptions.None;
                    Handle(volumeId).Write(offset, buffer.AsSpan(0, length), options);
                    model.Write(offset, buffer.AsSpan(0, length));
                }
                else if (op < 55)
                {
                    var target = random.Next(3) == 0 ? Pick() : volumeId;
                    var targetModel = models[target];
                    var (offset, length) = Range(targetModel.SizeBytes);
                    Handle(target).Read(offset, readBack.AsSpan(0, length));
                    targetModel.Read(offset, buffer.AsSpan(0, length));
                    StorageTestContext.AssertSameBytes(buffer.AsSpan(0, length), readBack.AsSpan(0, length), $"step {step} read of {target} [{offset}, +{length})");
                }
                else if (op < 61)
                {
                    var (offset, length) = Range(model.SizeBytes);
                    Handle(volumeId).Trim(offset, length);
                    model.Trim(offset, length);
                }
                else if (op < 67)
                {
                    var (offset, length) = Range(model.SizeBytes);
                    var noHole = random.Next(4) == 0;
                    Handle(volumeId).WriteZeroes(offset, length, noHole ? ZeroOptions.NoHole : ZeroOptions.None);
                    model.Zero(offset, length);
                }
                else if (op < 70)
                {
                    Handle(volumeId).Flush();
                }
                else if (op < 76)
                {
                    var snapshotId = Guid.NewGuid();
                    context.Store.CreateSnapshot(volumeId, snapshotId);
                    models[snapshotId] = model.Copy();
                    kinds[snapshotId] = VolumeKind.Snapshot;
                }
                else if (op < 80)
                {
                    var snapshotId = Pick(VolumeKind.Snapshot);
                    if (snapshotId != Guid.Empty)
                    {
                        var cloneId = Guid.NewGuid();
                        var size = models[snapshotId].SizeBytes + (random.Next(3) * 64L * 1024);
                        context.Store.CreateVolumeFromSnapshot(snapshotId, cloneId, size);
                        models[cloneId] = models[snapshotId].Copy(size);
                        kinds[cloneId] = VolumeKind.Volume;
                    }
                }
                else if (op < 85)
                {
                    var victim = Pick();
                    if (open.Remove(victim, out var handle))
                    {
                        handle.Dispose();
                    }

                    context.Store.Delete(victim);
                    models.Remove(victim);
                    kinds.Remove(victim);
                }
                else if (op < 88)
                {
                    var grown = model.SizeBytes + (random.Next(1, 8) * 512L);
                    context.Store.Resize(volumeId, grown);
                    model.SizeBytes = grown;
                }
                else if (op < 92)
                {
                    CheckAllocatedRanges(Handle(volumeId), model, step);
                }
                else if (op < 94)
                {
                    context.Store.Checkpoint();
                }
                else if (op < 96)
                {
                    context.Store.CollectGarbage();
                }
                else
                {
                    CloseAll();
                    context.Reopen();
                    Assert.Equal(kinds.Count, context.Store.List().Count);
                }
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                throw new InvalidOperationException($"step {step} (op {op}) failed with seed {seed}", e);
            }
        }

        CloseAll();
        context.Reopen();
        foreach (var (id, model) in models)
        {
            using var volume = context.Store.OpenVolume(id, context.Key);
            StorageTestContext.AssertMatchesModel(volume, model, $"final {kinds[id]} {id} (seed {seed})");
            CheckAllocatedRanges(volume, model, operationCount);
        }

        // Deleting everything and collecting frees every cluster.
        foreach (var id in models.Keys)
        {
            context.Store.Delete(id);
        }

        context.Store.CollectGarbage();
        context.Store.Flush();
        Assert.Equal(0, context.Store.Statistics.AllocatedClusters);
    }

    /// <summary>Every non-zero unit of the model lies inside a reported range; reported ranges are sorted and disjoint.</summary>
    private static void CheckAllocatedRanges(Volume volume, ReferenceVolume model, int step)
    {
        var ranges = volume.GetAllocatedRanges(0, model.SizeBytes);
        long previousEnd = -1;
        foreach (var range in ranges)
        {
            Assert.True(range.OffsetBytes > previousEnd, $"step {step}: ranges overlap or are not merged");
            Assert.True(range.LengthBytes > 0);
            previousEnd = range.OffsetBytes + range.LengthBytes;
        }

        foreach (var unit in model.NonZeroUnits)
        {
            var start = unit * UnitSize;
            if (start >= model.SizeBytes)
            {
                continue;
            }

            Assert.True(
                ranges.Any(r => r.OffsetBytes <= start && start < r.OffsetBytes + r.LengthBytes),
                $"step {step}: unit {unit} holds data but is not in an allocated range");
        }
    }
}
