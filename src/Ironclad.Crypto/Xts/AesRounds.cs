// The direction of an AES pass, as a type argument so the XTS kernel is compiled once per direction
// with the round instruction inlined (no delegate, no branch in the hot loop).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using X86Aes = System.Runtime.Intrinsics.X86.Aes;

namespace Ironclad.Crypto.Xts;

internal interface IAesRounds
{
    static abstract Vector128<byte> Round(Vector128<byte> state, Vector128<byte> roundKey);

    static abstract Vector128<byte> LastRound(Vector128<byte> state, Vector128<byte> roundKey);
}

internal readonly struct EncryptRounds : IAesRounds
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> Round(Vector128<byte> state, Vector128<byte> roundKey) => X86Aes.Encrypt(state, roundKey);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> LastRound(Vector128<byte> state, Vector128<byte> roundKey) => X86Aes.EncryptLast(state, roundKey);
}

internal readonly struct DecryptRounds : IAesRounds
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> Round(Vector128<byte> state, Vector128<byte> roundKey) => X86Aes.Decrypt(state, roundKey);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> LastRound(Vector128<byte> state, Vector128<byte> roundKey) => X86Aes.DecryptLast(state, roundKey);
}
