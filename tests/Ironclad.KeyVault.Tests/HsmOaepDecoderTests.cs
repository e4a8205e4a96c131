// The software half of RSA-OAEP-256 on tokens without SHA-2 OAEP: the decoder recovers what .NET
// encrypted from the raw RSA result (computed here with BigInteger and the private key), and refuses
// every corrupted encoding (seeded) with the same null result.
using System.Numerics;
using System.Security.Cryptography;
using Ironclad.KeyVault.Protection;
using Ironclad.Testing;

namespace Ironclad.KeyVault.Tests;

public sealed class HsmOaepDecoderTests
{
    [Fact]
    public void Decodes_what_dotnet_encrypted_and_refuses_any_corruption()
    {
        using var rsa = RSA.Create(2048);
        var parameters = rsa.ExportParameters(includePrivateParameters: true);
        var random = new Random(Seeds.FromEnvironmentOrRandom());
        foreach (var (hash, padding) in new[] { (HashAlgorithmName.SHA256, RSAEncryptionPadding.OaepSHA256), (HashAlgorithmName.SHA1, RSAEncryptionPadding.OaepSHA1) })
        {
            foreach (var length in new[] { 0, 1, 32, 100 })
            {
                var plaintext = new byte[length];
                random.NextBytes(plaintext);
                var encoded = RawDecrypt(parameters, rsa.Encrypt(plaintext, padding));
                Assert.Equal(plaintext, Pkcs11OaepDecoder.TryDecode(encoded, hash, []));

                for (var i = 0; i < 32; i++)
                {
                    var corrupted = (byte[])encoded.Clone();
                    corrupted[random.Next(corrupted.Length)] ^= (byte)(1 + random.Next(255));
                    Assert.Null(Pkcs11OaepDecoder.TryDecode(corrupted, hash, []));
                }

                Assert.Null(Pkcs11OaepDecoder.TryDecode(encoded, hash, "label"u8));
            }
        }

        Assert.Null(Pkcs11OaepDecoder.TryDecode(new byte[256], HashAlgorithmName.SHA256, []));
        Assert.Null(Pkcs11OaepDecoder.TryDecode(new byte[60], HashAlgorithmName.SHA256, []));
    }

    [Fact]
    public void RSA_OAEP_256_decryption_takes_the_path_the_token_supports()
    {
        var token = HsmTestToken.Create();
        using var protector = token.Open();
        var hsm = (Pkcs11HsmKeyStore)protector.Hsm!;
        var key = hsm.Generate(2048, 65537);
        Assert.Null(hsm.OaepSha256InToken);
        using var publicKey = RSA.Create(new RSAParameters { Modulus = key.Modulus, Exponent = key.PublicExponent });
        Assert.Equal([7, 7], hsm.Decrypt(key.Handle, "RSA-OAEP-256", publicKey.Encrypt([7, 7], RSAEncryptionPadding.OaepSHA256)));
        TestContext.Current.TestOutputHelper?.WriteLine($"RSA-OAEP-256 in the token: {hsm.OaepSha256InToken}");
        Assert.NotNull(hsm.OaepSha256InToken);
        Assert.Equal([8], hsm.Decrypt(key.Handle, "RSA-OAEP-256", publicKey.Encrypt([8], RSAEncryptionPadding.OaepSHA256)));
    }

    /// <summary>c^d mod n, left-padded to the modulus length: what CKM_RSA_X_509 returns.</summary>
    private static byte[] RawDecrypt(RSAParameters key, byte[] ciphertext)
    {
        var n = new BigInteger(key.Modulus, isUnsigned: true, isBigEndian: true);
        var d = new BigInteger(key.D, isUnsigned: true, isBigEndian: true);
        var c = new BigInteger(ciphertext, isUnsigned: true, isBigEndian: true);
        var m = BigInteger.ModPow(c, d, n).ToByteArray(isUnsigned: true, isBigEndian: true);
        var padded = new byte[key.Modulus!.Length];
        m.CopyTo(padded, padded.Length - m.Length);
        return padded;
    }
}
