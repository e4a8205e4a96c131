// Lifecycle calls still to come in this branch (import, rotation, backup, maintenance).
using Ironclad.ResourceManager.KeyVault;

namespace Ironclad.KeyVault.Keys;

public sealed partial class KeyVaultService
{
    public KeyVersion Import(VaultRecord vault, string name, ImportKeyRequest request) => throw new NotImplementedException();

    /// <summary>A new version with the latest version's type, size, key_ops and tags, and exp from the rotation policy.</summary>
    public KeyVersion Rotate(VaultRecord vault, string name) => throw new NotImplementedException();

    /// <summary>The key's policy, or the cloud's default (Notify 30 days before expiry) when none was set.</summary>
    public RotationPolicy GetRotationPolicy(VaultRecord vault, string name) => throw new NotImplementedException();

    public RotationPolicy SetRotationPolicy(VaultRecord vault, string name, RotationPolicy policy) => throw new NotImplementedException();

    /// <summary>Every version, sealed under the root key, as one opaque blob.</summary>
    public byte[] Backup(VaultRecord vault, string name) => throw new NotImplementedException();

    /// <summary>Restores a backup into <paramref name="vault"/>; 409 if the name exists (active or deleted); 400 if the blob is not ours.</summary>
    public KeyVersion Restore(VaultRecord vault, ReadOnlySpan<byte> backup) => throw new NotImplementedException();

    /// <summary>
    /// Runs what time makes due, as of the TimeProvider's now: rotates keys whose policy says so,
    /// publishes Expired once per version whose exp has passed, purges deleted keys past their
    /// scheduled purge date. <paramref name="vaults"/> are the active vaults. Returns what it did.
    /// </summary>
    public KeyMaintenanceReport RunMaintenance(IReadOnlyList<VaultRecord> vaults) => throw new NotImplementedException();
}

public sealed record KeyMaintenanceReport(int Rotated, int Expired, int Purged);
