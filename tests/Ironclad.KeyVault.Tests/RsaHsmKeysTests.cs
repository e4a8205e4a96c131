// RSA-HSM keys through KeyVaultService over a real SoftHSM2 token (HsmTestToken): created and
// imported keys work for every algorithm, the store holds a handle and no private material, a
// backup restores into the token, purge destroys the token object, and the token's sealing root
// key protects software keys across a restart.
using System.Security.Cryptography;
using Ironclad.KeyVault.Keys;
using Ironclad.ResourceManager.KeyVault;
using Ironclad.Testing;
using Net.Pkcs11Interop.Common;

namespace Ironclad.KeyVault.Tests;

public sealed class RsaHsmKeysTests : IDisposable
{
    private readonly HsmTestToken _token = HsmTestToken.Create();
    private readonly KeysHarness _h;
    private readonly VaultRecord _premium = KeysHarness.Vault("p1", sku: "premium");

    public RsaHsmKeysTests() => _h = new KeysHarness(_ => _token.Open());

    [Fact]
    public void A_created_rsa_hsm_key_wraps_unwraps_signs_and_verifies_and_the_store_has_only_a_handle()
    {
        var key = _h.Service.Create(_premium, "h", KeysHarness.Rsa(kty: KeyTypes.RsaHsm));
        Assert.Equal(KeyTypes.RsaHsm, key.KeyType);
        Assert.Equal(2048, key.KeySize);
        foreach (var algorithm in new[] { KeyAlgorithms.RsaOaep, KeyAlgorithms.RsaOaep256, KeyAlgorithms.Rsa15 })
        {
            var cek = RandomNumberGenerator.GetBytes(32);
            var wrapped = _h.Service.WrapKey(_premium, "h", null, algorithm, cek).Value;
            Assert.Equal(cek, _h.Service.UnwrapKey(_premium, "h", null, algorithm, wrapped).Value);
            wrapped[5] ^= 1;
            Assert.Equal("The ciphertext could not be decrypted with this key.",
                Assert.Throws<KeyVaultException>(() => _h.Service.UnwrapKey(_premium, "h", null, algorithm, wrapped)).Message);
        }

        var digest = SHA256.HashData("m"u8);
        var signature = _h.Service.Sign(_premium, "h", null, KeyAlgorithms.PS256, digest).Value;
        Assert.True(_h.Service.Verify(_premium, "h", null, KeyAlgorithms.PS256, digest, signature).Valid);
        Assert.Equal((0L, 1L), StoredMaterialColumns(key.Version));

        _h.Service.Update(_premium, "h", null, new UpdateKeyRequest(false, null, null, null, null));
        Assert.Equal("KeyDisabled", Assert.Throws<KeyVaultException>(() => _h.Service.Sign(_premium, "h", null, KeyAlgorithms.PS256, digest)).InnerCode);
    }

    [Fact]
    public void An_imported_key_goes_into_the_token_and_none_of_its_private_parts_reach_the_data_directory()
    {
        var known = ImportTests.KnownKey;
        var key = _h.Service.Import(_premium, "byok", new ImportKeyRequest(ImportTests.Jwk(known), true, null, null));
        Assert.Equal(KeyTypes.RsaHsm, key.KeyType);
        using var original = RSA.Create();
        original.ImportParameters(known);
        var cek = RandomNumberGenerator.GetBytes(32);
        Assert.Equal(cek, _h.Service.UnwrapKey(_premium, "byok", null, KeyAlgorithms.RsaOaep, original.Encrypt(cek, RSAEncryptionPadding.OaepSHA1)).Value);
        File.WriteAllBytes(Path.Combine(_h.DataDirectory, "backup.bin"), _h.Service.Backup(_premium, "byok"));
        _h.Restart();

        var patterns = new List<byte[]> { known.D!, known.P!, known.Q!, original.ExportPkcs8PrivateKey(), cek };
        Assert.Empty(PlaintextScanner.Scan(_h.DataDirectory, patterns));
        Assert.Empty(PlaintextScanner.Scan(HsmTestToken.TokenDirectory, patterns));
    }

    [Fact]
    public void Backup_purge_and_restore_of_an_rsa_hsm_key_keeps_it_working_and_purge_destroys_the_token_object()
    {
        _h.Service.Create(_premium, "h", KeysHarness.Rsa(kty: KeyTypes.RsaHsm));
        var cek = RandomNumberGenerator.GetBytes(32);
        var wrapped = _h.Service.WrapKey(_premium, "h", null, KeyAlgorithms.RsaOaep256, cek).Value;
        var blob = _h.Service.Backup(_premium, "h");
        var privateKeysBefore = PrivateKeyObjects();

        _h.Service.Delete(_premium, "h");
        _h.Service.Purge(_premium, "h");
        Assert.Equal(privateKeysBefore - 1, PrivateKeyObjects());

        _h.Service.Restore(_premium, blob);
        Assert.Equal(privateKeysBefore, PrivateKeyObjects());
        Assert.Equal(cek, _h.Service.UnwrapKey(_premium, "h", null, KeyAlgorithms.RsaOaep256, wrapped).Value);
    }

    [Fact]
    public void Rsa_hsm_is_still_refused_in_a_standard_vault_even_with_an_hsm()
    {
        var e = Assert.Throws<KeyVaultException>(() => _h.Service.Create(KeysHarness.Vault(), "h", KeysHarness.Rsa(kty: KeyTypes.RsaHsm)));
        Assert.Equal((400, "BadParameter"), (e.Status, e.Code));
    }

    [Fact]
    public void Rotating_an_rsa_hsm_key_generates_the_new_version_in_the_token()
    {
        var first = _h.Service.Create(_premium, "h", KeysHarness.Rsa(kty: KeyTypes.RsaHsm));
        var before = PrivateKeyObjects();
        var rotated = _h.Service.Rotate(_premium, "h");
        Assert.Equal(KeyTypes.RsaHsm, rotated.KeyType);
        Assert.NotEqual(first.Version, rotated.Version);
        Assert.Equal(before + 1, PrivateKeyObjects());
    }

    /// <summary>How many of (sealed_private, hsm_handle) the version's row has set.</summary>
    private (long Sealed, long Handle) StoredMaterialColumns(string version)
    {
        using var connection = Ironclad.Metadata.MetadataDatabase.Open(_h.DatabasePath).OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT sealed_private IS NOT NULL, hsm_handle IS NOT NULL FROM kv_key_versions WHERE version = $v";
        command.Parameters.AddWithValue("$v", version);
        using var reader = command.ExecuteReader();
        Assert.True(reader.Read());
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    private int PrivateKeyObjects() => _token.Inspect((session, factories) =>
        session.FindAllObjects([factories.ObjectAttributeFactory.Create(CKA.CKA_CLASS, CKO.CKO_PRIVATE_KEY)]).Count);

    public void Dispose() => _h.Dispose();
}
