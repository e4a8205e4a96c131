// Wrap/unwrap, encrypt/decrypt and sign/verify against the real service, checked with an independent
// RSA object built from the returned public key, and every refusal the cloud makes (key_ops, disabled,
// nbf/exp window, algorithm, sizes, tampered ciphertext).
using System.Security.Cryptography;
using Ironclad.KeyVault.Keys;
using Ironclad.ResourceManager.KeyVault;

namespace Ironclad.KeyVault.Tests;

public sealed class KeyOperationsTests : IDisposable
{
    private readonly KeysHarness _h = new();
    private readonly VaultRecord _vault = KeysHarness.Vault();

    public static TheoryData<string> EncryptionAlgorithms => [KeyAlgorithms.RsaOaep, KeyAlgorithms.RsaOaep256, KeyAlgorithms.Rsa15];

    public static TheoryData<string> SignatureAlgorithms =>
        [KeyAlgorithms.RS256, KeyAlgorithms.RS384, KeyAlgorithms.RS512, KeyAlgorithms.PS256, KeyAlgorithms.PS384, KeyAlgorithms.PS512];

    [Theory]
    [MemberData(nameof(EncryptionAlgorithms))]
    public void Wrap_then_unwrap_returns_the_key_and_a_local_public_key_interoperates(string algorithm)
    {
        var key = _h.ImportPooled(_vault, "k");
        var cek = RandomNumberGenerator.GetBytes(32);
        var wrapped = _h.Service.WrapKey(_vault, "k", null, algorithm, cek);
        Assert.Equal(key.Version, wrapped.Key.Version);
        Assert.Equal(256, wrapped.Value.Length);
        Assert.Equal(cek, _h.Service.UnwrapKey(_vault, "k", key.Version, algorithm, wrapped.Value).Value);

        // The SDK wraps RSA-OAEP and RSA1_5 locally with n and e: the service must unwrap that too.
        using var local = RSA.Create();
        local.ImportParameters(new RSAParameters { Modulus = key.Modulus, Exponent = key.PublicExponent });
        var localWrapped = local.Encrypt(cek, Padding(algorithm));
        Assert.Equal(cek, _h.Service.UnwrapKey(_vault, "k", "", algorithm, localWrapped).Value);
        Assert.Equal(cek, _h.Service.Decrypt(_vault, "k", null, algorithm, _h.Service.Encrypt(_vault, "k", null, algorithm, cek).Value).Value);
    }

    [Theory]
    [MemberData(nameof(SignatureAlgorithms))]
    public void Sign_then_verify_and_a_local_public_key_agrees(string algorithm)
    {
        var key = _h.ImportPooled(_vault, "k");
        var (hash, padding, bytes) = Signature(algorithm);
        var digest = RandomNumberGenerator.GetBytes(bytes);
        var signature = _h.Service.Sign(_vault, "k", null, algorithm, digest).Value;
        Assert.True(_h.Service.Verify(_vault, "k", null, algorithm, digest, signature).Valid);
        using var local = RSA.Create();
        local.ImportParameters(new RSAParameters { Modulus = key.Modulus, Exponent = key.PublicExponent });
        Assert.True(local.VerifyHash(digest, signature, hash, padding));

        signature[10] ^= 1;
        Assert.False(_h.Service.Verify(_vault, "k", null, algorithm, digest, signature).Valid);
        Assert.False(_h.Service.Verify(_vault, "k", null, algorithm, digest, signature.AsSpan(0, 100)).Valid);
    }

    [Fact]
    public void Operations_on_an_older_version_use_that_version()
    {
        var first = _h.ImportPooled(_vault, "k", 0);
        var wrapped = _h.Service.WrapKey(_vault, "k", null, KeyAlgorithms.RsaOaep256, new byte[32]).Value;
        var second = _h.ImportPooled(_vault, "k", 1);
        Assert.Equal(second.Version, _h.Service.WrapKey(_vault, "k", null, KeyAlgorithms.RsaOaep256, new byte[32]).Key.Version);
        Assert.Equal(new byte[32], _h.Service.UnwrapKey(_vault, "k", first.Version, KeyAlgorithms.RsaOaep256, wrapped).Value);
        var e = Assert.Throws<KeyVaultException>(() => _h.Service.UnwrapKey(_vault, "k", second.Version, KeyAlgorithms.RsaOaep256, wrapped));
        Assert.Equal(400, e.Status);
    }

