// Seals small secrets at rest (signing keys, bootstrap secrets, later vault keys) under a 256-bit
// root key: AES-256-GCM with a fresh 96-bit nonce per seal and caller-supplied associated data
// (e.g. the key id), so a sealed blob cannot be swapped onto another record unnoticed.
// Format (version 1): 0x01 || nonce (12) || ciphertext || tag (16). Invariant: Unseal returns
// plaintext only for an untampered blob sealed under the same key with the same associated data.
// Thread-safe: AesGcm instances are not, so every use of the one instance is serialised (sealing is
// off the hot paths: callers cache what they unseal).
using System.Security.Cryptography;

namespace Ironclad.Crypto.Sealing;

public sealed class Sealer : IDisposable
{
    public const int KeySizeBytes = 32;
    public const int NonceSizeBytes = 12;
    public const int TagSizeBytes = 16;
    private const byte FormatVersion = 1;
    private const int OverheadBytes = 1 + NonceSizeBytes + TagSizeBytes;

    private readonly AesGcm _aes;
    private readonly Lock _lock = new();

    /// <param name="rootKey">32 bytes; copied, so the caller may zero its buffer afterwards.</param>
    public Sealer(ReadOnlySpan<byte> rootKey)
    {
        if (rootKey.Length != KeySizeBytes)
        {
            throw new ArgumentException($"A sealing key is {KeySizeBytes} bytes.", nameof(rootKey));
        }

        _aes = new AesGcm(rootKey, TagSizeBytes);
    }

    public byte[] Seal(ReadOnlySpan<byte> plaintext, ReadOnlySpan<byte> associatedData)
    {
        var sealedBlob = new byte[OverheadBytes + plaintext.Length];
        sealedBlob[0] = FormatVersion;
        var nonce = sealedBlob.AsSpan(1, NonceSizeBytes);
        RandomNumberGenerator.Fill(nonce);
        var ciphertext = sealedBlob.AsSpan(1 + NonceSizeBytes, plaintext.Length);
        var tag = sealedBlob.AsSpan(1 + NonceSizeBytes + plaintext.Length, TagSizeBytes);
        lock (_lock)
        {
            _aes.Encrypt(nonce, plaintext, ciphertext, tag, associatedData);
        }

        return sealedBlob;
    }

    /// <summary>False when the blob is malformed, tampered, or sealed under another key or associated data.</summary>
    public bool TryUnseal(ReadOnlySpan<byte> sealedBlob, ReadOnlySpan<byte> associatedData, out byte[] plaintext)
    {
        plaintext = [];
        if (sealedBlob.Length < OverheadBytes || sealedBlob[0] != FormatVersion)
        {
            return false;
        }

        var length = sealedBlob.Length - OverheadBytes;
        var output = new byte[length];
        try
        {
            lock (_lock)
            {
                _aes.Decrypt(sealedBlob.Slice(1, NonceSizeBytes), sealedBlob.Slice(1 + NonceSizeBytes, length),
                    sealedBlob.Slice(1 + NonceSizeBytes + length, TagSizeBytes), output, associatedData);
            }
        }
        catch (AuthenticationTagMismatchException)
        {
            return false;
        }

        plaintext = output;
        return true;
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _aes.Dispose();
        }
    }
}
