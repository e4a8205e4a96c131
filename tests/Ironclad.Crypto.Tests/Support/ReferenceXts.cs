// A literal, slow transcription of XTS-AES (IEEE 1619-2007 §5.2, §5.3.1, §5.4.1): one AES call per
// block through System.Security.Cryptography and the byte-wise multiplication by α of §5.2.
// Invariant: shares no code with XtsAes256 and none of OpenSSL's XTS code, so it is a third opinion.
using System.Security.Cryptography;

namespace Ironclad.Crypto.Tests.Support;

internal static class ReferenceXts
{
    public static byte[] Transform(bool encrypt, ReadOnlySpan<byte> key, UInt128 tweakValue, ReadOnlySpan<byte> input)
    {
        Assert.Equal(64, key.Length);
        Assert.True(input.Length % 16 == 0 && input.Length > 0, "whole blocks only");
        using var key1 = Aes.Create();
        key1.Key = key[..32].ToArray();
        using var key2 = Aes.Create();
        key2.Key = key[32..].ToArray();

        // §5.3.1 step 1: T = AES-enc(Key2, i) ⊗ α^j, i as a 16-byte little-endian integer.
        var i = new byte[16];
        BitConverter.TryWriteBytes(i.AsSpan(0, 8), unchecked((ulong)tweakValue));
        BitConverter.TryWriteBytes(i.AsSpan(8, 8), unchecked((ulong)(tweakValue >> 64)));
        var t = key2.EncryptEcb(i, PaddingMode.None);

        var output = new byte[input.Length];
        var block = new byte[16];
        for (var offset = 0; offset < input.Length; offset += 16)
        {
            for (var k = 0; k < 16; k++)
            {
                block[k] = (byte)(input[offset + k] ^ t[k]); // step 2: PP = P ⊕ T
            }

            var transformed = encrypt ? key1.EncryptEcb(block, PaddingMode.None) : key1.DecryptEcb(block, PaddingMode.None); // step 3
            for (var k = 0; k < 16; k++)
            {
                output[offset + k] = (byte)(transformed[k] ^ t[k]); // step 4: C = CC ⊕ T
            }

            MultiplyByAlpha(t);
        }

        return output;
    }

    // §5.2: a[0] = (2·a[0]) mod 256 ⊕ (135·⌊a[15]/128⌋); a[k] = (2·a[k]) mod 256 ⊕ ⌊a[k−1]/128⌋.
    private static void MultiplyByAlpha(byte[] a)
    {
        var carryOut = a[15] >> 7;
        for (var k = 15; k > 0; k--)
        {
            a[k] = (byte)((a[k] << 1) ^ (a[k - 1] >> 7));
        }

        a[0] = (byte)((a[0] << 1) ^ (135 * carryOut));
    }
}