    [Fact]
    public void An_operation_missing_from_key_ops_is_forbidden()
    {
        _h.ImportPooled(_vault, "k", keyOps: [KeyOps.WrapKey]);
        var wrapped = _h.Service.WrapKey(_vault, "k", null, KeyAlgorithms.RsaOaep, new byte[16]).Value;
        var e = Assert.Throws<KeyVaultException>(() => _h.Service.UnwrapKey(_vault, "k", null, KeyAlgorithms.RsaOaep, wrapped));
        Assert.Equal((403, "Forbidden", "KeyOperationForbidden"), (e.Status, e.Code, e.InnerCode));
        Assert.Equal("Operation unwrapKey is not permitted on this key.", e.Message);
        Assert.Equal(403, Assert.Throws<KeyVaultException>(() => _h.Service.Sign(_vault, "k", null, KeyAlgorithms.RS256, new byte[32])).Status);
        Assert.Equal(403, Assert.Throws<KeyVaultException>(() => _h.Service.Encrypt(_vault, "k", null, KeyAlgorithms.RsaOaep, new byte[16])).Status);
    }

    [Fact]
    public void A_disabled_key_refuses_unwrap_decrypt_and_sign_but_still_wraps_encrypts_and_verifies()
    {
        _h.ImportPooled(_vault, "k");
        var wrapped = _h.Service.WrapKey(_vault, "k", null, KeyAlgorithms.RsaOaep256, new byte[32]).Value;
        var digest = new byte[32];
        var signature = _h.Service.Sign(_vault, "k", null, KeyAlgorithms.RS256, digest).Value;
        _h.Service.Update(_vault, "k", null, new UpdateKeyRequest(false, null, null, null, null));

        var unwrap = Assert.Throws<KeyVaultException>(() => _h.Service.UnwrapKey(_vault, "k", null, KeyAlgorithms.RsaOaep256, wrapped));
        Assert.Equal((403, "Forbidden", "KeyDisabled"), (unwrap.Status, unwrap.Code, unwrap.InnerCode));
        Assert.Equal("Operation unwrapKey is not allowed on a disabled key.", unwrap.Message);
        Assert.Equal("Operation decrypt is not allowed on a disabled key.",
            Assert.Throws<KeyVaultException>(() => _h.Service.Decrypt(_vault, "k", null, KeyAlgorithms.RsaOaep256, wrapped)).Message);
        Assert.Equal("KeyDisabled", Assert.Throws<KeyVaultException>(() => _h.Service.Sign(_vault, "k", null, KeyAlgorithms.RS256, digest)).InnerCode);

        Assert.Equal(256, _h.Service.WrapKey(_vault, "k", null, KeyAlgorithms.RsaOaep256, new byte[32]).Value.Length);
        Assert.Equal(256, _h.Service.Encrypt(_vault, "k", null, KeyAlgorithms.RsaOaep, new byte[32]).Value.Length);
        Assert.True(_h.Service.Verify(_vault, "k", null, KeyAlgorithms.RS256, digest, signature).Valid);

        _h.Service.Update(_vault, "k", null, new UpdateKeyRequest(true, null, null, null, null));
        Assert.Equal(new byte[32], _h.Service.UnwrapKey(_vault, "k", null, KeyAlgorithms.RsaOaep256, wrapped).Value);
    }

