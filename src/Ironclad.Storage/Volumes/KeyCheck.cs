// Key check value: lets the store refuse a wrong data key instead of serving garbage (or, worse,
// writing ciphertext under a second key into the same volume). HMAC-SHA256 over a fixed label:
// with a 512-bit random key it reveals nothing usable about the key.
using System.Security.Cryptography;
using Ironclad.Crypto.Keys;

namespace Ironclad.Storage.Volumes;

internal static class KeyCheck
{
    private static ReadOnlySpan<byte> Label => "Ironclad.Storage key check v1"u8;

    private static ReadOnlySpan<byte> LayeredLabel => "Ironclad.Storage layered key check v1"u8;

    /// <summary>The check of a single key, or of an (inner, outer) pair: HMAC(inner, label2 || check(outer)).</summary>
    public static byte[] Compute(DataKey key, DataKey? outerKey = null)
    {
        var result = new byte[VolumeRecord.KeyCheckBytes];
        key.UseBytes(result, static (keyBytes, output) => HMACSHA256.HashData(keyBytes, Label, output));
        if (outerKey is null)
        {
            return result;
        }

        var outerCheck = Compute(outerKey);
        var message = new byte[LayeredLabel.Length + outerCheck.Length];
        LayeredLabel.CopyTo(message);
        outerCheck.CopyTo(message, LayeredLabel.Length);
        key.UseBytes((message, result), static (keyBytes, state) => HMACSHA256.HashData(keyBytes, state.message, state.result));
        return result;
    }

    public static bool Matches(DataKey key, DataKey? outerKey, byte[] expected) =>
        CryptographicOperations.FixedTimeEquals(Compute(key, outerKey), expected);
}
