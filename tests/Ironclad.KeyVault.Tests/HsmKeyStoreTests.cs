// RSA-HSM keys in a real SoftHSM2 token, checked against .NET's software RSA with the public key only:
// every decryption algorithm (.NET encrypts, the token decrypts), every signature algorithm (the token
// signs, .NET verifies), BYOK import, backup wrap/unwrap, destroy, parallel use, a restart, and that
// the private key cannot be read out of the token in plaintext.
using System.Security.Cryptography;
using Ironclad.KeyVault.Keys;
using Ironclad.KeyVault.Protection;
using Ironclad.Testing;
using Net.Pkcs11Interop.Common;

namespace Ironclad.KeyVault.Tests;

public sealed class HsmKeyStoreTests
{
    public static readonly TheoryData<string> DecryptionAlgorithms = [KeyAlgorithms.RsaOaep, KeyAlgorithms.RsaOaep256, KeyAlgorithms.Rsa15];

    private static readonly string[] SignatureAlgorithms =
        [KeyAlgorithms.RS256, KeyAlgorithms.RS384, KeyAlgorithms.RS512, KeyAlgorithms.PS256, KeyAlgorithms.PS384, KeyAlgorithms.PS512];

    [Fact]
    public void A_generated_2048_bit_key_decrypts_every_algorithm_and_its_signatures_verify()
    {
        var token = HsmTestToken.Create();
        using var protector = token.Open();
        var hsm = protector.Hsm!;
        var key = hsm.Generate(2048, 65537);
        Assert.Equal(32, key.Handle.Length);
        Assert.Equal(256, key.Modulus.Length);
        Assert.Equal(new byte[] { 0x01, 0x00, 0x01 }, key.PublicExponent);
        using var publicKey = PublicKey(key);

        AssertDecryptsEveryAlgorithm(hsm, key.Handle, publicKey);
        AssertSignaturesVerify(hsm, key.Handle, publicKey);
    }

    [Theory]
    [MemberData(nameof(DecryptionAlgorithms))]
    public void A_bad_ciphertext_fails_with_the_one_decryption_error(string algorithm)
    {
        var token = HsmTestToken.Create();
        using var protector = token.Open();
        var hsm = protector.Hsm!;
        var key = hsm.Generate(2048, 65537);
        using var publicKey = PublicKey(key);
        var seed = Seeds.FromEnvironmentOrRandom();
        var random = new Random(seed);

        var messages = new HashSet<string>();
        for (var i = 0; i < 8; i++)
        {
            var ciphertext = publicKey.Encrypt(RandomNumberGenerator.GetBytes(32), Padding(algorithm));
            ciphertext[random.Next(ciphertext.Length)] ^= (byte)(1 << random.Next(8));
            messages.Add(Assert.Throws<CryptographicException>(() => hsm.Decrypt(key.Handle, algorithm, ciphertext)).Message);
        }

        // Encrypted under another padding, truncated, or not below the modulus: the same error.
        var other = algorithm == KeyAlgorithms.Rsa15 ? RSAEncryptionPadding.OaepSHA256 : RSAEncryptionPadding.Pkcs1;
        messages.Add(Assert.Throws<CryptographicException>(() => hsm.Decrypt(key.Handle, algorithm, publicKey.Encrypt([1, 2, 3], other))).Message);
        messages.Add(Assert.Throws<CryptographicException>(() => hsm.Decrypt(key.Handle, algorithm, new byte[255])).Message);
        messages.Add(Assert.Throws<CryptographicException>(() => hsm.Decrypt(key.Handle, algorithm, Enumerable.Repeat((byte)0xff, 256).ToArray())).Message);
        Assert.Equal(["The ciphertext could not be decrypted."], messages);
    }

