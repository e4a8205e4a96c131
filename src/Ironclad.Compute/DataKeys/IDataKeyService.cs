// The DEK lifecycle of a volume: generate, wrap through the vault, store; unwrap on use; re-wrap on
// rotation or an encryption change (no data rewrite); shred on delete. Invariant: a plaintext DEK
// exists only inside UnwrappedDataKeys (native memory, zeroed on dispose) and inside one vault call.
namespace Ironclad.Compute.DataKeys;

public interface IDataKeyService
{
    /// <summary>
    /// New DEKs for a new volume (one per layer of <paramref name="plan"/>), wrapped and stored. The
    /// caller creates the storage volume with the returned keys, then disposes them.
    /// </summary>
    /// <exception cref="KeyAccess.KeyAccessException">A vault refused the wrap; nothing was stored.</exception>
    Task<UnwrappedDataKeys> CreateAsync(Guid volumeId, EncryptionPlan plan, CancellationToken cancellationToken);

    /// <summary>
    /// Unwraps every layer of the volume through the vault (a fresh check of access every time), as
    /// the identity its layer's set or region uses now.
    /// </summary>
    Task<UnwrappedDataKeys> UnwrapAsync(Guid volumeId, CancellationToken cancellationToken);

    /// <summary>
    /// Re-wraps one layer under <paramref name="target"/> (rotation, set change, platform ↔ customer).
    /// Returns the new record; the DEK and so the data do not change.
    /// </summary>
    Task<DataKeyRecord> RewrapAsync(Guid volumeId, KeyLayer layer, KeyEncryptionTarget target, CancellationToken cancellationToken);

    /// <summary>Gives <paramref name="targetVolumeId"/> the same wrapped DEKs as <paramref name="sourceVolumeId"/> (storage snapshots and clones share DEKs).</summary>
    void ShareLayers(Guid sourceVolumeId, Guid targetVolumeId);

    /// <summary>Crypto-shreds the volume's DEKs.</summary>
    void Shred(Guid volumeId);
}
