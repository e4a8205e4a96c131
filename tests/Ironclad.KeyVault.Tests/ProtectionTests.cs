// The default root of trust: sealing under DIR/keyvault/root.key binds the associated data.
using System.Security.Cryptography;
using Ironclad.KeyVault.Protection;

namespace Ironclad.KeyVault.Tests;

public sealed class ProtectionTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("ironclad-kv-").FullName;

    [Fact]
    public void File_protector_unseals_only_with_the_same_associated_data()
    {
        using var protector = new FileKeyProtector(Path.Combine(_directory, "root.key"));
        var sealedBlob = protector.Seal("secret"u8, "v1/k1/0001"u8);
        Assert.Equal("secret"u8.ToArray(), protector.Unseal(sealedBlob, "v1/k1/0001"u8));
        Assert.Throws<CryptographicException>(() => protector.Unseal(sealedBlob, "v1/k1/0002"u8));
        Assert.Null(protector.Hsm);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
