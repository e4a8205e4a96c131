// Volume I/O through the storage engine with the real XTS-AES-256 cipher against a null cipher in
// the same run: the ratio of the two is the cost of encryption on the data path.
// Cache=warm: data stays in the page cache (CPU-bound; the worst case for the cipher, since
// memcpy runs at 10+ GB/s and XTS at ~5 GB/s on one core). Cache=cold: sequential reads start with
// the cluster file evicted (posix_fadvise DONTNEED) and sequential writes end with a flush, so the
// device is in the loop, as it is for a disk.
// Run (from the repository root): dotnet run -c Release --project bench/Ironclad.Benchmarks -- --filter '*VolumeBenchmarks*'
using BenchmarkDotNet.Attributes;
using Ironclad.Crypto.Keys;
using Ironclad.Crypto.Xts;
using Ironclad.Storage;

namespace Ironclad.Benchmarks.Storage;

[MemoryDiagnoser]
public class VolumeBenchmarks
{
    private const long VolumeSizeBytes = 256L << 20;
    private const int SequentialChunkBytes = 1 << 20;
    private const int RandomBlockBytes = 4096;
    private const int RandomOperations = 2048;

    private string _directory = "";
    private VolumeStore _store = null!;
    private DataKey _key = null!;
    private XtsAes256? _xts;
    private Volume _volume = null!;
    private byte[] _buffer = null!;
    private long[] _randomOffsets = null!;

    [Params("xts-aes-256", "null")]
    public string Cipher { get; set; } = "xts-aes-256";

    [Params("warm", "cold")]
    public string Cache { get; set; } = "warm";

    [GlobalSetup]
    public void Setup()
    {
        _directory = Path.Combine(Path.GetTempPath(), $"ironclad-bench-{Guid.NewGuid():N}");
        _store = VolumeStore.Open(_directory, new VolumeStoreOptions { CommitInterval = TimeSpan.FromHours(1) });
        _key = DataKey.Generate();
        var id = Guid.NewGuid();
        _store.CreateVolume(id, VolumeSizeBytes, _key);
        IDataUnitCipher cipher = Cipher == "null" ? new NullCipher() : _xts = new XtsAes256(_key);
        _volume = _store.OpenVolumeWithCipher(id, cipher);
        _buffer = GC.AllocateArray<byte>(SequentialChunkBytes + 4096, pinned: true);
        new Random(1).NextBytes(_buffer);
        for (long offset = 0; offset < VolumeSizeBytes; offset += SequentialChunkBytes)
        {
            _volume.Write(offset, Chunk(SequentialChunkBytes));
        }

        _volume.Flush();
        var random = new Random(2);
        _randomOffsets = [.. Enumerable.Range(0, RandomOperations).Select(_ => random.NextInt64(0, VolumeSizeBytes / RandomBlockBytes) * RandomBlockBytes)];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _volume.Dispose();
        _store.Dispose();
        _xts?.Dispose();
        _key.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [IterationSetup(Targets = [nameof(SequentialRead1MiB)])]
    public void EvictWhenCold()
    {
        if (Cache != "cold")
        {
            return;
        }

        _store.EvictFromPageCache();
    }

    [Benchmark(OperationsPerInvoke = (int)(VolumeSizeBytes / SequentialChunkBytes))]
    public void SequentialWrite1MiB()
    {
        for (long offset = 0; offset < VolumeSizeBytes; offset += SequentialChunkBytes)
        {
            _volume.Write(offset, Chunk(SequentialChunkBytes));
        }

        if (Cache == "cold")
        {
            _volume.Flush();
        }
    }

    [Benchmark(OperationsPerInvoke = (int)(VolumeSizeBytes / SequentialChunkBytes))]
    public void SequentialRead1MiB()
    {
        for (long offset = 0; offset < VolumeSizeBytes; offset += SequentialChunkBytes)
        {
            _volume.Read(offset, Chunk(SequentialChunkBytes));
        }
    }

    [Benchmark(OperationsPerInvoke = RandomOperations)]
    public void RandomWrite4KiB()
    {
        foreach (var offset in _randomOffsets)
        {
            _volume.Write(offset, Chunk(RandomBlockBytes));
        }
    }

    [Benchmark(OperationsPerInvoke = RandomOperations)]
    public void RandomRead4KiB()
    {
        foreach (var offset in _randomOffsets)
        {
            _volume.Read(offset, Chunk(RandomBlockBytes));
        }
    }

    /// <summary>A 4096-byte-aligned slice of the pinned buffer (aligned like the NBD server's buffers).</summary>
    private unsafe Span<byte> Chunk(int length)
    {
        fixed (byte* start = _buffer)
        {
            var skip = (int)((4096 - ((nint)start % 4096)) % 4096);
            return _buffer.AsSpan(skip, length);
        }
    }

    /// <summary>Copies instead of encrypting. Exists only here, to measure what encryption costs.</summary>
    private sealed class NullCipher : IDataUnitCipher
    {
        public void Encrypt(ReadOnlySpan<byte> plaintext, Span<byte> ciphertext, ulong firstUnitIndex) => plaintext.CopyTo(ciphertext);

        public void Decrypt(ReadOnlySpan<byte> ciphertext, Span<byte> plaintext, ulong firstUnitIndex) => ciphertext.CopyTo(plaintext);
    }
}
