// The six key operations. Each call reads the version's current attributes from the store (so a
// disable, delete or key_ops change takes effect on the next call), applies the cloud's refusals in
// one order — key_ops, disabled, nbf/exp window, algorithm, input size — and then runs on the cached
// RSA object (software keys) or in the token (RSA-HSM private operations). Invariants: plaintext
// buffers this code allocates are zeroed; a failed decryption says the same thing whatever the cause.
using System.Security.Cryptography;
using Ironclad.KeyVault.Protection;
using Ironclad.ResourceManager.KeyVault;

namespace Ironclad.KeyVault.Keys;

public sealed partial class KeyVaultService
{
    // ── Key operations ─────────────────────────────────────────────────────────────────────────
    // null/empty version = latest. Refusals: key_ops missing the operation, disabled key
    // (decrypt/unwrapKey/sign), expired or not-yet-valid key (encrypt/wrapKey/sign: the cloud keeps
    // decrypt, unwrapKey and verify working outside the window so old data stays readable), unknown
    // algorithm, wrong input size — each with the cloud's status and code.

    public KeyOperationOutcome Encrypt(VaultRecord vault, string name, string? version, string algorithm, ReadOnlySpan<byte> plaintext) =>
        PublicEncrypt(vault, name, version, algorithm, plaintext, KeyOps.Encrypt);

    public KeyOperationOutcome Decrypt(VaultRecord vault, string name, string? version, string algorithm, ReadOnlySpan<byte> ciphertext) =>
        PrivateDecrypt(vault, name, version, algorithm, ciphertext, KeyOps.Decrypt);

    public KeyOperationOutcome WrapKey(VaultRecord vault, string name, string? version, string algorithm, ReadOnlySpan<byte> key) =>
        PublicEncrypt(vault, name, version, algorithm, key, KeyOps.WrapKey);

    public KeyOperationOutcome UnwrapKey(VaultRecord vault, string name, string? version, string algorithm, ReadOnlySpan<byte> wrappedKey) =>
        PrivateDecrypt(vault, name, version, algorithm, wrappedKey, KeyOps.UnwrapKey);

    /// <summary>Signs a digest (its length must match the algorithm's hash).</summary>
    public KeyOperationOutcome Sign(VaultRecord vault, string name, string? version, string algorithm, ReadOnlySpan<byte> digest)
    {
        ArgumentNullException.ThrowIfNull(vault);
        ArgumentNullException.ThrowIfNull(algorithm);
        var (key, stored, result) = ForOperation(vault, name, version, KeyOps.Sign);
        var (hash, padding, digestBytes) = RsaOperations.Signature(algorithm, KeyOps.Sign);
        RsaOperations.CheckDigest(algorithm, digestBytes, digest.Length);
        if (stored.HsmHandle is { } handle)
        {
            return new KeyOperationOutcome(result, Hsm().SignDigest(handle, algorithm, digest));
        }

        using var lease = Material(key, stored);
        return new KeyOperationOutcome(result, lease.Rsa.SignHash(digest, hash, padding));
    }

    public KeyVerifyOutcome Verify(VaultRecord vault, string name, string? version, string algorithm, ReadOnlySpan<byte> digest, ReadOnlySpan<byte> signature)
    {
        ArgumentNullException.ThrowIfNull(vault);
        ArgumentNullException.ThrowIfNull(algorithm);
        var (key, stored, result) = ForOperation(vault, name, version, KeyOps.Verify);
        var (hash, padding, digestBytes) = RsaOperations.Signature(algorithm, KeyOps.Verify);
        RsaOperations.CheckDigest(algorithm, digestBytes, digest.Length);

        // A signature of the wrong length cannot be valid: the answer is false, as for any other bad signature.
        if (signature.Length != RsaOperations.ModulusBytes(stored.KeySize))
        {
            return new KeyVerifyOutcome(result, false);
        }

        using var lease = Material(key, stored);
        return new KeyVerifyOutcome(result, lease.Rsa.VerifyHash(digest, signature, hash, padding));
    }

    private KeyOperationOutcome PublicEncrypt(VaultRecord vault, string name, string? version, string algorithm, ReadOnlySpan<byte> plaintext, string operation)
    {
        ArgumentNullException.ThrowIfNull(vault);
        ArgumentNullException.ThrowIfNull(algorithm);
        var (key, stored, result) = ForOperation(vault, name, version, operation);
        var padding = RsaOperations.EncryptionPadding(algorithm, operation);
        RsaOperations.CheckPlaintext(algorithm, RsaOperations.ModulusBytes(stored.KeySize), plaintext.Length);
        using var lease = Material(key, stored);
        return new KeyOperationOutcome(result, lease.Rsa.Encrypt(plaintext, padding));
    }

