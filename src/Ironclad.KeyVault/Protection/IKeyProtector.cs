// Where the vault's root of trust lives: it seals software keys' private material (AES-256-GCM,
// associated data = vault/name/version) and, in HSM mode, holds RSA-HSM keys that never leave the
// token. Two implementations: FileKeyProtector (DIR/keyvault/root.key, 0600, the default) and
// Pkcs11KeyProtector (a PKCS#11 token, e.g. SoftHSM2). Invariant: Unseal fails (CryptographicException)
// for a tampered blob or one sealed with other associated data; nothing here logs or returns a root key.
using System.Security.Cryptography;

namespace Ironclad.KeyVault.Protection;

public interface IKeyProtector : IDisposable
{
    /// <summary>"file" or "pkcs11": shown by `ironclad server` at start and in docs.</summary>
    string Mode { get; }

    /// <summary>The token's RSA key store; null when the vault has no HSM (RSA-HSM keys are then refused).</summary>
    IHsmKeyStore? Hsm { get; }

    byte[] Seal(ReadOnlySpan<byte> plaintext, ReadOnlySpan<byte> associatedData);

    /// <exception cref="CryptographicException">Tampered, truncated, or sealed under another key or associated data.</exception>
    byte[] Unseal(ReadOnlySpan<byte> sealedBlob, ReadOnlySpan<byte> associatedData);
}

/// <summary>A key inside the token: <see cref="Handle"/> is what the store keeps to find it again (e.g. its CKA_ID in hex).</summary>
public sealed record HsmKeyReference(string Handle, byte[] Modulus, byte[] PublicExponent);

/// <summary>
/// RSA keys generated and used inside a PKCS#11 token. Public-key operations (encrypt, wrap, verify)
/// are done in software with the stored public key; only private-key operations come here.
/// </summary>
public interface IHsmKeyStore
{
    HsmKeyReference Generate(int keySizeBits, int publicExponent);

    /// <summary>BYOK into the token: the private key is written to the token as a sensitive object.</summary>
    HsmKeyReference Import(RSAParameters privateKey);

    /// <summary>RSA-OAEP, RSA-OAEP-256 or RSA1_5. Throws CryptographicException when the padding is wrong.</summary>
    byte[] Decrypt(string handle, string algorithm, ReadOnlySpan<byte> ciphertext);

    /// <summary>RS256/384/512, PS256/384/512 over a digest.</summary>
    byte[] SignDigest(string handle, string algorithm, ReadOnlySpan<byte> digest);

    /// <summary>The private key wrapped by the token's own root key (for backup); never plaintext.</summary>
    byte[] ExportWrapped(string handle);

    /// <summary>Unwraps an ExportWrapped blob into a new token object (for restore).</summary>
    HsmKeyReference ImportWrapped(ReadOnlySpan<byte> wrapped);

    void Destroy(string handle);
}