    [Fact]
    public void After_exp_wrap_encrypt_and_sign_are_refused_while_unwrap_decrypt_and_verify_still_work()
    {
        var exp = KeysHarness.Start.AddHours(1);
        _h.ImportPooled(_vault, "k", attributes: new NewKeyAttributes(null, null, exp, null));
        var wrapped = _h.Service.WrapKey(_vault, "k", null, KeyAlgorithms.RsaOaep256, new byte[32]).Value;
        var digest = new byte[48];
        var signature = _h.Service.Sign(_vault, "k", null, KeyAlgorithms.PS384, digest).Value;

        _h.Time.Advance(TimeSpan.FromHours(1));
        var wrap = Assert.Throws<KeyVaultException>(() => _h.Service.WrapKey(_vault, "k", null, KeyAlgorithms.RsaOaep256, new byte[32]));
        Assert.Equal((403, "Forbidden", "KeyExpired"), (wrap.Status, wrap.Code, wrap.InnerCode));
        Assert.Equal("KeyExpired", Assert.Throws<KeyVaultException>(() => _h.Service.Encrypt(_vault, "k", null, KeyAlgorithms.RsaOaep, new byte[1])).InnerCode);
        Assert.Equal("KeyExpired", Assert.Throws<KeyVaultException>(() => _h.Service.Sign(_vault, "k", null, KeyAlgorithms.PS384, digest)).InnerCode);

        Assert.Equal(new byte[32], _h.Service.UnwrapKey(_vault, "k", null, KeyAlgorithms.RsaOaep256, wrapped).Value);
        Assert.Equal(new byte[32], _h.Service.Decrypt(_vault, "k", null, KeyAlgorithms.RsaOaep256, wrapped).Value);
        Assert.True(_h.Service.Verify(_vault, "k", null, KeyAlgorithms.PS384, digest, signature).Valid);
    }

    [Fact]
    public void Before_nbf_wrap_and_sign_are_refused_and_allowed_from_nbf_on()
    {
        var nbf = KeysHarness.Start.AddDays(1);
        var key = _h.ImportPooled(_vault, "k", attributes: new NewKeyAttributes(null, nbf, null, null));
        var e = Assert.Throws<KeyVaultException>(() => _h.Service.WrapKey(_vault, "k", null, KeyAlgorithms.RsaOaep, new byte[32]));
        Assert.Equal((403, "Forbidden", "KeyNotYetValid"), (e.Status, e.Code, e.InnerCode));
        Assert.Equal("KeyNotYetValid", Assert.Throws<KeyVaultException>(() => _h.Service.Sign(_vault, "k", null, KeyAlgorithms.RS512, new byte[64])).InnerCode);

        // Data wrapped locally with the public key can already be unwrapped (the cloud allows unwrap outside the window).
        using var local = RSA.Create();
        local.ImportParameters(new RSAParameters { Modulus = key.Modulus, Exponent = key.PublicExponent });
        Assert.Equal(new byte[16], _h.Service.UnwrapKey(_vault, "k", null, KeyAlgorithms.RsaOaep, local.Encrypt(new byte[16], RSAEncryptionPadding.OaepSHA1)).Value);

        _h.Time.Advance(TimeSpan.FromDays(1));
        Assert.Equal(256, _h.Service.WrapKey(_vault, "k", null, KeyAlgorithms.RsaOaep, new byte[32]).Value.Length);
    }

    [Fact]
    public void Unknown_or_mismatched_algorithms_are_bad_parameters()
    {
        _h.ImportPooled(_vault, "k");
        foreach (var call in new Action[]
        {
            () => _h.Service.WrapKey(_vault, "k", null, "A256KW", new byte[32]),
            () => _h.Service.WrapKey(_vault, "k", null, "rsa-oaep", new byte[32]),
            () => _h.Service.UnwrapKey(_vault, "k", null, KeyAlgorithms.RS256, new byte[256]),
            () => _h.Service.Sign(_vault, "k", null, KeyAlgorithms.RsaOaep, new byte[32]),
            () => _h.Service.Verify(_vault, "k", null, "ES256", new byte[32], new byte[256]),
        })
        {
            var e = Assert.Throws<KeyVaultException>(call);
            Assert.Equal((400, "BadParameter"), (e.Status, e.Code));
        }
    }