    private KeyOperationOutcome PrivateDecrypt(VaultRecord vault, string name, string? version, string algorithm, ReadOnlySpan<byte> ciphertext, string operation)
    {
        ArgumentNullException.ThrowIfNull(vault);
        ArgumentNullException.ThrowIfNull(algorithm);
        var (key, stored, result) = ForOperation(vault, name, version, operation);
        var padding = RsaOperations.EncryptionPadding(algorithm, operation);
        var modulusBytes = RsaOperations.ModulusBytes(stored.KeySize);
        RsaOperations.CheckCiphertext(modulusBytes, ciphertext.Length);
        if (stored.HsmHandle is { } handle)
        {
            try
            {
                return new KeyOperationOutcome(result, Hsm().Decrypt(handle, algorithm, ciphertext));
            }
            catch (CryptographicException)
            {
                throw RsaOperations.DecryptionFailed();
            }
        }

        Span<byte> plaintext = stackalloc byte[modulusBytes];
        try
        {
            using var lease = Material(key, stored);
            bool decrypted;
            int written;
            try
            {
                decrypted = lease.Rsa.TryDecrypt(ciphertext, plaintext, padding, out written);
            }
            catch (CryptographicException)
            {
                decrypted = false;
                written = 0;
            }

            if (!decrypted)
            {
                throw RsaOperations.DecryptionFailed();
            }

            return new KeyOperationOutcome(result, plaintext[..written].ToArray());
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
        }
    }

    /// <summary>Finds the version and applies the refusals that depend on the key's state.</summary>
    private (StoredKey Key, StoredVersion Stored, KeyVersion Result) ForOperation(VaultRecord vault, string name, string? version, string operation)
    {
        var (key, stored) = Resolve(vault, name, version);
        if (!stored.KeyOps.Contains(operation))
        {
            throw KeyVaultException.Forbidden($"Operation {operation} is not permitted on this key.", KeyVaultErrorCodes.KeyOperationForbidden);
        }

        var privateUse = operation is KeyOps.Decrypt or KeyOps.UnwrapKey or KeyOps.Sign;
        if (!stored.Attributes.Enabled && privateUse)
        {
            throw KeyVaultException.Forbidden($"Operation {operation} is not allowed on a disabled key.", KeyVaultErrorCodes.KeyDisabled);
        }

        // Outside [nbf, exp) the cloud refuses only what creates new protected data or signatures.
        if (operation is KeyOps.Encrypt or KeyOps.WrapKey or KeyOps.Sign)
        {
            var now = _time.GetUtcNow();
            if (stored.Attributes.NotBefore is { } nbf && now < nbf)
            {
                throw KeyVaultException.Forbidden($"Operation {operation} is not allowed on a key that is not yet valid.", KeyVaultErrorCodes.KeyNotYetValid);
            }

            if (stored.Attributes.Expires is { } exp && now >= exp)
            {
                throw KeyVaultException.Forbidden($"Operation {operation} is not allowed on an expired key.", KeyVaultErrorCodes.KeyExpired);
            }
        }

        return (key, stored, ToKeyVersion(vault, key, stored));
    }

    /// <summary>The version's RSA object: the private key for software keys, the public key for HSM keys.</summary>
    private KeyMaterialCache.Lease Material(StoredKey key, StoredVersion stored) =>
        _cache.Acquire(KeyMaterialCache.Id(key.VaultKey, key.NameKey, stored.Version), () => LoadMaterial(key, stored));

    private RSA LoadMaterial(StoredKey key, StoredVersion stored)
    {
        if (stored.HsmHandle is not null)
        {
            return RsaOperations.PublicKey(stored.Modulus, stored.PublicExponent);
        }

        StoredMaterial? material;
        using (var connection = _store.OpenRead())
        {
            material = SqliteKeyStore.FindMaterial(connection, null, key.VaultKey, key.NameKey, stored.Version);
        }

        if (material?.SealedPrivateKey is not { } sealedBlob)
        {
            // Purged between the attribute read and now.
            throw KeyVaultException.KeyNotFound(key.Name, stored.Version);
        }

        byte[] pkcs8;
        try
        {
            pkcs8 = _protector.Unseal(sealedBlob, MaterialAad(key.VaultKey, key.NameKey, stored.Version));
        }
        catch (CryptographicException e)
        {
            // The store was altered, or the root key is not the one that sealed it: a server fault, not the caller's.
            throw new KeyVaultException("The key's sealed material could not be opened with this server's root key.", e);
        }

        try
        {
            var rsa = RSA.Create();
            rsa.ImportPkcs8PrivateKey(pkcs8, out _);
            return rsa;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pkcs8);
        }
    }

    private IHsmKeyStore Hsm() =>
        _protector.Hsm ?? throw new KeyVaultException(
            500, KeyVaultErrorCodes.InternalError, "The key lives in an HSM, but this server runs without one.");
}