    [Theory]
    [InlineData(3072)]
    [InlineData(4096)]
    public void Larger_keys_are_generated_in_the_token_and_work(int bits)
    {
        var token = HsmTestToken.Create();
        using var protector = token.Open();
        var hsm = protector.Hsm!;
        var key = hsm.Generate(bits, 65537);
        Assert.Equal(bits / 8, key.Modulus.Length);
        using var publicKey = PublicKey(key);
        var dek = RandomNumberGenerator.GetBytes(32);
        Assert.Equal(dek, hsm.Decrypt(key.Handle, KeyAlgorithms.RsaOaep256, publicKey.Encrypt(dek, RSAEncryptionPadding.OaepSHA256)));
        var digest = SHA256.HashData("message"u8);
        Assert.True(publicKey.VerifyHash(digest, hsm.SignDigest(key.Handle, KeyAlgorithms.PS256, digest), HashAlgorithmName.SHA256, RSASignaturePadding.Pss));
    }

    [Fact]
    public void Key_sizes_exponents_handles_algorithms_and_digest_lengths_outside_the_contract_are_refused()
    {
        var token = HsmTestToken.Create();
        using var protector = token.Open();
        var hsm = protector.Hsm!;
        Assert.Throws<ArgumentOutOfRangeException>(() => hsm.Generate(1024, 65537));
        Assert.Throws<ArgumentOutOfRangeException>(() => hsm.Generate(2048, 65536));
        var key = hsm.Generate(2048, 65537);
        Assert.Throws<ArgumentException>(() => hsm.Decrypt(key.Handle, "A256KW", new byte[256]));
        Assert.Throws<ArgumentException>(() => hsm.SignDigest(key.Handle, "ES256", new byte[32]));
        Assert.Throws<CryptographicException>(() => hsm.SignDigest(key.Handle, KeyAlgorithms.RS384, new byte[32]));
        Assert.Throws<ArgumentException>(() => hsm.Decrypt("not-hex", KeyAlgorithms.RsaOaep, new byte[256]));
        Assert.Throws<CryptographicException>(() => hsm.Decrypt(new string('0', 32), KeyAlgorithms.RsaOaep, new byte[256]));
    }

    [Fact]
    public void An_imported_key_lives_in_the_token_and_matches_the_software_key()
    {
        var token = HsmTestToken.Create();
        using var protector = token.Open();
        var hsm = protector.Hsm!;
        using var software = RSA.Create(2048);
        var parameters = software.ExportParameters(includePrivateParameters: true);
        var key = hsm.Import(parameters);
        Assert.Equal(parameters.Modulus, key.Modulus);
        Assert.Equal(parameters.Exponent, key.PublicExponent);

        AssertDecryptsEveryAlgorithm(hsm, key.Handle, software);
        AssertSignaturesVerify(hsm, key.Handle, software);
        AssertPrivateKeyIsNotReadable(token, key.Handle);

        var incomplete = parameters;
        incomplete.DP = null;
        Assert.Throws<ArgumentException>(() => hsm.Import(incomplete));
    }

    [Fact]
    public void The_private_key_cannot_be_read_from_the_token_in_plaintext()
    {
        var token = HsmTestToken.Create();
        using var protector = token.Open();
        var key = protector.Hsm!.Generate(2048, 65537);
        AssertPrivateKeyIsNotReadable(token, key.Handle);
    }

    [Fact]
    public void A_wrapped_export_restores_into_a_new_token_object_and_is_not_plaintext()
    {
        var token = HsmTestToken.Create();
        using var protector = token.Open();
        var hsm = protector.Hsm!;
        using var software = RSA.Create(2048);
        var parameters = software.ExportParameters(includePrivateParameters: true);
        var original = hsm.Import(parameters);

        var wrapped = hsm.ExportWrapped(original.Handle);
        Assert.Equal(Pkcs11HsmKeyStore.WrappedFormatVersion, wrapped[0]);
        foreach (var secret in new[] { parameters.D!, parameters.P!, parameters.Q! })
        {
            Assert.Equal(-1, wrapped.AsSpan().IndexOf(secret.AsSpan(0, 16)));
        }

        hsm.Destroy(original.Handle);
        var restored = hsm.ImportWrapped(wrapped);
        Assert.NotEqual(original.Handle, restored.Handle);
        Assert.Equal(parameters.Modulus, restored.Modulus);
        Assert.Equal(parameters.Exponent, restored.PublicExponent);
        AssertDecryptsEveryAlgorithm(hsm, restored.Handle, software);
        AssertPrivateKeyIsNotReadable(token, restored.Handle);

        var tampered = (byte[])wrapped.Clone();
        tampered[wrapped.Length / 2] ^= 0x01;
        Assert.Throws<CryptographicException>(() => hsm.ImportWrapped(tampered));
        Assert.Throws<CryptographicException>(() => hsm.ImportWrapped([0x7f, .. wrapped[1..]]));

        // Another token (another backup key) cannot unwrap it.
        var otherToken = HsmTestToken.Create();
        using var other = otherToken.Open();
        Assert.Throws<CryptographicException>(() => other.Hsm!.ImportWrapped(wrapped));
    }

