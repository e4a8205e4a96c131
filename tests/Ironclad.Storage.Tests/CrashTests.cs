// Crash test: a child process runs a seeded workload (writes, trims, zeroes, flushes, FUA writes,
// snapshots, clones, deletes) and reports what is durable; we SIGKILL it at a random moment,
// reopen the store, and check that every durable write survived, that every 4 KiB unit holds a
// value it legitimately had, and that every surviving snapshot is exactly its point in time.
using System.Diagnostics;
using System.Security.Cryptography;
using Ironclad.Crypto.Keys;
using Ironclad.Testing;
using Ironclad.Testing.Storage;

namespace Ironclad.Storage.Tests;

public sealed class CrashTests
{
    private const int UnitSize = 4096;
    private const int OperationCount = 4000;

    public static TheoryData<int> Rounds()
    {
        var rounds = int.TryParse(Environment.GetEnvironmentVariable("IRONCLAD_CRASH_ROUNDS"), out var n) ? n : 50;
        var data = new TheoryData<int>();
        for (var i = 0; i < rounds; i++)
        {
            data.Add(i);
        }

        return data;
    }

    [Theory]
    [Trait("Category", "Simulation")]
    [MemberData(nameof(Rounds))]
    public async Task Killed_worker_leaves_every_durable_write_and_a_consistent_store(int round)
    {
        var baseSeed = Seeds.FromEnvironmentOrRandom();
        var seed = unchecked(baseSeed + (round * 7919));
        TestContext.Current.TestOutputHelper?.WriteLine($"round {round}: workload seed {seed}");
        var random = new Random(seed);
        using var directory = new TempDirectory("ironclad-crash");
        var storeDirectory = directory.Combine("store");

        var lines = new List<string>();
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var process = StartWorker(storeDirectory, seed);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            lock (lines)
            {
                lines.Add(e.Data);
            }

            if (e.Data == "ready")
            {
                ready.TrySetResult();
            }
        };
        var stderr = new System.Text.StringBuilder();
        process.ErrorDataReceived += (_, e) => stderr.AppendLine(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var started = await Task.WhenAny(ready.Task, process.WaitForExitAsync(TestContext.Current.CancellationToken), Task.Delay(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken));
        Assert.True(ready.Task.IsCompleted, $"worker did not become ready (exit {(process.HasExited ? process.ExitCode : -1)}): {stderr}");
        await Task.Delay(random.Next(0, 1200), TestContext.Current.CancellationToken);
        process.Kill();
        await process.WaitForExitAsync(TestContext.Current.CancellationToken);
        await Task.Delay(50, TestContext.Current.CancellationToken); // let the last output lines drain

        string[] reported;
        lock (lines)
        {
            reported = [.. lines];
        }

        Assert.DoesNotContain(reported, l => l.StartsWith("Unhandled", StringComparison.Ordinal));
        var begun = reported.Where(l => l.StartsWith("begin ", StringComparison.Ordinal)).Select(l => int.Parse(l["begin ".Length..], System.Globalization.CultureInfo.InvariantCulture)).DefaultIfEmpty(-1).Max();
        var durable = reported.Where(l => l.StartsWith("durable ", StringComparison.Ordinal)).Select(l => int.Parse(l["durable ".Length..], System.Globalization.CultureInfo.InvariantCulture)).DefaultIfEmpty(-1).Max();
        TestContext.Current.TestOutputHelper?.WriteLine($"killed after durable op {durable}, op {begun} begun; finished={reported.Contains("finished")}");

        var verifying = Stopwatch.StartNew();
        Verify(storeDirectory, seed, durable, begun);
        TestContext.Current.TestOutputHelper?.WriteLine($"verified in {verifying.ElapsedMilliseconds} ms");
    }

