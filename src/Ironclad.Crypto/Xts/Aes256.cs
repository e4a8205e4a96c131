// AES-256 on the CPU's AES instructions: key schedule (FIPS-197 §5.2), the decryption schedule of the
// equivalent inverse cipher (FIPS-197 §5.3.5) and one-block encryption for XTS tweaks.
// Invariant: constant time — no table lookups and no branch on key or data; callers check IsSupported.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using X86Aes = System.Runtime.Intrinsics.X86.Aes;

namespace Ironclad.Crypto.Xts;

internal static unsafe class Aes256
{
    /// <summary>14 rounds plus the initial AddRoundKey.</summary>
    internal const int RoundKeyCount = 15;

    internal const int KeySizeBytes = 32;

    internal static bool IsSupported => X86Aes.IsSupported;

    /// <summary>Expands a 32-byte key into <see cref="RoundKeyCount"/> encryption round keys.</summary>
    internal static void ExpandKey(byte* key, Vector128<byte>* roundKeys)
    {
        var even = Sse2.LoadVector128(key);
        var odd = Sse2.LoadVector128(key + 16);
        roundKeys[0] = even;
        roundKeys[1] = odd;

        // KeygenAssist takes its round constant as an immediate, hence the unrolled sequence.
        even = NextEven(even, X86Aes.KeygenAssist(odd, 0x01));
        odd = NextOdd(even, odd);
        roundKeys[2] = even;
        roundKeys[3] = odd;
        even = NextEven(even, X86Aes.KeygenAssist(odd, 0x02));
        odd = NextOdd(even, odd);
        roundKeys[4] = even;
        roundKeys[5] = odd;
        even = NextEven(even, X86Aes.KeygenAssist(odd, 0x04));
        odd = NextOdd(even, odd);
        roundKeys[6] = even;
        roundKeys[7] = odd;
        even = NextEven(even, X86Aes.KeygenAssist(odd, 0x08));
        odd = NextOdd(even, odd);
        roundKeys[8] = even;
        roundKeys[9] = odd;
        even = NextEven(even, X86Aes.KeygenAssist(odd, 0x10));
        odd = NextOdd(even, odd);
        roundKeys[10] = even;
        roundKeys[11] = odd;
        even = NextEven(even, X86Aes.KeygenAssist(odd, 0x20));
        odd = NextOdd(even, odd);
        roundKeys[12] = even;
        roundKeys[13] = odd;
        roundKeys[14] = NextEven(even, X86Aes.KeygenAssist(odd, 0x40));
    }

    /// <summary>Derives the decryption round keys (equivalent inverse cipher) from the encryption ones.</summary>
    internal static void InvertKey(Vector128<byte>* encryptionKeys, Vector128<byte>* decryptionKeys)
    {
        decryptionKeys[0] = encryptionKeys[RoundKeyCount - 1];
        for (var round = 1; round < RoundKeyCount - 1; round++)
        {
            decryptionKeys[round] = X86Aes.InverseMixColumns(encryptionKeys[RoundKeyCount - 1 - round]);
        }

        decryptionKeys[RoundKeyCount - 1] = encryptionKeys[0];
    }

    internal static Vector128<byte> EncryptBlock(Vector128<byte> block, Vector128<byte>* roundKeys)
    {
        block ^= roundKeys[0];
        for (var round = 1; round < RoundKeyCount - 1; round++)
        {
            block = X86Aes.Encrypt(block, roundKeys[round]);
        }

        return X86Aes.EncryptLast(block, roundKeys[RoundKeyCount - 1]);
    }

    // Round keys 2i: previous even key with its words prefix-XORed, plus RotWord(SubWord(w)) ^ Rcon.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<byte> NextEven(Vector128<byte> previousEven, Vector128<byte> assist)
    {
        var rotSubWord = Sse2.Shuffle(assist.AsInt32(), 0xFF).AsByte();
        return PrefixXor(previousEven) ^ rotSubWord;
    }

    // Round keys 2i+1: previous odd key prefix-XORed, plus SubWord of the last word of the new even key.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<byte> NextOdd(Vector128<byte> even, Vector128<byte> previousOdd)
    {
        var subWord = Sse2.Shuffle(X86Aes.KeygenAssist(even, 0x00).AsInt32(), 0xAA).AsByte();
        return PrefixXor(previousOdd) ^ subWord;
    }

    // (w0, w1, w2, w3) -> (w0, w0^w1, w0^w1^w2, w0^w1^w2^w3)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<byte> PrefixXor(Vector128<byte> words)
    {
        words ^= Sse2.ShiftLeftLogical128BitLane(words, 4);
        words ^= Sse2.ShiftLeftLogical128BitLane(words, 8);
        return words;
    }
}
