// Crash-test child: `Ironclad.Storage.CrashWorker <storeDir> <seed> <opCount>`. Runs the seeded
// CrashWorkload against a real VolumeStore; prints "begin N" before operation N starts, and
// "durable N" once operations 0..N are guaranteed durable (after a flush, a FUA write or a
// metadata operation returned). The parent
// kills it with SIGKILL at a random moment and checks the store against those reports.
using Ironclad.Crypto.Keys;
using Ironclad.Storage;
using Ironclad.Testing.Storage;

var directory = args[0];
var seed = int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture);
var opCount = int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture);
var stdout = Console.Out;

var options = new VolumeStoreOptions
{
    // Small thresholds so that checkpoints, background commits and collections happen during the run.
    CheckpointAfterJournalBytes = 64 * 1024,
    CommitAfterPendingBytes = 16 * 1024,
    CommitInterval = seed % 2 == 0 ? TimeSpan.FromSeconds(5) : TimeSpan.FromMilliseconds(20),
    CollectAfterGarbageHints = 8,
};

using var store = VolumeStore.Open(directory, options);
using var key = DataKey.FromBytes(CrashWorkload.KeyBytes(seed));
var baseId = CrashWorkload.BaseVolumeId(seed);
if (store.Find(baseId) is null)
{
    store.CreateVolume(baseId, CrashWorkload.VolumeSizeBytes, key);
}

var volumes = new Volume?[2];
volumes[0] = store.OpenVolume(baseId, key);
stdout.WriteLine("ready");
stdout.Flush();

var buffer = new byte[256 * 1024];
foreach (var op in CrashWorkload.Generate(seed, opCount))
{
    stdout.WriteLine($"begin {op.Index}");
    var volume = volumes[op.Target]!;
    switch (op.Kind)
    {
        case CrashOpKind.Write:
        case CrashOpKind.WriteFua:
            var data = buffer.AsSpan(0, op.LengthBytes);
            CrashWorkload.FillData(op.DataSeed, data);
            volume.Write(op.OffsetBytes, data, op.Kind == CrashOpKind.WriteFua ? WriteOptions.Fua : WriteOptions.None);
            break;
        case CrashOpKind.Trim:
            volume.Trim(op.OffsetBytes, op.LengthBytes);
            break;
        case CrashOpKind.Zero:
            volume.WriteZeroes(op.OffsetBytes, op.LengthBytes);
            break;
        case CrashOpKind.Flush:
            volume.Flush();
            break;
        case CrashOpKind.Snapshot:
            store.CreateSnapshot(baseId, CrashWorkload.SnapshotId(seed, op.Snapshot));
            break;
        case CrashOpKind.DeleteSnapshot:
            store.Delete(CrashWorkload.SnapshotId(seed, op.Snapshot));
            break;
        case CrashOpKind.Clone:
            store.CreateVolumeFromSnapshot(CrashWorkload.SnapshotId(seed, op.Snapshot), CrashWorkload.CloneVolumeId(seed), CrashWorkload.VolumeSizeBytes);
            volumes[1] = store.OpenVolume(CrashWorkload.CloneVolumeId(seed), key);
            break;
    }

    if (op.IsDurableOnReturn)
    {
        stdout.WriteLine($"durable {op.Index}");
        stdout.Flush();
    }
}

stdout.WriteLine("finished");
stdout.Flush();
foreach (var volume in volumes)
{
    volume?.Dispose();
}

return 0;