    [Fact]
    public void A_destroyed_key_is_gone_from_the_token()
    {
        var token = HsmTestToken.Create();
        using var protector = token.Open();
        var hsm = protector.Hsm!;
        var key = hsm.Generate(2048, 65537);
        var keep = hsm.Generate(2048, 65537);
        using var publicKey = PublicKey(key);
        var ciphertext = publicKey.Encrypt([1, 2, 3], RSAEncryptionPadding.OaepSHA1);
        Assert.Equal(new byte[] { 1, 2, 3 }, hsm.Decrypt(key.Handle, KeyAlgorithms.RsaOaep, ciphertext));

        hsm.Destroy(key.Handle);
        Assert.Throws<CryptographicException>(() => hsm.Decrypt(key.Handle, KeyAlgorithms.RsaOaep, ciphertext));
        Assert.Equal(0, CountObjects(token, key.Handle));
        Assert.Equal(1, CountObjects(token, keep.Handle));
        hsm.Destroy(key.Handle);

        using var restarted = token.Open();
        Assert.Throws<CryptographicException>(() => restarted.Hsm!.Decrypt(key.Handle, KeyAlgorithms.RsaOaep, ciphertext));
    }

    [Fact]
    public void Parallel_operations_each_get_a_session_and_all_succeed()
    {
        var token = HsmTestToken.Create();
        using var protector = token.Open();
        var hsm = protector.Hsm!;
        var key = hsm.Generate(2048, 65537);
        using var publicKey = PublicKey(key);
        string[] algorithms = [KeyAlgorithms.RsaOaep, KeyAlgorithms.RsaOaep256, KeyAlgorithms.Rsa15];
        var work = Enumerable.Range(0, 96).Select(i =>
        {
            var plaintext = RandomNumberGenerator.GetBytes(32);
            var algorithm = algorithms[i % algorithms.Length];
            return (plaintext, algorithm, ciphertext: publicKey.Encrypt(plaintext, Padding(algorithm)));
        }).ToArray();

        var failures = 0;
        Parallel.For(0, work.Length, new ParallelOptions { MaxDegreeOfParallelism = 16 }, i =>
        {
            var (plaintext, algorithm, ciphertext) = work[i];
            if (i % 4 == 3)
            {
                var sealedBlob = protector.Seal(plaintext, "aad"u8);
                if (!protector.Unseal(sealedBlob, "aad"u8).AsSpan().SequenceEqual(plaintext))
                {
                    Interlocked.Increment(ref failures);
                }
            }

            if (!hsm.Decrypt(key.Handle, algorithm, ciphertext).AsSpan().SequenceEqual(plaintext))
            {
                Interlocked.Increment(ref failures);
            }
        });
        Assert.Equal(0, failures);
    }

    [Fact]
    public void A_new_protector_over_the_same_token_finds_the_keys_by_handle()
    {
        var token = HsmTestToken.Create();
        HsmKeyReference key;
        byte[] signature;
        var digest = SHA384.HashData("restart"u8);
        using (var first = token.Open())
        {
            key = first.Hsm!.Generate(2048, 65537);
            signature = first.Hsm.SignDigest(key.Handle, KeyAlgorithms.RS384, digest);
        }

        using var second = token.Open();
        using var publicKey = PublicKey(key);
        var dek = RandomNumberGenerator.GetBytes(32);
        Assert.Equal(dek, second.Hsm!.Decrypt(key.Handle, KeyAlgorithms.RsaOaep256, publicKey.Encrypt(dek, RSAEncryptionPadding.OaepSHA256)));
        // RSASSA-PKCS1-v1_5 is deterministic: the same key signs the same digest the same way.
        Assert.Equal(signature, second.Hsm.SignDigest(key.Handle, KeyAlgorithms.RS384, digest));
    }

