// The RSA algorithms of the keys data plane (RFC 7518 §4.2-4.3, §3.3, §3.5; Key Vault "about keys"):
// RSA1_5, RSA-OAEP (SHA-1), RSA-OAEP-256 for encrypt/wrap, RS256/384/512 and PS256/384/512 over a
// digest for sign/verify, and the input-size rules the cloud enforces. Invariant: every decryption
// failure, whatever its cause (padding, length, wrong key), surfaces as the same 400 message, so a
// caller learns nothing about the padding (no padding oracle in the error text).
using System.Security.Cryptography;

namespace Ironclad.KeyVault.Keys;

internal static class RsaOperations
{
    public const string DecryptionFailedMessage = "The ciphertext could not be decrypted with this key.";

    public static readonly IReadOnlyList<string> EncryptionAlgorithms = [KeyAlgorithms.RsaOaep, KeyAlgorithms.RsaOaep256, KeyAlgorithms.Rsa15];

    public static readonly IReadOnlyList<string> SignatureAlgorithms =
        [KeyAlgorithms.RS256, KeyAlgorithms.RS384, KeyAlgorithms.RS512, KeyAlgorithms.PS256, KeyAlgorithms.PS384, KeyAlgorithms.PS512];

    public static RSAEncryptionPadding EncryptionPadding(string algorithm, string operation) => algorithm switch
    {
        KeyAlgorithms.RsaOaep => RSAEncryptionPadding.OaepSHA1,
        KeyAlgorithms.RsaOaep256 => RSAEncryptionPadding.OaepSHA256,
        KeyAlgorithms.Rsa15 => RSAEncryptionPadding.Pkcs1,
        _ => throw UnknownAlgorithm(algorithm, operation, EncryptionAlgorithms),
    };

    public static (HashAlgorithmName Hash, RSASignaturePadding Padding, int DigestBytes) Signature(string algorithm, string operation) => algorithm switch
    {
        KeyAlgorithms.RS256 => (HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1, 32),
        KeyAlgorithms.RS384 => (HashAlgorithmName.SHA384, RSASignaturePadding.Pkcs1, 48),
        KeyAlgorithms.RS512 => (HashAlgorithmName.SHA512, RSASignaturePadding.Pkcs1, 64),
        KeyAlgorithms.PS256 => (HashAlgorithmName.SHA256, RSASignaturePadding.Pss, 32),
        KeyAlgorithms.PS384 => (HashAlgorithmName.SHA384, RSASignaturePadding.Pss, 48),
        KeyAlgorithms.PS512 => (HashAlgorithmName.SHA512, RSASignaturePadding.Pss, 64),
        _ => throw UnknownAlgorithm(algorithm, operation, SignatureAlgorithms),
    };

    /// <summary>The largest plaintext the padding can carry in a modulus of <paramref name="modulusBytes"/> (RFC 8017 §7.1.1, §7.2.1).</summary>
    public static int PlaintextBytesMax(string algorithm, int modulusBytes) => algorithm switch
    {
        KeyAlgorithms.RsaOaep => modulusBytes - (2 * 20) - 2,
        KeyAlgorithms.RsaOaep256 => modulusBytes - (2 * 32) - 2,
        KeyAlgorithms.Rsa15 => modulusBytes - 11,
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm)),
    };

    public static void CheckPlaintext(string algorithm, int modulusBytes, int plaintextBytes)
    {
        var max = PlaintextBytesMax(algorithm, modulusBytes);
        if (plaintextBytes > max)
        {
            throw KeyVaultException.BadParameter(
                $"The value is {plaintextBytes} bytes long; {algorithm} with a {modulusBytes * 8}-bit key can encrypt at most {max} bytes.");
        }
    }

    public static void CheckCiphertext(int modulusBytes, int ciphertextBytes)
    {
        if (ciphertextBytes != modulusBytes)
        {
            throw KeyVaultException.BadParameter(
                $"The value is {ciphertextBytes} bytes long; a ciphertext of a {modulusBytes * 8}-bit key is exactly {modulusBytes} bytes.");
        }
    }

    public static void CheckDigest(string algorithm, int digestBytesExpected, int digestBytes)
    {
        if (digestBytes != digestBytesExpected)
        {
            throw KeyVaultException.BadParameter(
                $"The digest is {digestBytes} bytes long; {algorithm} signs a digest of exactly {digestBytesExpected} bytes.");
        }
    }

    public static KeyVaultException DecryptionFailed() => KeyVaultException.BadParameter(DecryptionFailedMessage);

    /// <summary>Modulus length in bytes of a key of <paramref name="keySizeBits"/>.</summary>
    public static int ModulusBytes(int keySizeBits) => (keySizeBits + 7) / 8;

    /// <summary>An RSA object holding only the public key (for encrypt, wrap and verify of HSM keys).</summary>
    public static RSA PublicKey(byte[] modulus, byte[] exponent)
    {
        var rsa = RSA.Create();
        rsa.ImportParameters(new RSAParameters { Modulus = modulus, Exponent = exponent });
        return rsa;
    }

    private static KeyVaultException UnknownAlgorithm(string algorithm, string operation, IReadOnlyList<string> supported) =>
        KeyVaultException.BadParameter(
            $"The algorithm '{algorithm}' is not supported for operation {operation} with an RSA key. Supported algorithms: {string.Join(", ", supported)}.");
}
