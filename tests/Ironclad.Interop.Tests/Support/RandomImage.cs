// A local raw image of seeded random bytes (the "disk" copied into and out of an export) and the
// SHA-256 comparisons the copy tests make. Random bytes have no zero runs, so no client can skip
// any of it as sparse, and a slice of it is a fingerprint the plaintext scan can look for.
using System.Security.Cryptography;

namespace Ironclad.Interop.Tests.Support;

internal sealed class RandomImage
{
    private RandomImage(string path, byte[] bytes)
    {
        Path = path;
        Bytes = bytes;
    }

    public string Path { get; }

    public byte[] Bytes { get; }

    public long LengthBytes => Bytes.LongLength;

    /// <summary>Writes <paramref name="lengthBytes"/> bytes from <c>new Random(seed)</c> to <paramref name="path"/>.</summary>
    public static RandomImage Create(string path, int lengthBytes, int seed)
    {
        var bytes = new byte[lengthBytes];
        new Random(seed).NextBytes(bytes);
        File.WriteAllBytes(path, bytes);
        return new RandomImage(path, bytes);
    }

    /// <summary>SHA-256 of the image followed by zeros up to <paramref name="totalLengthBytes"/>: what a copy of the whole export must hash to.</summary>
    public string Sha256PaddedTo(long totalLengthBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(totalLengthBytes, LengthBytes);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Bytes);
        var zeros = new byte[1 << 20];
        for (var remaining = totalLengthBytes - LengthBytes; remaining > 0; remaining -= zeros.Length)
        {
            hash.AppendData(zeros, 0, (int)Math.Min(zeros.Length, remaining));
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary><paramref name="count"/> slices of <paramref name="lengthBytes"/> at seeded offsets: what must not appear at rest.</summary>
    public IReadOnlyList<byte[]> Samples(int count, int lengthBytes, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(_ =>
        {
            var offset = random.NextInt64(0, LengthBytes - lengthBytes);
            return Bytes.AsSpan((int)offset, lengthBytes).ToArray();
        })];
    }

    /// <summary>Fails unless <paramref name="path"/> starts with exactly this image's bytes (what follows is not looked at).</summary>
    public async Task AssertIsPrefixOfAsync(string path, CancellationToken cancellationToken = default)
    {
        var prefix = new byte[LengthBytes];
        await using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.Asynchronous))
        {
            var read = await stream.ReadAtLeastAsync(prefix, prefix.Length, throwOnEndOfStream: false, cancellationToken);
            Assert.True(read == prefix.Length, $"{path} has only {read} bytes, fewer than the {prefix.Length} of {Path}");
        }

        var same = prefix.AsSpan().CommonPrefixLength(Bytes);
        Assert.True(same == prefix.Length, $"{path} differs from {Path} first at byte {same}");
    }

    public static async Task<string> Sha256OfFileAsync(string path, CancellationToken cancellationToken = default)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan | FileOptions.Asynchronous);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancellationToken));
    }
}
