// AES-256-GCM sealing (Ironclad.Crypto.Sealing): round trip, and refusal of a tampered blob, the
// wrong associated data or the wrong root key; the root key file is 32 bytes, 0600, stable.
using System.Text;
using Ironclad.Crypto.Sealing;
using Ironclad.Testing;

namespace Ironclad.Identity.Tests.Sealing;

public sealed class SealerTests
{
    [Fact]
    public void Sealed_data_opens_only_with_the_same_key_and_associated_data_and_untampered()
    {
        var seed = Seeds.FromEnvironmentOrRandom(TestContext.Current.TestOutputHelper);
        var random = new Random(seed);
        var key = new byte[32];
        random.NextBytes(key);
        var plaintext = new byte[random.Next(0, 300)];
        random.NextBytes(plaintext);
        using var sealer = new Sealer(key);
        var aad = Encoding.UTF8.GetBytes("kid-1");
        var blob = sealer.Seal(plaintext, aad);

        Assert.True(sealer.TryUnseal(blob, aad, out var opened));
        Assert.Equal(plaintext, opened);
        Assert.False(sealer.TryUnseal(blob, Encoding.UTF8.GetBytes("kid-2"), out _));

        var tampered = (byte[])blob.Clone();
        tampered[random.Next(1, tampered.Length)] ^= 0x01;
        Assert.False(sealer.TryUnseal(tampered, aad, out _));
        Assert.False(sealer.TryUnseal(blob.AsSpan(0, 10), aad, out _));

        key[0] ^= 0xff;
        using var other = new Sealer(key);
        Assert.False(other.TryUnseal(blob, aad, out _));
    }

    [Fact]
    public void Root_key_file_is_created_once_owner_only_and_reused()
    {
        using var directory = new TempDirectory("ironclad-sealing-tests");
        var path = directory.Combine("keys", "root.key");
        byte[] blob;
        using (var sealer = SealingKeyFile.LoadOrCreate(path))
        {
            blob = sealer.Seal([1, 2, 3], []);
        }

        Assert.Equal(32, new FileInfo(path).Length);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }

        using var reopened = SealingKeyFile.LoadOrCreate(path);
        Assert.True(reopened.TryUnseal(blob, [], out var plaintext));
        Assert.Equal([1, 2, 3], plaintext);

        File.WriteAllBytes(path, new byte[31]);
        Assert.Throws<InvalidDataException>(() => SealingKeyFile.LoadOrCreate(path));
    }

    [Fact]
    public async Task One_sealer_seals_and_unseals_from_many_threads_at_once()
    {
        // AesGcm instances are not thread-safe; before Sealer serialised them, parallel unseals of
        // the vault's keys after a restart failed authentication now and then.
        var seed = Seeds.FromEnvironmentOrRandom(TestContext.Current.TestOutputHelper);
        var random = new Random(seed);
        var key = new byte[32];
        random.NextBytes(key);
        using var sealer = new Sealer(key);
        var plaintexts = Enumerable.Range(0, 16).Select(_ =>
        {
            var bytes = new byte[random.Next(1, 2000)];
            random.NextBytes(bytes);
            return bytes;
        }).ToArray();
        var blobs = plaintexts.Select((p, i) => sealer.Seal(p, BitConverter.GetBytes(i))).ToArray();

        var workers = Enumerable.Range(0, 8).Select(worker => Task.Run(() =>
        {
            for (var round = 0; round < 2000; round++)
            {
                var i = (worker + round) % plaintexts.Length;
                Assert.True(sealer.TryUnseal(blobs[i], BitConverter.GetBytes(i), out var opened), $"unseal failed (seed {seed})");
                Assert.Equal(plaintexts[i], opened);
                var again = sealer.Seal(plaintexts[i], BitConverter.GetBytes(i));
                Assert.True(sealer.TryUnseal(again, BitConverter.GetBytes(i), out _), $"fresh seal failed (seed {seed})");
            }
        }, TestContext.Current.CancellationToken));
        await Task.WhenAll(workers);
    }
}