    /// <param name="begun">Highest operation the worker started; later ones never ran.</param>
    private static void Verify(string storeDirectory, int seed, int durable, int begun)
    {
        var ops = CrashWorkload.Generate(seed, OperationCount).Take(begun + 1).ToList();
        var unitCount = (int)(CrashWorkload.VolumeSizeBytes / UnitSize);
        var images = new byte[][] { new byte[CrashWorkload.VolumeSizeBytes], new byte[CrashWorkload.VolumeSizeBytes] };
        var candidates = new[] { NewSets(unitCount), NewSets(unitCount) };
        var snapshotHashes = new Dictionary<int, ulong[]>();
        var cloneSource = ops.FirstOrDefault(o => o.Kind == CrashOpKind.Clone)?.Snapshot ?? -1;
        byte[]? cloneSourceContent = null;
        var snapshotState = new Dictionary<int, string>(); // "must", "may", "mustNot"
        var cloneState = "mustNot";

        if (durable < 0)
        {
            AddAll(candidates[0], images[0]);
        }

        var buffer = new byte[256 * 1024];
        foreach (var op in ops)
        {
            var after = op.Index > durable;
            var image = images[op.Target];
            switch (op.Kind)
            {
                case CrashOpKind.Write:
                case CrashOpKind.WriteFua:
                    CrashWorkload.FillData(op.DataSeed, buffer.AsSpan(0, op.LengthBytes));
                    buffer.AsSpan(0, op.LengthBytes).CopyTo(image.AsSpan((int)op.OffsetBytes));
                    break;
                case CrashOpKind.Trim:
                    var first = (op.OffsetBytes + UnitSize - 1) / UnitSize;
                    var end = (op.OffsetBytes + op.LengthBytes) / UnitSize;
                    if (end > first)
                    {
                        image.AsSpan((int)(first * UnitSize), (int)((end - first) * UnitSize)).Clear();
                    }

                    break;
                case CrashOpKind.Zero:
                    image.AsSpan((int)op.OffsetBytes, op.LengthBytes).Clear();
                    break;
                case CrashOpKind.Snapshot:
                    snapshotHashes[op.Snapshot] = [.. Enumerable.Range(0, unitCount).Select(u => UnitHash(images[0], u))];
                    if (op.Snapshot == cloneSource)
                    {
                        cloneSourceContent = (byte[])images[0].Clone();
                    }

                    snapshotState[op.Snapshot] = after ? "may" : "must";
                    break;
                case CrashOpKind.DeleteSnapshot:
                    snapshotState[op.Snapshot] = after ? "may" : "mustNot";
                    break;
                case CrashOpKind.Clone:
                    cloneSourceContent!.CopyTo(images[1], 0);
                    cloneState = after ? "may" : "must";
                    if (after)
                    {
                        AddAll(candidates[1], images[1]);
                    }

                    break;
            }

            if (op.Index == durable)
            {
                AddAll(candidates[0], images[0]);
                AddAll(candidates[1], images[1]);
            }
            else if (after && op.Kind is CrashOpKind.Write or CrashOpKind.WriteFua or CrashOpKind.Trim or CrashOpKind.Zero)
            {
                var firstUnit = (int)(op.OffsetBytes / UnitSize);
                var lastUnit = (int)((op.OffsetBytes + op.LengthBytes - 1) / UnitSize);
                for (var u = firstUnit; u <= lastUnit; u++)
                {
                    candidates[op.Target][u].Add(UnitHash(image, u));
                }
            }
        }

        using var store = VolumeStore.Open(storeDirectory, new VolumeStoreOptions { BackgroundMaintenance = false });
        using var key = DataKey.FromBytes(CrashWorkload.KeyBytes(seed));
        var ids = new[] { CrashWorkload.BaseVolumeId(seed), CrashWorkload.CloneVolumeId(seed) };
        var readBack = new byte[CrashWorkload.VolumeSizeBytes];
        for (var target = 0; target < 2; target++)
        {
            var exists = store.Find(ids[target]) is not null;
            var expectation = target == 0 ? "must" : cloneState;
            CheckExistence(expectation, exists, target == 0 ? "base volume" : "clone");
            if (!exists)
            {
                continue;
            }

            using var volume = store.OpenVolume(ids[target], key);
            volume.Read(0, readBack);
            for (var u = 0; u < unitCount; u++)
            {
                Assert.True(
                    candidates[target][u].Contains(UnitHash(readBack, u)),
                    $"seed {seed}: {(target == 0 ? "base" : "clone")} unit {u} holds a value it never legitimately had (durable through op {durable})");
            }

            CheckRangesCoverData(volume, readBack, seed);
        }

        foreach (var (number, state) in snapshotState)
        {
            var exists = store.Find(CrashWorkload.SnapshotId(seed, number)) is not null;
            CheckExistence(state, exists, $"snapshot {number}");
            if (exists)
            {
                using var snapshot = store.OpenVolume(CrashWorkload.SnapshotId(seed, number), key);
                snapshot.Read(0, readBack);
                for (var u = 0; u < unitCount; u++)
                {
                    Assert.True(snapshotHashes[number][u] == UnitHash(readBack, u), $"seed {seed}: snapshot {number} unit {u} differs from its point in time");
                }
            }
        }

        // The recovered store is fully usable: write, collect, reopen cleanly.
        using (var volume = store.OpenVolume(ids[0], key))
        {
            volume.Write(0, new byte[UnitSize * 3], WriteOptions.Fua);
        }

        store.CollectGarbage();
        Assert.Equal(0, store.Statistics.PendingFreeClusters);

        void CheckExistence(string expectation, bool exists, string what)
        {
            if (expectation == "must")
            {
                Assert.True(exists, $"seed {seed}: {what} was durable but is missing");
            }
            else if (expectation == "mustNot")
            {
                Assert.False(exists, $"seed {seed}: {what} was durably deleted (or never created) but exists");
            }
        }
    }

