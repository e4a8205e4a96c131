// The keys data plane of every vault on this server: versions and their lifecycle (create, import,
// update, rotate, rotation policy, backup/restore, soft delete, recover, purge) and the key
// operations, over a SQLite store of sealed key material. Authorization and auditing happen at the
// edge before a call reaches here. Invariants: private key material exists in plaintext only inside
// one call (then zeroed) and is stored only sealed (AAD = vault/name/version); every committed
// change is published to IKeyEventSink after the commit; failures are KeyVaultException.
using Ironclad.KeyVault.Events;
using Ironclad.KeyVault.Protection;
using Ironclad.Metadata;
using Ironclad.ResourceManager.KeyVault;

namespace Ironclad.KeyVault.Keys;

public sealed class KeyVaultService
{
    /// <param name="database">The vault's own database (DIR/keyvault/keys.db); migrated by the constructor.</param>
    public KeyVaultService(MetadataDatabase database, IKeyProtector protector, TimeProvider time, IKeyEventSink events)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(protector);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(events);
        throw new NotImplementedException();
    }

    // ── Keys ───────────────────────────────────────────────────────────────────────────────────
    // `vault` is the active vault the request reached (the edge refuses soft-deleted ones); its
    // retention and purge protection decide recoveryLevel, recoverableDays and scheduledPurgeDate.

    /// <summary>A new key, or a new version of an existing one. 409 Conflict if the name is soft-deleted.</summary>
    public KeyVersion Create(VaultRecord vault, string name, CreateKeyRequest request) => throw new NotImplementedException();

    public KeyVersion Import(VaultRecord vault, string name, ImportKeyRequest request) => throw new NotImplementedException();

    /// <summary>The version, or the latest one when <paramref name="version"/> is null or empty. 404 KeyNotFound.</summary>
    public KeyVersion Get(VaultRecord vault, string name, string? version) => throw new NotImplementedException();

    /// <summary>Latest version of each active key, ordered by name.</summary>
    public KeyPage<KeyVersion> List(VaultRecord vault, int maxResults, string? skipToken) => throw new NotImplementedException();

    /// <summary>Every version of one key, oldest first.</summary>
    public KeyPage<KeyVersion> ListVersions(VaultRecord vault, string name, int maxResults, string? skipToken) => throw new NotImplementedException();

    /// <summary>Updates one version (the latest when <paramref name="version"/> is null or empty).</summary>
    public KeyVersion Update(VaultRecord vault, string name, string? version, UpdateKeyRequest request) => throw new NotImplementedException();

    /// <summary>A new version with the latest version's type, size, key_ops and tags, and exp from the rotation policy.</summary>
    public KeyVersion Rotate(VaultRecord vault, string name) => throw new NotImplementedException();

    /// <summary>The key's policy, or the cloud's default (Notify 30 days before expiry) when none was set.</summary>
    public RotationPolicy GetRotationPolicy(VaultRecord vault, string name) => throw new NotImplementedException();

    public RotationPolicy SetRotationPolicy(VaultRecord vault, string name, RotationPolicy policy) => throw new NotImplementedException();

    /// <summary>Every version, sealed under the root key, as one opaque blob.</summary>
    public byte[] Backup(VaultRecord vault, string name) => throw new NotImplementedException();

    /// <summary>Restores a backup into <paramref name="vault"/>; 409 if the name exists (active or deleted); 400 if the blob is not ours.</summary>
    public KeyVersion Restore(VaultRecord vault, ReadOnlySpan<byte> backup) => throw new NotImplementedException();

    // ── Soft delete ────────────────────────────────────────────────────────────────────────────

    public DeletedKey Delete(VaultRecord vault, string name) => throw new NotImplementedException();

    public DeletedKey GetDeleted(VaultRecord vault, string name) => throw new NotImplementedException();

    public KeyPage<DeletedKey> ListDeleted(VaultRecord vault, int maxResults, string? skipToken) => throw new NotImplementedException();

    public KeyVersion Recover(VaultRecord vault, string name) => throw new NotImplementedException();

    /// <summary>403 Forbidden when the vault has purge protection and the retention has not passed.</summary>
    public void Purge(VaultRecord vault, string name) => throw new NotImplementedException();

    // ── Key operations ─────────────────────────────────────────────────────────────────────────
    // null/empty version = latest. Refusals: key_ops missing the operation, disabled key
    // (decrypt/unwrapKey/sign), expired or not-yet-valid key (as the cloud does), unknown algorithm,
    // wrong input size — each with the cloud's status and code.

    public KeyOperationOutcome Encrypt(VaultRecord vault, string name, string? version, string algorithm, ReadOnlySpan<byte> plaintext) => throw new NotImplementedException();

    public KeyOperationOutcome Decrypt(VaultRecord vault, string name, string? version, string algorithm, ReadOnlySpan<byte> ciphertext) => throw new NotImplementedException();

    public KeyOperationOutcome WrapKey(VaultRecord vault, string name, string? version, string algorithm, ReadOnlySpan<byte> key) => throw new NotImplementedException();

    public KeyOperationOutcome UnwrapKey(VaultRecord vault, string name, string? version, string algorithm, ReadOnlySpan<byte> wrappedKey) => throw new NotImplementedException();

    /// <summary>Signs a digest (its length must match the algorithm's hash).</summary>
    public KeyOperationOutcome Sign(VaultRecord vault, string name, string? version, string algorithm, ReadOnlySpan<byte> digest) => throw new NotImplementedException();

    public KeyVerifyOutcome Verify(VaultRecord vault, string name, string? version, string algorithm, ReadOnlySpan<byte> digest, ReadOnlySpan<byte> signature) => throw new NotImplementedException();

    // ── Maintenance ────────────────────────────────────────────────────────────────────────────

    /// <summary>
    /// Runs what time makes due, as of the TimeProvider's now: rotates keys whose policy says so,
    /// publishes Expired once per version whose exp has passed, purges deleted keys past their
    /// scheduled purge date. <paramref name="vaults"/> are the active vaults. Returns what it did.
    /// </summary>
    public KeyMaintenanceReport RunMaintenance(IReadOnlyList<VaultRecord> vaults) => throw new NotImplementedException();

    /// <summary>Removes every key of a purged vault (HSM objects destroyed too).</summary>
    public void PurgeVault(string vaultName) => throw new NotImplementedException();
}

public sealed record KeyMaintenanceReport(int Rotated, int Expired, int Purged);
