// A cipher that does not encrypt: plaintext goes to disk as is. It exists ONLY so that
// `ironclad dev serve-scratch --cipher none` can measure what XTS-AES-256 costs end to end, and it
// must NEVER serve real data: nothing but the scratch development command may construct it, and
// that command prints a warning every time it does.
using Ironclad.Crypto.Xts;

namespace Ironclad.Host.Dev;

internal sealed class NullCipher : IDataUnitCipher
{
    private NullCipher()
    {
    }

    /// <summary>Stateless, so one instance serves every connection.</summary>
    public static NullCipher Instance { get; } = new();

    public void Encrypt(ReadOnlySpan<byte> plaintext, Span<byte> ciphertext, ulong firstUnitIndex) => plaintext.CopyTo(ciphertext);

    public void Decrypt(ReadOnlySpan<byte> ciphertext, Span<byte> plaintext, ulong firstUnitIndex) => ciphertext.CopyTo(plaintext);
}