    [Theory]
    [InlineData(KeyAlgorithms.RsaOaep, 214)]
    [InlineData(KeyAlgorithms.RsaOaep256, 190)]
    [InlineData(KeyAlgorithms.Rsa15, 245)]
    public void Plaintext_up_to_the_padding_limit_is_accepted_and_one_byte_more_is_refused(string algorithm, int maxBytes)
    {
        _h.ImportPooled(_vault, "k");
        var wrapped = _h.Service.WrapKey(_vault, "k", null, algorithm, new byte[maxBytes]).Value;
        Assert.Equal(maxBytes, _h.Service.UnwrapKey(_vault, "k", null, algorithm, wrapped).Value.Length);
        var e = Assert.Throws<KeyVaultException>(() => _h.Service.WrapKey(_vault, "k", null, algorithm, new byte[maxBytes + 1]));
        Assert.Equal((400, "BadParameter"), (e.Status, e.Code));
    }

    [Fact]
    public void Ciphertexts_and_digests_of_the_wrong_length_are_refused()
    {
        _h.ImportPooled(_vault, "k");
        Assert.Equal(400, Assert.Throws<KeyVaultException>(() => _h.Service.UnwrapKey(_vault, "k", null, KeyAlgorithms.RsaOaep, new byte[255])).Status);
        Assert.Equal(400, Assert.Throws<KeyVaultException>(() => _h.Service.UnwrapKey(_vault, "k", null, KeyAlgorithms.RsaOaep, new byte[257])).Status);
        Assert.Equal(400, Assert.Throws<KeyVaultException>(() => _h.Service.Decrypt(_vault, "k", null, KeyAlgorithms.RsaOaep, [])).Status);
        Assert.Equal(400, Assert.Throws<KeyVaultException>(() => _h.Service.Sign(_vault, "k", null, KeyAlgorithms.RS256, new byte[31])).Status);
        Assert.Equal(400, Assert.Throws<KeyVaultException>(() => _h.Service.Sign(_vault, "k", null, KeyAlgorithms.RS384, new byte[32])).Status);
        Assert.Equal(400, Assert.Throws<KeyVaultException>(() => _h.Service.Verify(_vault, "k", null, KeyAlgorithms.PS512, new byte[32], new byte[256])).Status);
    }

    [Theory]
    [MemberData(nameof(EncryptionAlgorithms))]
    public void A_tampered_ciphertext_is_refused_with_one_message_that_says_nothing_about_padding(string algorithm)
    {
        _h.ImportPooled(_vault, "k");
        var wrapped = _h.Service.WrapKey(_vault, "k", null, algorithm, new byte[32]).Value;
        var seed = Environment.TickCount;
        var random = new Random(seed);
        for (var i = 0; i < 8; i++)
        {
            var tampered = (byte[])wrapped.Clone();
            tampered[random.Next(tampered.Length)] ^= (byte)(1 + random.Next(255));
            try
            {
                var result = _h.Service.UnwrapKey(_vault, "k", null, algorithm, tampered);

                // RSA1_5 decoding can, rarely, succeed on a modified block; it must then not yield the key.
                Assert.True(algorithm == KeyAlgorithms.Rsa15, $"seed={seed}");
                Assert.NotEqual(new byte[32], result.Value);
            }
            catch (KeyVaultException e)
            {
                Assert.Equal((400, "BadParameter"), (e.Status, e.Code));
                Assert.Equal("The ciphertext could not be decrypted with this key.", e.Message);
            }
        }

        // A ciphertext of the right length that is not even below the modulus fails the same way.
        var huge = Enumerable.Repeat((byte)0xFF, 256).ToArray();
        Assert.Equal("The ciphertext could not be decrypted with this key.",
            Assert.Throws<KeyVaultException>(() => _h.Service.UnwrapKey(_vault, "k", null, algorithm, huge)).Message);
    }

