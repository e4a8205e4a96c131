// Key check value: lets the store refuse a wrong data key instead of serving garbage (or, worse,
// writing ciphertext under a second key into the same volume). HMAC-SHA256 over a fixed label:
// with a 512-bit random key it reveals nothing usable about the key.
using System.Security.Cryptography;
using Ironclad.Crypto.Keys;

namespace Ironclad.Storage.Volumes;

internal static class KeyCheck
{
    private static ReadOnlySpan<byte> Label => "Ironclad.Storage key check v1"u8;

    public static byte[] Compute(DataKey key)
    {
        var result = new byte[VolumeRecord.KeyCheckBytes];
        key.UseBytes(result, static (keyBytes, output) => HMACSHA256.HashData(keyBytes, Label, output));
        return result;
    }

    public static bool Matches(DataKey key, byte[] expected) =>
        CryptographicOperations.FixedTimeEquals(Compute(key), expected);
}
