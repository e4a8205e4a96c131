// Nothing plaintext at rest: after importing a known private key (so its bytes are known), creating
// more keys, backing up and purging, a scan of the whole data directory finds none of its private
// parts (d, p, q, the PKCS#8 DER), and purged sealed material is overwritten (secure_delete).
using System.Security.Cryptography;
using Ironclad.KeyVault.Keys;
using Ironclad.Testing;

namespace Ironclad.KeyVault.Tests;

public sealed class NothingPlaintextTests : IDisposable
{
    private readonly KeysHarness _h = new();

    [Fact]
    public void No_private_part_of_an_imported_key_is_found_in_the_data_directory()
    {
        var vault = KeysHarness.Vault();
        var known = ImportTests.KnownKey;
        _h.Service.Import(vault, "byok", new ImportKeyRequest(ImportTests.Jwk(known), false, null, null));
        _h.Service.Create(vault, "other", KeysHarness.Rsa());
        var cek = RandomNumberGenerator.GetBytes(32);
        var wrapped = _h.Service.WrapKey(vault, "byok", null, KeyAlgorithms.RsaOaep256, cek).Value;
        _h.Service.UnwrapKey(vault, "byok", null, KeyAlgorithms.RsaOaep256, wrapped);
        var backup = _h.Service.Backup(vault, "byok");
        File.WriteAllBytes(Path.Combine(_h.DataDirectory, "byok.backup"), backup);
        _h.Restart();

        using var rsa = RSA.Create();
        rsa.ImportParameters(known);
        var patterns = new List<byte[]> { known.D!, known.P!, known.Q!, known.DP!, known.DQ!, rsa.ExportPkcs8PrivateKey(), rsa.ExportRSAPrivateKey(), cek };
        Assert.Empty(PlaintextScanner.Scan(_h.DataDirectory, patterns));

        // The scan can fail: the same bytes written in clear are found.
        File.WriteAllBytes(Path.Combine(_h.DataDirectory, "leak.bin"), [.. new byte[7], .. known.D!]);
        Assert.Single(PlaintextScanner.Scan(_h.DataDirectory, patterns));
    }

    [Fact]
    public void Purged_sealed_material_is_no_longer_in_any_file()
    {
        var vault = KeysHarness.Vault();
        _h.Service.Create(vault, "k", KeysHarness.Rsa());
        var sealedBlobs = SealedBlobs();
        Assert.Single(sealedBlobs);
        Assert.NotEmpty(PlaintextScanner.Scan(_h.KeyVaultDirectory, [sealedBlobs[0][..64]]));

        _h.Service.Delete(vault, "k");
        _h.Service.Purge(vault, "k");
        Assert.Empty(SealedBlobs());
        Assert.Empty(PlaintextScanner.Scan(_h.KeyVaultDirectory, [sealedBlobs[0][..64]]));
    }

    [Fact]
    public void Sealed_material_is_bound_to_its_root_key_and_version()
    {
        var vault = KeysHarness.Vault();
        var key = _h.ImportPooled(vault, "a");
        _h.ImportPooled(vault, "b", 1);
        using (var connection = Ironclad.Metadata.MetadataDatabase.Open(_h.DatabasePath).OpenConnection())
        using (var command = connection.CreateCommand())
        {
            // Move b's sealed key under a's version: the associated data no longer matches.
            command.CommandText = "UPDATE kv_key_versions SET sealed_private = (SELECT sealed_private FROM kv_key_versions WHERE name_key = 'b') WHERE name_key = 'a'";
            Assert.Equal(1, command.ExecuteNonQuery());
        }

        _h.Restart();
        var e = Assert.Throws<KeyVaultException>(() => _h.Service.Sign(vault, "a", key.Version, KeyAlgorithms.RS256, new byte[32]));
        Assert.Equal((500, "InternalError"), (e.Status, e.Code));
        _h.Service.Sign(vault, "b", null, KeyAlgorithms.RS256, new byte[32]);
    }

    private List<byte[]> SealedBlobs()
    {
        using var connection = Ironclad.Metadata.MetadataDatabase.Open(_h.DatabasePath).OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT sealed_private FROM kv_key_versions WHERE sealed_private IS NOT NULL";
        using var reader = command.ExecuteReader();
        var blobs = new List<byte[]>();
        while (reader.Read())
        {
            blobs.Add((byte[])reader.GetValue(0));
        }

        return blobs;
    }

    public void Dispose() => _h.Dispose();
}