    [Fact]
    public void Parallel_unwraps_of_one_version_all_succeed()
    {
        _h.ImportPooled(_vault, "k");
        var keys = Enumerable.Range(0, 16).Select(i => RandomNumberGenerator.GetBytes(32)).ToArray();
        var wrapped = keys.Select(k => _h.Service.WrapKey(_vault, "k", null, KeyAlgorithms.RsaOaep256, k).Value).ToArray();
        _h.Restart();
        var failures = 0;
        Parallel.For(0, 16 * 40, new ParallelOptions { MaxDegreeOfParallelism = 16 }, i =>
        {
            var unwrapped = _h.Service.UnwrapKey(_vault, "k", null, KeyAlgorithms.RsaOaep256, wrapped[i % 16]).Value;
            if (!unwrapped.AsSpan().SequenceEqual(keys[i % 16]))
            {
                Interlocked.Increment(ref failures);
            }
        });
        Assert.Equal(0, failures);
        Assert.Equal(1, _h.Service.CachedVersionCount);
    }

    [Fact]
    public async Task Unwraps_racing_a_delete_either_succeed_or_answer_not_found()
    {
        _h.ImportPooled(_vault, "k");
        var wrapped = _h.Service.WrapKey(_vault, "k", null, KeyAlgorithms.RsaOaep256, new byte[32]).Value;
        var unexpected = 0;
        var workers = Enumerable.Range(0, 8).Select(_ => Task.Run(() =>
        {
            for (var i = 0; i < 40; i++)
            {
                try
                {
                    _h.Service.UnwrapKey(_vault, "k", null, KeyAlgorithms.RsaOaep256, wrapped);
                }
                catch (KeyVaultException e) when (e.Status == 404)
                {
                }
                catch (Exception)
                {
                    Interlocked.Increment(ref unexpected);
                }
            }
        })).ToArray();
        _h.Service.Delete(_vault, "k");
        _h.Service.Purge(_vault, "k");
        await Task.WhenAll(workers);
        Assert.Equal(0, unexpected);
        Assert.Equal(0, _h.Service.CachedVersionCount);
    }

    [Fact]
    public void Delete_evicts_the_cached_private_key()
    {
        _h.ImportPooled(_vault, "k");
        _h.Service.Sign(_vault, "k", null, KeyAlgorithms.RS256, new byte[32]);
        Assert.Equal(1, _h.Service.CachedVersionCount);
        _h.Service.Delete(_vault, "k");
        Assert.Equal(0, _h.Service.CachedVersionCount);
        _h.Service.Recover(_vault, "k");
        _h.Service.Sign(_vault, "k", null, KeyAlgorithms.RS256, new byte[32]);
        Assert.Equal(1, _h.Service.CachedVersionCount);
    }

    private static RSAEncryptionPadding Padding(string algorithm) => algorithm switch
    {
        KeyAlgorithms.RsaOaep => RSAEncryptionPadding.OaepSHA1,
        KeyAlgorithms.RsaOaep256 => RSAEncryptionPadding.OaepSHA256,
        _ => RSAEncryptionPadding.Pkcs1,
    };

    private static (HashAlgorithmName, RSASignaturePadding, int) Signature(string algorithm) => algorithm switch
    {
        KeyAlgorithms.RS256 => (HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1, 32),
        KeyAlgorithms.RS384 => (HashAlgorithmName.SHA384, RSASignaturePadding.Pkcs1, 48),
        KeyAlgorithms.RS512 => (HashAlgorithmName.SHA512, RSASignaturePadding.Pkcs1, 64),
        KeyAlgorithms.PS256 => (HashAlgorithmName.SHA256, RSASignaturePadding.Pss, 32),
        KeyAlgorithms.PS384 => (HashAlgorithmName.SHA384, RSASignaturePadding.Pss, 48),
        _ => (HashAlgorithmName.SHA512, RSASignaturePadding.Pss, 64),
    };

    public void Dispose() => _h.Dispose();
}
