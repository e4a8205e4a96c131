// EME-OAEP decoding (RFC 8017 §7.1.2 step 3) of a raw RSA result, for tokens that do OAEP with SHA-1
// only (SoftHSM2 2.6.1): the token does the private-key operation (CKM_RSA_X_509), this does the
// unpadding. Invariant: constant time in the secret data — every byte is examined whatever the
// padding holds, there is one failure result for every kind of bad padding, and the caller turns
// it into one error (no Manger-style oracle from messages or timing).
using System.Security.Cryptography;

namespace Ironclad.KeyVault.Protection;

internal static class Pkcs11OaepDecoder
{
    /// <summary>Decodes <paramref name="encoded"/> (k bytes, the RSA result left-padded to the modulus length); null for any bad padding.</summary>
    public static byte[]? TryDecode(ReadOnlySpan<byte> encoded, HashAlgorithmName hash, ReadOnlySpan<byte> label)
    {
        var hashLength = HashLength(hash);
        var k = encoded.Length;
        if (k < (2 * hashLength) + 2)
        {
            // Depends only on the (public) modulus length.
            return null;
        }

        Span<byte> labelHash = stackalloc byte[hashLength];
        CryptographicOperations.HashData(hash, label, labelHash);

        var maskedSeed = encoded.Slice(1, hashLength);
        var maskedDb = encoded[(1 + hashLength)..];
        var seed = new byte[hashLength];
        var db = new byte[maskedDb.Length];
        try
        {
            Mgf1(hash, maskedDb, seed);
            Xor(seed, maskedSeed);
            Mgf1(hash, seed, db);
            Xor(db, maskedDb);

            // good is all ones while the padding is valid, all zeros once anything is wrong.
            var good = IsZero(encoded[0]);
            good &= -(CryptographicOperations.FixedTimeEquals(db.AsSpan(0, hashLength), labelHash) ? 1 : 0);

            // After lHash: zero or more 0x00, then 0x01, then the message. Scan every byte.
            var lookingForOne = -1;
            var messageStart = 0;
            for (var i = hashLength; i < db.Length; i++)
            {
                var b = db[i];
                var isOne = IsZero(b ^ 0x01);
                var isZero = IsZero(b);
                messageStart |= lookingForOne & isOne & (i + 1);
                // A byte other than 0x00 before the 0x01 is bad padding.
                good &= ~lookingForOne | isOne | isZero;
                lookingForOne &= ~isOne;
            }

            // No 0x01 at all is bad padding.
            good &= ~lookingForOne;
            if (good != -1)
            {
                return null;
            }

            return db.AsSpan(messageStart).ToArray();
        }
        finally
        {
            CryptographicOperations.ZeroMemory(seed);
            CryptographicOperations.ZeroMemory(db);
        }
    }

    private static int HashLength(HashAlgorithmName hash) =>
        hash == HashAlgorithmName.SHA256 ? 32
        : hash == HashAlgorithmName.SHA384 ? 48
        : hash == HashAlgorithmName.SHA512 ? 64
        : hash == HashAlgorithmName.SHA1 ? 20
        : throw new ArgumentOutOfRangeException(nameof(hash), hash.Name, "Unsupported OAEP hash.");

    /// <summary>-1 (all ones) when <paramref name="value"/> (0..255) is 0, else 0; no branch.</summary>
    private static int IsZero(int value) => -(int)(((uint)value - 1) >> 31);

    private static void Xor(Span<byte> target, ReadOnlySpan<byte> mask)
    {
        for (var i = 0; i < target.Length; i++)
        {
            target[i] ^= mask[i];
        }
    }

    /// <summary>MGF1 (RFC 8017 §B.2.1): fills <paramref name="output"/> with the mask of <paramref name="seed"/>.</summary>
    private static void Mgf1(HashAlgorithmName hash, ReadOnlySpan<byte> seed, Span<byte> output)
    {
        var hashLength = HashLength(hash);
        var input = new byte[seed.Length + 4];
        var block = new byte[hashLength];
        try
        {
            seed.CopyTo(input);
            var counter = 0u;
            for (var offset = 0; offset < output.Length; offset += hashLength, counter++)
            {
                System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(input.AsSpan(seed.Length), counter);
                CryptographicOperations.HashData(hash, input, block);
                block.AsSpan(0, Math.Min(hashLength, output.Length - offset)).CopyTo(output[offset..]);
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(input);
            CryptographicOperations.ZeroMemory(block);
        }
    }
}
