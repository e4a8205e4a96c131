// Shared plumbing for storage tests: a temp store directory, a data key, and comparisons that
// report the first differing byte instead of dumping megabytes.
using Ironclad.Crypto.Keys;
using Ironclad.Testing;

namespace Ironclad.Storage.Tests;

internal sealed class StorageTestContext : IDisposable
{
    public StorageTestContext(VolumeStoreOptions? options = null)
    {
        Options = options ?? new VolumeStoreOptions();
        Store = VolumeStore.Open(Directory.Path, Options);
    }

    public TempDirectory Directory { get; } = new("ironclad-storage");

    public VolumeStoreOptions Options { get; }

    public DataKey Key { get; } = DataKey.Generate();

    public VolumeStore Store { get; private set; }

    public void Reopen()
    {
        Store.Dispose();
        Store = VolumeStore.Open(Directory.Path, Options);
    }

    public static void AssertSameBytes(ReadOnlySpan<byte> expected, ReadOnlySpan<byte> actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        var mismatch = expected.CommonPrefixLength(actual);
        if (mismatch != expected.Length)
        {
            Assert.Fail($"{what}: first difference at byte {mismatch} (expected 0x{expected[mismatch]:x2}, got 0x{actual[mismatch]:x2}).");
        }
    }

    public static void AssertMatchesModel(Volume volume, ReferenceVolume model, string what)
    {
        Assert.Equal(model.SizeBytes, volume.SizeBytes);
        var chunk = 1 << 20;
        var expected = new byte[chunk];
        var actual = new byte[chunk];
        for (long offset = 0; offset < model.SizeBytes; offset += chunk)
        {
            var n = (int)Math.Min(chunk, model.SizeBytes - offset);
            model.Read(offset, expected.AsSpan(0, n));
            volume.Read(offset, actual.AsSpan(0, n));
            AssertSameBytes(expected.AsSpan(0, n), actual.AsSpan(0, n), $"{what} at offset {offset}");
        }
    }

    public void Dispose()
    {
        Store.Dispose();
        Key.Dispose();
        Directory.Dispose();
    }
}
