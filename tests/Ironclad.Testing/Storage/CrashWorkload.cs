// The seeded workload of the storage crash test, shared by the child process that runs it
// (Ironclad.Storage.CrashWorker) and the test that kills it and checks what survived.
// Deterministic: the same seed always yields the same operations and the same data.
namespace Ironclad.Testing.Storage;

public enum CrashOpKind
{
    Write,
    WriteFua,
    Trim,
    Zero,
    Flush,
    Snapshot,
    DeleteSnapshot,
    Clone,
}

/// <param name="Target">0 = the base volume, 1 = the clone.</param>
/// <param name="Snapshot">Snapshot number for Snapshot / DeleteSnapshot / Clone.</param>
public sealed record CrashOp(int Index, CrashOpKind Kind, int Target, long OffsetBytes, int LengthBytes, int DataSeed, int Snapshot)
{
    /// <summary>True when the worker reports "durable Index" after the operation returns.</summary>
    public bool IsDurableOnReturn => Kind is CrashOpKind.WriteFua or CrashOpKind.Flush or CrashOpKind.Snapshot or CrashOpKind.DeleteSnapshot or CrashOpKind.Clone;
}

public static class CrashWorkload
{
    public const long VolumeSizeBytes = 8L << 20;
    public const int MaxLiveSnapshots = 3;

    public static Guid BaseVolumeId(int seed) => DeterministicGuid(seed, 0);

    public static Guid CloneVolumeId(int seed) => DeterministicGuid(seed, 1);

    public static Guid SnapshotId(int seed, int number) => DeterministicGuid(seed, 1000 + number);

    /// <summary>A fixed data key for the run (not secret: it is a test).</summary>
    public static byte[] KeyBytes(int seed)
    {
        var key = new byte[64];
        new Random(seed ^ 0x5EED).NextBytes(key);
        key[32] ^= 0xFF; // the halves always differ
        return key;
    }

    public static void FillData(int dataSeed, Span<byte> buffer) => new Random(dataSeed).NextBytes(buffer);

    public static List<CrashOp> Generate(int seed, int count)
    {
        var random = new Random(seed);
        var ops = new List<CrashOp>(count);
        var live = new List<int>();
        var nextSnapshot = 0;
        var cloneExists = false;
        for (var i = 0; i < count; i++)
        {
            var roll = random.Next(100);
            var target = cloneExists && random.Next(3) == 0 ? 1 : 0;
            var (offset, length) = RandomRange(random);
            CrashOp op = roll switch
            {
                < 55 => new CrashOp(i, CrashOpKind.Write, target, offset, length, random.Next(), -1),
                < 60 => new CrashOp(i, CrashOpKind.WriteFua, target, offset, length, random.Next(), -1),
                < 66 => new CrashOp(i, CrashOpKind.Trim, target, offset, length, 0, -1),
                < 72 => new CrashOp(i, CrashOpKind.Zero, target, offset, length, 0, -1),
                < 84 => new CrashOp(i, CrashOpKind.Flush, target, 0, 0, 0, -1),
                < 91 when live.Count < MaxLiveSnapshots => new CrashOp(i, CrashOpKind.Snapshot, 0, 0, 0, 0, nextSnapshot++),
                < 96 when live.Count > 0 && (cloneExists || live.Count > 1 || i > count / 2) => new CrashOp(i, CrashOpKind.DeleteSnapshot, 0, 0, 0, 0, live[random.Next(live.Count)]),
                < 100 when !cloneExists && live.Count > 0 => new CrashOp(i, CrashOpKind.Clone, 1, 0, 0, 0, live[0]),
                _ => new CrashOp(i, CrashOpKind.Write, target, offset, length, random.Next(), -1),
            };

            switch (op.Kind)
            {
                case CrashOpKind.Snapshot:
                    live.Add(op.Snapshot);
                    break;
                case CrashOpKind.DeleteSnapshot:
                    live.Remove(op.Snapshot);
                    break;
                case CrashOpKind.Clone:
                    cloneExists = true;
                    break;
            }

            ops.Add(op);
        }

        return ops;
    }

    private static (long Offset, int Length) RandomRange(Random random)
    {
        // Mostly 4 KiB-aligned, sometimes sector-aligned, sometimes byte-granular; up to 256 KiB.
        var granule = random.Next(10) switch
        {
            < 6 => 4096,
            < 9 => 512,
            _ => 1,
        };
        var length = random.Next(1, (256 * 1024 / granule) + 1) * granule;
        if (random.Next(3) == 0)
        {
            length = Math.Min(length, 8 * 1024);
        }

        var offset = random.NextInt64(0, (VolumeSizeBytes - length) / granule + 1) * granule;
        return (offset, length);
    }

    private static Guid DeterministicGuid(int seed, int n)
    {
        Span<byte> bytes = stackalloc byte[16];
        BitConverter.TryWriteBytes(bytes, seed);
        BitConverter.TryWriteBytes(bytes[4..], n);
        bytes[8] = 0xC7;
        return new Guid(bytes);
    }
}