    private static void CheckRangesCoverData(Volume volume, byte[] content, int seed)
    {
        var ranges = volume.GetAllocatedRanges(0, volume.SizeBytes);
        var covered = new bool[content.Length / UnitSize];
        foreach (var range in ranges)
        {
            for (var u = range.OffsetBytes / UnitSize; u < (range.OffsetBytes + range.LengthBytes) / UnitSize; u++)
            {
                covered[u] = true;
            }
        }

        for (var u = 0; u < covered.Length; u++)
        {
            Assert.True(covered[u] || content.AsSpan(u * UnitSize, UnitSize).IndexOfAnyExcept((byte)0) < 0, $"seed {seed}: unit {u} has data outside the allocated ranges");
        }
    }

    private static HashSet<ulong>[] NewSets(int count) => [.. Enumerable.Range(0, count).Select(_ => new HashSet<ulong>())];

    private static void AddAll(HashSet<ulong>[] sets, byte[] image)
    {
        for (var u = 0; u < sets.Length; u++)
        {
            sets[u].Add(UnitHash(image, u));
        }
    }

    private static ulong UnitHash(byte[] image, int unit)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(image.AsSpan(unit * UnitSize, UnitSize), hash);
        return BitConverter.ToUInt64(hash);
    }

    private static Process StartWorker(string storeDirectory, int seed)
    {
        var worker = FindWorker();
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(worker);
        start.ArgumentList.Add(storeDirectory);
        start.ArgumentList.Add(seed.ToString(System.Globalization.CultureInfo.InvariantCulture));
        start.ArgumentList.Add(OperationCount.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return Process.Start(start) ?? throw new InvalidOperationException("crash worker did not start");
    }

    private static string FindWorker()
    {
        // artifacts/bin/Ironclad.Storage.Tests/<config>/ -> artifacts/bin/Ironclad.Storage.CrashWorker/<config>/
        var testDirectory = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var configuration = testDirectory.Name;
        var binRoot = testDirectory.Parent!.Parent!.FullName;
        var path = Path.Combine(binRoot, "Ironclad.Storage.CrashWorker", configuration, "Ironclad.Storage.CrashWorker.dll");
        Assert.True(File.Exists(path), $"crash worker not built at {path}");
        return path;
    }
}
