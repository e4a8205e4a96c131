// The read-only view of vaults that other roles use (the data plane finds the vault behind a port;
// the disk encryption set checks a source vault). Invariant: callers get committed state only, with
// vaults whose retention has passed already purged; they cannot change anything through it.
namespace Ironclad.ResourceManager.KeyVault;

public interface IVaultDirectory
{
    /// <summary>The vault, active or soft-deleted, that owns <paramref name="port"/>; null if none.</summary>
    VaultRecord? FindByPort(int port);

    /// <summary>The vault, active or soft-deleted, named <paramref name="name"/> (case-insensitive); null if none.</summary>
    VaultRecord? FindByName(string name);

    /// <summary>Every vault that holds a port (active and soft-deleted), e.g. to open listeners at start.</summary>
    IReadOnlyList<VaultRecord> ListAll();
}
