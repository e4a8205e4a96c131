// Randomised agreement with OpenSSL's AES-256-XTS (and the textbook reference) on keys, data and
// unit indexes drawn from a printed seed (IRONCLAD_SEED replays it), including indexes near 2^64.
// Invariant: XtsAes256 is byte-for-byte OpenSSL's aes-256-xts with IV = the unit index, little-endian.
using Ironclad.Crypto.Keys;
using Ironclad.Crypto.Tests.Support;
using Ironclad.Crypto.Xts;
using Ironclad.Testing;

namespace Ironclad.Crypto.Tests.Xts;

public sealed class OpenSslCrossCheckTests
{
    private const int RoundCount = 40;
    private const int UnitCountMax = 16;

    [Fact]
    public void Encrypt_and_decrypt_match_OpenSSL_on_random_spans()
    {
        LibCryptoXts.Require();
        var seed = Seeds.FromEnvironmentOrRandom();
        var random = new Random(seed);
        for (var round = 0; round < RoundCount; round++)
        {
            var keyBytes = RandomKey(random);
            var unitCount = random.Next(1, UnitCountMax + 1);
            var firstUnitIndex = RandomUnitIndex(random, unitCount);
            var plaintext = new byte[unitCount * DataUnit.SizeBytes];
            random.NextBytes(plaintext);
            var context = $"seed={seed} round={round} units={unitCount} firstUnitIndex={firstUnitIndex}";

            var expected = new byte[plaintext.Length];
            LibCryptoXts.TransformUnits(encrypt: true, keyBytes, plaintext, expected, firstUnitIndex);
            using var key = DataKey.FromBytes(keyBytes);
            using var cipher = new XtsAes256(key);
            var actual = new byte[plaintext.Length];
            cipher.Encrypt(plaintext, actual, firstUnitIndex);
            ByteAssert.Equal(expected, actual, $"encrypt, {context}");

            var decrypted = new byte[plaintext.Length];
            LibCryptoXts.TransformUnits(encrypt: false, keyBytes, actual, decrypted, firstUnitIndex);
            ByteAssert.Equal(plaintext, decrypted, $"OpenSSL decrypting ours, {context}");
            cipher.Decrypt(expected, actual, firstUnitIndex);
            ByteAssert.Equal(plaintext, actual, $"decrypting OpenSSL's, {context}");
        }
    }

    [Fact]
    public void Data_units_of_any_block_count_and_tweak_match_OpenSSL_and_the_reference()
    {
        LibCryptoXts.Require();
        var seed = Seeds.FromEnvironmentOrRandom();
        var random = new Random(seed);

        // 1-40 blocks covers the partial-batch tail (< 8 blocks) after 0 to 5 whole batches.
        var blockCounts = Enumerable.Range(1, 40).Concat([255, 256, 257, random.Next(258, 4096)]);
        foreach (var blockCount in blockCounts)
        {
            var keyBytes = RandomKey(random);
            var iv = new byte[16];
            random.NextBytes(iv);
            var tweak = new UInt128(BitConverter.ToUInt64(iv, 8), BitConverter.ToUInt64(iv, 0));
            var plaintext = new byte[blockCount * 16];
            random.NextBytes(plaintext);
            var context = $"seed={seed} blocks={blockCount} tweak=0x{tweak:x}";

            var expected = new byte[plaintext.Length];
            LibCryptoXts.TransformDataUnit(encrypt: true, keyBytes, iv, plaintext, expected);
            ByteAssert.Equal(expected, ReferenceXts.Transform(encrypt: true, keyBytes, tweak, plaintext), $"reference vs OpenSSL, {context}");

            using var key = DataKey.FromBytes(keyBytes);
            using var cipher = new XtsAes256(key);
            var actual = new byte[plaintext.Length];
            cipher.EncryptDataUnit(plaintext, actual, tweak);
            ByteAssert.Equal(expected, actual, $"encrypt, {context}");
            cipher.DecryptDataUnit(actual, actual, tweak);
            ByteAssert.Equal(plaintext, actual, $"decrypt, {context}");
        }
    }

    private static byte[] RandomKey(Random random)
    {
        var key = new byte[DataKey.SizeBytes];
        do
        {
            random.NextBytes(key);
        }
        while (key.AsSpan(0, 32).SequenceEqual(key.AsSpan(32)));
        return key;
    }

    // Mixes small indexes, arbitrary 64-bit ones, byte-carry boundaries and spans ending at 2^64 - 1.
    private static ulong RandomUnitIndex(Random random, int unitCount)
    {
        var lastStart = ulong.MaxValue - (ulong)(unitCount - 1);
        return random.Next(5) switch
        {
            0 => (ulong)random.Next(0, 1024),
            1 => unchecked((ulong)random.NextInt64(long.MinValue, long.MaxValue)),
            2 => (1UL << (8 * random.Next(1, 8))) - (ulong)random.Next(1, unitCount + 1),
            3 => lastStart - (ulong)random.Next(0, 4),
            _ => lastStart,
        };
    }
}
