// The baseline for XtsBenchmarks: OpenSSL's EVP_aes_256_xts (libcrypto.so.3) used the fastest way
// a caller can — one context per direction with the key set once, and per 4 KiB data unit only an
// IV reset (EVP_CipherInit_ex with NULL cipher and key) and one EVP_CipherUpdate. Every return code
// is checked. Single-threaded by design: an EVP_CIPHER_CTX must not be shared between threads.
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Ironclad.Benchmarks.Crypto;

internal sealed unsafe partial class OpenSslXts : IDisposable
{
    private const string Library = "libcrypto.so.3";
    private const int UnitSizeBytes = 4096;

    private nint _encryptContext;
    private nint _decryptContext;

    public OpenSslXts(ReadOnlySpan<byte> key)
    {
        if (key.Length != 64)
        {
            throw new ArgumentException("AES-256-XTS takes a 64-byte key.", nameof(key));
        }

        _encryptContext = CreateContext(key, encrypt: 1);
        _decryptContext = CreateContext(key, encrypt: 0);
    }

    public void Encrypt(byte* source, byte* destination, int lengthBytes, ulong firstUnitIndex) =>
        Transform(_encryptContext, source, destination, lengthBytes, firstUnitIndex);

    public void Decrypt(byte* source, byte* destination, int lengthBytes, ulong firstUnitIndex) =>
        Transform(_decryptContext, source, destination, lengthBytes, firstUnitIndex);

    public void Dispose()
    {
        EVP_CIPHER_CTX_free(_encryptContext); // frees and cleanses the key schedule
        EVP_CIPHER_CTX_free(_decryptContext);
        _encryptContext = 0;
        _decryptContext = 0;
    }

    private static nint CreateContext(ReadOnlySpan<byte> key, int encrypt)
    {
        var context = EVP_CIPHER_CTX_new();
        if (context == 0)
        {
            throw new CryptographicException("EVP_CIPHER_CTX_new failed.");
        }

        fixed (byte* keyPointer = key)
        {
            if (EVP_CipherInit_ex(context, EVP_aes_256_xts(), 0, keyPointer, null, encrypt) != 1)
            {
                EVP_CIPHER_CTX_free(context);
                throw new CryptographicException("EVP_CipherInit_ex(aes-256-xts) failed.");
            }
        }

        return context;
    }

    private static void Transform(nint context, byte* source, byte* destination, int lengthBytes, ulong firstUnitIndex)
    {
        var iv = stackalloc ulong[2];
        iv[1] = 0;
        for (var offset = 0; offset < lengthBytes; offset += UnitSizeBytes)
        {
            iv[0] = firstUnitIndex++; // the 128-bit little-endian unit index
            int written;
            if (EVP_CipherInit_ex(context, 0, 0, null, (byte*)iv, -1) != 1
                || EVP_CipherUpdate(context, destination + offset, &written, source + offset, UnitSizeBytes) != 1
                || written != UnitSizeBytes)
            {
                throw new CryptographicException("EVP aes-256-xts failed.");
            }
        }
    }

    [LibraryImport(Library)]
    private static partial nint EVP_aes_256_xts();

    [LibraryImport(Library)]
    private static partial nint EVP_CIPHER_CTX_new();

    [LibraryImport(Library)]
    private static partial void EVP_CIPHER_CTX_free(nint context);

    [LibraryImport(Library)]
    private static partial int EVP_CipherInit_ex(nint context, nint cipher, nint engine, byte* key, byte* iv, int encrypt);

    [LibraryImport(Library)]
    private static partial int EVP_CipherUpdate(nint context, byte* output, int* outputLength, byte* input, int inputLength);
}
