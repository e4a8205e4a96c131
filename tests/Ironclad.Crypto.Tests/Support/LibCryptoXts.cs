// OpenSSL's own AES-256-XTS (libcrypto.so.3, EVP_aes_256_xts) as an oracle for XtsAes256.
// Invariant: shares no code with the code under test, and takes the plainest path through OpenSSL —
// a fresh context per data unit, key and IV (the 128-bit little-endian tweak) set together.
using System.Runtime.InteropServices;

namespace Ironclad.Crypto.Tests.Support;

internal static unsafe partial class LibCryptoXts
{
    private const string Library = "libcrypto.so.3";

    private static readonly Lazy<string?> LoadError = new(() =>
    {
        try
        {
            return EVP_aes_256_xts() == 0 ? "EVP_aes_256_xts returned NULL" : null;
        }
        catch (DllNotFoundException e)
        {
            return e.Message;
        }
    });

    /// <summary>Fails on Linux, where OpenSSL 3 is a requirement of every target machine; skips elsewhere.</summary>
    public static void Require()
    {
        if (LoadError.Value is not { } error)
        {
            return;
        }

        if (OperatingSystem.IsLinux())
        {
            Assert.Fail($"{Library} is required on Linux and could not be used: {error}");
        }

        Assert.Skip($"{Library} is not available on this OS: {error}");
    }

    /// <summary>Transforms one data unit of any length (16 bytes or more) under a 16-byte IV.</summary>
    public static void TransformDataUnit(bool encrypt, ReadOnlySpan<byte> key, ReadOnlySpan<byte> iv, ReadOnlySpan<byte> input, Span<byte> output)
    {
        Assert.Equal(64, key.Length);
        Assert.Equal(16, iv.Length);
        Assert.Equal(input.Length, output.Length);
        var context = EVP_CIPHER_CTX_new();
        Assert.NotEqual(0, context);
        try
        {
            fixed (byte* keyPointer = key)
            fixed (byte* ivPointer = iv)
            fixed (byte* inputPointer = input)
            fixed (byte* outputPointer = output)
            {
                Check(EVP_CipherInit_ex(context, EVP_aes_256_xts(), 0, keyPointer, ivPointer, encrypt ? 1 : 0), "EVP_CipherInit_ex");
                int written;
                Check(EVP_CipherUpdate(context, outputPointer, &written, inputPointer, input.Length), "EVP_CipherUpdate");
                Assert.Equal(input.Length, written);
                int finalWritten;
                Check(EVP_CipherFinal_ex(context, outputPointer + written, &finalWritten), "EVP_CipherFinal_ex");
                Assert.Equal(0, finalWritten);
            }
        }
        finally
        {
            EVP_CIPHER_CTX_free(context);
        }
    }

    /// <summary>Transforms consecutive 4096-byte data units; unit i gets IV = firstUnitIndex + i (little-endian, 128 bits).</summary>
    public static void TransformUnits(bool encrypt, ReadOnlySpan<byte> key, ReadOnlySpan<byte> input, Span<byte> output, ulong firstUnitIndex)
    {
        Span<byte> iv = stackalloc byte[16];
        for (var offset = 0; offset < input.Length; offset += 4096)
        {
            iv.Clear();
            BitConverter.TryWriteBytes(iv, firstUnitIndex + (ulong)(offset / 4096));
            TransformDataUnit(encrypt, key, iv, input.Slice(offset, 4096), output.Slice(offset, 4096));
        }
    }

    private static void Check(int result, string function) => Assert.True(result == 1, $"{function} failed ({result}).");

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

    [LibraryImport(Library)]
    private static partial int EVP_CipherFinal_ex(nint context, byte* output, int* outputLength);
}