    private static RSA PublicKey(HsmKeyReference key) =>
        RSA.Create(new RSAParameters { Modulus = key.Modulus, Exponent = key.PublicExponent });

    private static RSAEncryptionPadding Padding(string algorithm) => algorithm switch
    {
        KeyAlgorithms.RsaOaep => RSAEncryptionPadding.OaepSHA1,
        KeyAlgorithms.RsaOaep256 => RSAEncryptionPadding.OaepSHA256,
        KeyAlgorithms.Rsa15 => RSAEncryptionPadding.Pkcs1,
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm)),
    };

    private static void AssertDecryptsEveryAlgorithm(IHsmKeyStore hsm, string handle, RSA publicKey)
    {
        foreach (var algorithm in new[] { KeyAlgorithms.RsaOaep, KeyAlgorithms.RsaOaep256, KeyAlgorithms.Rsa15 })
        {
            // Lengths up to the largest each padding allows for 2048 bits (OAEP-SHA1 214, OAEP-SHA256 190, PKCS#1 245), and empty.
            var maxLength = algorithm switch { KeyAlgorithms.RsaOaep => 214, KeyAlgorithms.RsaOaep256 => 190, _ => 245 };
            foreach (var length in new[] { 0, 1, 32, maxLength })
            {
                var plaintext = RandomNumberGenerator.GetBytes(length);
                var decrypted = hsm.Decrypt(handle, algorithm, publicKey.Encrypt(plaintext, Padding(algorithm)));
                Assert.True(plaintext.AsSpan().SequenceEqual(decrypted), $"{algorithm}, {length} bytes");
            }
        }
    }

    private static void AssertSignaturesVerify(IHsmKeyStore hsm, string handle, RSA publicKey)
    {
        foreach (var algorithm in SignatureAlgorithms)
        {
            var hash = algorithm[2..] switch { "256" => HashAlgorithmName.SHA256, "384" => HashAlgorithmName.SHA384, _ => HashAlgorithmName.SHA512 };
            var padding = algorithm[0] == 'P' ? RSASignaturePadding.Pss : RSASignaturePadding.Pkcs1;
            var digest = CryptographicOperations.HashData(hash, System.Text.Encoding.UTF8.GetBytes("signed by " + algorithm));
            var signature = hsm.SignDigest(handle, algorithm, digest);
            Assert.Equal(publicKey.KeySize / 8, signature.Length);
            Assert.True(publicKey.VerifyHash(digest, signature, hash, padding), algorithm);
            digest[0] ^= 1;
            Assert.False(publicKey.VerifyHash(digest, signature, hash, padding), algorithm + " over another digest");
        }
    }

    private static void AssertPrivateKeyIsNotReadable(HsmTestToken token, string handle) => token.Inspect((session, factories) =>
    {
        var found = session.FindAllObjects(
        [
            factories.ObjectAttributeFactory.Create(CKA.CKA_CLASS, CKO.CKO_PRIVATE_KEY),
            factories.ObjectAttributeFactory.Create(CKA.CKA_ID, Convert.FromHexString(handle)),
        ]);
        var key = Assert.Single(found);
        var attributes = session.GetAttributeValue(key,
            [CKA.CKA_TOKEN, CKA.CKA_SENSITIVE, CKA.CKA_PRIVATE_EXPONENT, CKA.CKA_PRIME_1, CKA.CKA_PRIME_2, CKA.CKA_COEFFICIENT]);
        Assert.True(attributes[0].GetValueAsBool(), "CKA_TOKEN");
        Assert.True(attributes[1].GetValueAsBool(), "CKA_SENSITIVE");
        foreach (var secret in attributes.Skip(2))
        {
            Assert.True(secret.CannotBeRead, $"{secret.Type} must not be readable");
        }

        return 0;
    });

    private static int CountObjects(HsmTestToken token, string handle) => token.Inspect((session, factories) =>
        session.FindAllObjects([factories.ObjectAttributeFactory.Create(CKA.CKA_ID, Convert.FromHexString(handle))]).Count);
}
