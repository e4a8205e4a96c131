// HSM mode's root of trust against a real SoftHSM2 token: sealing in the token binds the associated
// data and detects tampering, the root key is created once and found again after a restart, it
// cannot be read out, and a bad module, label or PIN fails with a message that names the problem.
using System.Security.Cryptography;
using Ironclad.KeyVault.Protection;
using Net.Pkcs11Interop.Common;

namespace Ironclad.KeyVault.Tests;

public sealed class HsmKeyProtectorTests
{
    [Fact]
    public void Seal_unseal_binds_the_associated_data_and_detects_any_tampering()
    {
        var token = HsmTestToken.Create();
        using var protector = token.Open();
        Assert.Equal("pkcs11", protector.Mode);
        Assert.NotNull(protector.Hsm);

        var secret = RandomNumberGenerator.GetBytes(1190);
        var sealedBlob = protector.Seal(secret, "vault1/key1/0001"u8);
        Assert.Equal(Pkcs11KeyProtector.FormatVersion, sealedBlob[0]);
        Assert.Equal(1 + 12 + secret.Length + 16, sealedBlob.Length);
        Assert.Equal(-1, sealedBlob.AsSpan().IndexOf(secret.AsSpan(0, 16)));
        Assert.Equal(secret, protector.Unseal(sealedBlob, "vault1/key1/0001"u8));

        // A fresh IV per seal: the same plaintext never seals the same way twice.
        Assert.NotEqual(sealedBlob, protector.Seal(secret, "vault1/key1/0001"u8));

        Assert.Throws<CryptographicException>(() => protector.Unseal(sealedBlob, "vault1/key1/0002"u8));
        Assert.Throws<CryptographicException>(() => protector.Unseal(sealedBlob, []));
        foreach (var position in new[] { 0, 1, 12, 13, 500, sealedBlob.Length - 17, sealedBlob.Length - 1 })
        {
            var tampered = (byte[])sealedBlob.Clone();
            tampered[position] ^= 0x04;
            Assert.Throws<CryptographicException>(() => protector.Unseal(tampered, "vault1/key1/0001"u8));
        }

        Assert.Throws<CryptographicException>(() => protector.Unseal(sealedBlob.AsSpan(0, sealedBlob.Length - 1), "vault1/key1/0001"u8));
        Assert.Throws<CryptographicException>(() => protector.Unseal(sealedBlob.AsSpan(0, 20), "vault1/key1/0001"u8));

        // Empty plaintext and empty associated data are fine too.
        Assert.Empty(protector.Unseal(protector.Seal([], []), []));
    }

    [Fact]
    public void A_blob_from_the_root_key_file_is_not_accepted_and_vice_versa()
    {
        var token = HsmTestToken.Create();
        using var protector = token.Open();
        using var directory = new Ironclad.Testing.TempDirectory("ironclad-hsm");
        using var file = new FileKeyProtector(directory.Combine("root.key"));
        Assert.Throws<CryptographicException>(() => protector.Unseal(file.Seal("secret"u8, "a"u8), "a"u8));
        Assert.Throws<CryptographicException>(() => file.Unseal(protector.Seal("secret"u8, "a"u8), "a"u8));
    }

    [Fact]
    public void The_root_key_is_created_once_is_not_extractable_and_is_found_again_after_a_restart()
    {
        var token = HsmTestToken.Create();
        byte[] sealedBlob;
        using (var first = token.Open())
        {
            sealedBlob = first.Seal("key material"u8, "aad"u8);
        }

        using (var second = token.Open())
        {
            Assert.Equal("key material"u8.ToArray(), second.Unseal(sealedBlob, "aad"u8));
        }

        token.Inspect((session, factories) =>
        {
            foreach (var label in new[] { Pkcs11KeyProtector.RootKeyLabel, Pkcs11KeyProtector.BackupWrapKeyLabel })
            {
                var keys = session.FindAllObjects([factories.ObjectAttributeFactory.Create(CKA.CKA_LABEL, label)]);
                var key = Assert.Single(keys);
                var attributes = session.GetAttributeValue(key,
                    [CKA.CKA_TOKEN, CKA.CKA_SENSITIVE, CKA.CKA_EXTRACTABLE, CKA.CKA_NEVER_EXTRACTABLE, CKA.CKA_VALUE_LEN, CKA.CKA_VALUE]);
                Assert.True(attributes[0].GetValueAsBool(), $"{label}: CKA_TOKEN");
                Assert.True(attributes[1].GetValueAsBool(), $"{label}: CKA_SENSITIVE");
                Assert.False(attributes[2].GetValueAsBool(), $"{label}: CKA_EXTRACTABLE");
                Assert.True(attributes[3].GetValueAsBool(), $"{label}: CKA_NEVER_EXTRACTABLE");
                Assert.Equal(32UL, attributes[4].GetValueAsUlong());
                Assert.True(attributes[5].CannotBeRead, $"{label}: CKA_VALUE must not be readable");
            }

            return 0;
        });
    }

    [Fact]
    public void A_wrong_pin_fails_the_open_with_a_message_that_does_not_hold_the_pin()
    {
        var token = HsmTestToken.Create();
        var wrongPin = "wrong-pin-81726354"u8.ToArray();
        var e = Assert.Throws<Pkcs11SetupException>(() => new Pkcs11KeyProtector(HsmTestToken.ModulePath!, token.Label, wrongPin));
        Assert.Contains("PIN is incorrect", e.Message, StringComparison.Ordinal);
        Assert.Contains(token.Label, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("81726354", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(System.Text.Encoding.ASCII.GetString(token.Pin), e.ToString(), StringComparison.Ordinal);

        // The right PIN still works afterwards.
        using var protector = token.Open();
        Assert.Equal("pkcs11", protector.Mode);
    }

    [Fact]
    public void An_unknown_token_label_or_module_fails_with_a_message_that_names_it()
    {
        var token = HsmTestToken.Create();
        var noToken = Assert.Throws<Pkcs11SetupException>(() => new Pkcs11KeyProtector(HsmTestToken.ModulePath!, "no-such-token", token.Pin));
        Assert.Contains("no initialized token labeled 'no-such-token'", noToken.Message, StringComparison.Ordinal);
        Assert.Contains($"'{token.Label}'", noToken.Message, StringComparison.Ordinal);

        using var directory = new Ironclad.Testing.TempDirectory("ironclad-hsm");
        var missing = directory.Combine("libnothing.so");
        var noModule = Assert.Throws<Pkcs11SetupException>(() => new Pkcs11KeyProtector(missing, token.Label, token.Pin));
        Assert.Contains($"'{missing}' does not exist", noModule.Message, StringComparison.Ordinal);

        var notAModule = directory.Combine("notamodule.so");
        File.WriteAllText(notAModule, "this is not a shared library");
        var bad = Assert.Throws<Pkcs11SetupException>(() => new Pkcs11KeyProtector(notAModule, token.Label, token.Pin));
        Assert.Contains("cannot be loaded as a PKCS#11 module", bad.Message, StringComparison.Ordinal);
    }
}
