// The default root of trust: a 32-byte AES-256-GCM key in DIR/keyvault/root.key (mode 0600, created on
// first start). Invariant: the file is only ever created, never rewritten (SealingKeyFile), so sealed
// key material stays readable; there is no HSM, so RSA-HSM keys are refused.
using System.Security.Cryptography;
using Ironclad.Crypto.Sealing;

namespace Ironclad.KeyVault.Protection;

public sealed class FileKeyProtector(string rootKeyPath) : IKeyProtector
{
    private readonly Sealer _sealer = SealingKeyFile.LoadOrCreate(rootKeyPath);

    public string Mode => "file";

    public IHsmKeyStore? Hsm => null;

    public byte[] Seal(ReadOnlySpan<byte> plaintext, ReadOnlySpan<byte> associatedData) => _sealer.Seal(plaintext, associatedData);

    public byte[] Unseal(ReadOnlySpan<byte> sealedBlob, ReadOnlySpan<byte> associatedData) =>
        _sealer.TryUnseal(sealedBlob, associatedData, out var plaintext)
            ? plaintext
            : throw new CryptographicException("Sealed key material failed authentication.");

    public void Dispose() => _sealer.Dispose();
}
