// BYOK import of JSON web keys: a consistent RSA private key is accepted and usable (checked against
// the original key), anything incomplete, inconsistent or of the wrong size is 400 and stores nothing.
using System.Security.Cryptography;
using Ironclad.KeyVault.Keys;
using Ironclad.ResourceManager.KeyVault;

namespace Ironclad.KeyVault.Tests;

public sealed class ImportTests : IDisposable
{
    private static readonly RSAParameters Known = CreateKnown();
    private readonly KeysHarness _h = new();
    private readonly VaultRecord _vault = KeysHarness.Vault();

    internal static JsonWebKeyInput Jwk(RSAParameters p, string kty = KeyTypes.Rsa, IReadOnlyList<string>? keyOps = null) =>
        new(kty, Strip(p.Modulus!), Strip(p.Exponent!), Strip(p.D!), Strip(p.P!), Strip(p.Q!), Strip(p.DP!), Strip(p.DQ!), Strip(p.InverseQ!), keyOps);

    /// <summary>A fixed 2048-bit key for the import tests (generated once per run).</summary>
    internal static RSAParameters KnownKey => Known;

    [Fact]
    public void An_imported_key_decrypts_what_its_original_encrypted_and_signs_for_it()
    {
        var imported = _h.Service.Import(_vault, "byok", new ImportKeyRequest(Jwk(Known), false, null, new Dictionary<string, string> { ["src"] = "onprem" }));
        Assert.Equal(KeyTypes.Rsa, imported.KeyType);
        Assert.Equal(2048, imported.KeySize);
        Assert.Equal(Known.Modulus, imported.Modulus);
        Assert.Equal(KeyOps.AllRsa, imported.KeyOps);
        Assert.Equal("onprem", imported.Tags["src"]);

        using var original = RSA.Create();
        original.ImportParameters(Known);
        var cek = RandomNumberGenerator.GetBytes(32);
        Assert.Equal(cek, _h.Service.UnwrapKey(_vault, "byok", null, KeyAlgorithms.RsaOaep256, original.Encrypt(cek, RSAEncryptionPadding.OaepSHA256)).Value);
        var digest = SHA256.HashData("hello"u8);
        Assert.Equal(
            original.SignHash(digest, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1),
            _h.Service.Sign(_vault, "byok", null, KeyAlgorithms.RS256, digest).Value);
    }

    [Fact]
    public void Import_keeps_the_jwk_key_ops_and_adds_a_version_to_an_existing_key()
    {
        _h.Service.Create(_vault, "k", KeysHarness.Rsa());
        var imported = _h.Service.Import(_vault, "k", new ImportKeyRequest(Jwk(Known, keyOps: ["wrapKey", "unwrapKey"]), false, null, null));
        Assert.Equal(["wrapKey", "unwrapKey"], imported.KeyOps);
        Assert.Equal(2, _h.Service.ListVersions(_vault, "k", 25, null).Items.Count);
    }

    [Fact]
    public void Bad_json_web_keys_are_refused_and_change_nothing()
    {
        _h.Service.Create(_vault, "k", KeysHarness.Rsa());
        var before = _h.Snapshot();
        var good = Jwk(Known);
        using var small = RSA.Create(1024);
        var swapped = Known;
        swapped.DP = Known.DQ;
        var otherD = Known;
        using var other = RSA.Create(2048);
        otherD.D = other.ExportParameters(true).D;
        var badJwks = new[]
        {
            good with { D = null },
            good with { QI = [] },
            good with { N = null },
            good with { KeyType = "EC" },
            good with { KeyType = "oct" },
            Jwk(small.ExportParameters(true)),
            Jwk(swapped),
            Jwk(otherD),
            good with { N = [.. good.N!.AsSpan(0, 255), 0x01] },
            good with { E = [1, 0, 0, 0, 1] },
            good with { D = [.. good.D!, 0x01] },
            good with { KeyOps = ["fly"] },
        };
        foreach (var jwk in badJwks)
        {
            var e = Assert.Throws<KeyVaultException>(() => _h.Service.Import(_vault, "k", new ImportKeyRequest(jwk, false, null, null)));
            Assert.Equal((400, "BadParameter"), (e.Status, e.Code));
            Assert.DoesNotContain(Convert.ToBase64String(Known.D!)[..16], e.Message, StringComparison.Ordinal);
        }

        var hsm = Assert.Throws<KeyVaultException>(() => _h.Service.Import(_vault, "k", new ImportKeyRequest(good, true, null, null)));
        Assert.Equal(400, hsm.Status);
        Assert.Equal(400, Assert.Throws<KeyVaultException>(() => _h.Service.Import(_vault, "k", new ImportKeyRequest(good with { KeyType = "RSA-HSM" }, false, null, null))).Status);
        Assert.Equal(before, _h.Snapshot());
    }

    [Fact]
    public void Import_over_a_soft_deleted_name_is_a_conflict()
    {
        _h.Service.Create(_vault, "k", KeysHarness.Rsa());
        _h.Service.Delete(_vault, "k");
        var e = Assert.Throws<KeyVaultException>(() => _h.Service.Import(_vault, "k", new ImportKeyRequest(Jwk(Known), false, null, null)));
        Assert.Equal((409, "ObjectIsDeletedButRecoverable"), (e.Status, e.InnerCode));
    }

    private static byte[] Strip(byte[] value)
    {
        var i = 0;
        while (i < value.Length - 1 && value[i] == 0)
        {
            i++;
        }

        return value[i..];
    }

    private static RSAParameters CreateKnown()
    {
        using var rsa = RSA.Create(2048);
        return rsa.ExportParameters(true);
    }

    public void Dispose() => _h.Dispose();
}
