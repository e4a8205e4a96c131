// Byte patterns qemu-io writes (`write -P`) and reads back (`read -P`): a fixed set at the
// offsets that stress the data path (unit- and cluster-aligned; 512-aligned; sub-unit
// read-modify-write; one byte either side of a 4 KiB unit or 64 KiB cluster boundary; spans of
// several clusters; the last bytes of the volume) plus seeded random ones. Invariants: no two
// writes overlap or touch (so each can be verified on its own, and the byte either side of each
// must still read zero); every value is distinct and never 0x00 or 0xFF (which metadata may hold).
using System.Globalization;

namespace Ironclad.Interop.Tests.Support;

internal sealed record PatternWrite(long Offset, int Length, byte Value)
{
    public long End => Offset + Length;

    public string WriteCommand => string.Create(CultureInfo.InvariantCulture, $"write -P 0x{Value:x2} {Offset} {Length}");

    public string ReadCommand => string.Create(CultureInfo.InvariantCulture, $"read -P 0x{Value:x2} {Offset} {Length}");
}

internal sealed class PatternWrites
{
    /// <summary>Length of the run of one pattern byte the plaintext scan looks for.</summary>
    public const int ScanRunBytes = 64;

    private const int Cluster = 64 * 1024;
    private const int Unit = 4096;

    private PatternWrites(long volumeSizeBytes, IReadOnlyList<PatternWrite> writes)
    {
        VolumeSizeBytes = volumeSizeBytes;
        Writes = writes;
    }

    public long VolumeSizeBytes { get; }

    public IReadOnlyList<PatternWrite> Writes { get; }

    /// <summary>The fixed offsets plus <paramref name="randomCount"/> seeded ones; <paramref name="volumeSizeBytes"/> at least 64 MiB.</summary>
    public static PatternWrites Create(long volumeSizeBytes, int seed, int randomCount = 8)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(volumeSizeBytes, 64L << 20);
        var random = new Random(seed);
        var shapes = new List<(long Offset, int Length)>
        {
            (0, Unit),                                // the first unit
            (Cluster, Cluster),                       // one whole cluster
            ((3 * Cluster) + Unit, 2 * Unit),         // whole units inside a cluster
            ((5 * Cluster) + 12345, 1000),            // inside one unit: read-modify-write
            ((7 * Cluster) + Unit - 1, 2),            // one byte either side of a unit boundary
            ((9 * Cluster) - 1, 2),                   // one byte either side of a cluster boundary
            ((11 * Cluster) - 100, 200),              // unaligned, across a cluster boundary
            ((14 * Cluster) - Unit, Cluster + (2 * Unit)), // unit-aligned, three clusters
            ((20 * Cluster) + 777, 200_000),          // unaligned, four clusters
            ((30 * Cluster) + 512, 1536),             // 512-aligned, not 4 KiB-aligned
            (volumeSizeBytes - Unit - 1500, 1000),    // near the end
            (volumeSizeBytes - Unit, Unit),           // the last unit
        };

        // Random ones, one per 1 MiB slot from 4 MiB, never reaching the slot's last byte.
        const int Slot = 1 << 20;
        for (var i = 0; i < randomCount; i++)
        {
            var length = random.Next(1, 300_000);
            var offset = (4L << 20) + (i * (long)Slot) + random.Next(0, Slot - length - 1);
            shapes.Add((offset, length));
        }

        var values = Enumerable.Range(0x10, 0xF0 - 0x10).Select(v => (byte)v).ToArray();
        random.Shuffle(values);
        var writes = shapes.Select((shape, i) => new PatternWrite(shape.Offset, shape.Length, values[i])).ToList();
        var result = new PatternWrites(volumeSizeBytes, writes);
        result.CheckDisjoint();
        return result;
    }

    /// <summary>The same offsets and lengths; every other write (from the first) gets a new value not used before.</summary>
    public PatternWrites OverwriteEveryOther()
    {
        var used = Writes.Select(w => w.Value).ToHashSet();
        var fresh = Enumerable.Range(0x10, 0xF0 - 0x10).Select(v => (byte)v).Where(v => !used.Contains(v)).GetEnumerator();
        var writes = Writes.Select((w, i) =>
        {
            if (i % 2 != 0)
            {
                return w;
            }

            return fresh.MoveNext() ? w with { Value = fresh.Current } : throw new InvalidOperationException("Ran out of pattern values.");
        }).ToList();
        return new PatternWrites(VolumeSizeBytes, writes);
    }

    /// <summary>The writes this set has and <paramref name="before"/> did not (by value): what an overwrite round sends.</summary>
    public IEnumerable<PatternWrite> ChangedSince(PatternWrites before)
    {
        ArgumentNullException.ThrowIfNull(before);
        return Writes.Where((w, i) => w.Value != before.Writes[i].Value);
    }

    public IEnumerable<string> WriteCommands => Writes.Select(w => w.WriteCommand);

    /// <summary>`read -P` of every write, and of the byte just before and after each (must still be zero).</summary>
    public IEnumerable<string> VerifyCommands
    {
        get
        {
            foreach (var write in Writes)
            {
                yield return write.ReadCommand;
                if (write.Offset > 0)
                {
                    yield return string.Create(CultureInfo.InvariantCulture, $"read -P 0 {write.Offset - 1} 1");
                }

                if (write.End < VolumeSizeBytes)
                {
                    yield return string.Create(CultureInfo.InvariantCulture, $"read -P 0 {write.End} 1");
                }
            }
        }
    }

    /// <summary>A run of each pattern byte long enough to mean "plaintext at rest" if found (writes shorter than the run are left out).</summary>
    public IReadOnlyList<byte[]> ScanPatterns =>
        [.. Writes.Where(w => w.Length >= ScanRunBytes).Select(w => w.Value).Distinct().Select(v => Enumerable.Repeat(v, ScanRunBytes).ToArray())];

    private void CheckDisjoint()
    {
        var ordered = Writes.OrderBy(w => w.Offset).ToList();
        for (var i = 0; i < ordered.Count; i++)
        {
            if (ordered[i].Offset < 0 || ordered[i].End > VolumeSizeBytes || (i > 0 && ordered[i - 1].End >= ordered[i].Offset))
            {
                throw new InvalidOperationException($"Pattern writes overlap, touch or leave the volume near {ordered[i]}.");
            }
        }
    }
}
