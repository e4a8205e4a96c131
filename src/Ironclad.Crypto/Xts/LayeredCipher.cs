// Two independent sector-cipher layers over the same data units, for double encryption at rest
// (EncryptionAtRestWithPlatformAndCustomerKeys): the inner layer (customer DEK) is applied first on
// write and removed last on read. Invariant: each layer keeps the unit's virtual index as its tweak,
// so layered ciphertext can be shared by copy-on-write exactly like single-layer ciphertext.
namespace Ironclad.Crypto.Xts;

public sealed class LayeredCipher : IDataUnitCipher, IDisposable
{
    private readonly IDataUnitCipher _inner;
    private readonly IDataUnitCipher _outer;

    /// <summary>Takes ownership of both layers: disposing this disposes them.</summary>
    public LayeredCipher(IDataUnitCipher inner, IDataUnitCipher outer)
    {
        _inner = inner ?? throw new ArgumentNullException(nameof(inner));
        _outer = outer ?? throw new ArgumentNullException(nameof(outer));
    }

    public void Encrypt(ReadOnlySpan<byte> plaintext, Span<byte> ciphertext, ulong firstUnitIndex)
    {
        _inner.Encrypt(plaintext, ciphertext, firstUnitIndex);
        _outer.Encrypt(ciphertext, ciphertext, firstUnitIndex);
    }

    public void Decrypt(ReadOnlySpan<byte> ciphertext, Span<byte> plaintext, ulong firstUnitIndex)
    {
        _outer.Decrypt(ciphertext, plaintext, firstUnitIndex);
        _inner.Decrypt(plaintext, plaintext, firstUnitIndex);
    }

    public void Dispose()
    {
        (_inner as IDisposable)?.Dispose();
        (_outer as IDisposable)?.Dispose();
    }
}
