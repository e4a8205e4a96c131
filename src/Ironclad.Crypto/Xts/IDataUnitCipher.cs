// The sector cipher port the storage engine encrypts through. Production: XtsAes256.
// Invariant: the transform is length-preserving over whole 4096-byte data units, and the tweak of
// each unit is its index in the *virtual* disk, so ciphertext can be moved or shared unchanged.
namespace Ironclad.Crypto.Xts;

public interface IDataUnitCipher
{
    /// <summary>Encrypts whole data units; unit i of the span uses tweak firstUnitIndex + i. Source and destination may be the same span.</summary>
    void Encrypt(ReadOnlySpan<byte> plaintext, Span<byte> ciphertext, ulong firstUnitIndex);

    /// <summary>Decrypts whole data units; unit i of the span uses tweak firstUnitIndex + i. Source and destination may be the same span.</summary>
    void Decrypt(ReadOnlySpan<byte> ciphertext, Span<byte> plaintext, ulong firstUnitIndex);
}
