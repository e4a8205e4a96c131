// IDataKeyService: per volume, one 512-bit DEK per layer, wrapped through the vault by the layer's
// target and stored as the wrapped bytes + the exact key version used. Unwrapping asks, every time,
// who acts for the layer now (the set's current identity, the region's platform identity).
// Invariants: every plaintext DEK byte array this code touches is pinned and zeroed after use; a
// failure to wrap any layer stores nothing; a re-wrap never changes the DEK (so no data rewrite);
// nothing is stored that the target cannot unwrap again now (each new wrap is proved by an unwrap,
// so a disabled key or an identity without unwrapKey refuses the disk instead of orphaning it).
using System.Security.Cryptography;
using Ironclad.Compute.EncryptionSets;
using Ironclad.Compute.KeyAccess;
using Ironclad.Compute.Platform;
using Ironclad.Crypto.Keys;

namespace Ironclad.Compute.DataKeys;

public sealed class DataKeyService : IDataKeyService
{
    /// <summary>How many times a re-wrap retries when a concurrent re-wrap changed the layer in between.</summary>
    private const int RewrapAttemptsMax = 8;

    private readonly IDataKeyStore _store;
    private readonly IVaultKeyClient _vault;
    private readonly Func<IEncryptionSetDirectory?> _sets;
    private readonly Func<IPlatformKeys> _platform;
    private readonly TimeProvider _time;

    /// <param name="sets">The set directory (resolved late: the sets area registers it; null when it does not run).</param>
    /// <param name="platform">The platform keys (resolved late: they re-wrap through this service).</param>
    public DataKeyService(IDataKeyStore store, IVaultKeyClient vault, Func<IEncryptionSetDirectory?> sets, Func<IPlatformKeys> platform, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(vault);
        ArgumentNullException.ThrowIfNull(sets);
        ArgumentNullException.ThrowIfNull(platform);
        ArgumentNullException.ThrowIfNull(time);
        _store = store;
        _vault = vault;
        _sets = sets;
        _platform = platform;
        _time = time;
    }

    public async Task<UnwrappedDataKeys> CreateAsync(Guid volumeId, EncryptionPlan plan, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var keys = new List<DataKey>();
        try
        {
            var records = new List<DataKeyRecord>();
            foreach (var (layer, target) in plan.Layers())
            {
                var key = DataKey.Generate();
                keys.Add(key);
                var wrapped = await WrapAsync(key, target, cancellationToken);
                await ProveUnwrapAsync(key, target, wrapped, cancellationToken);
                records.Add(Record(volumeId, layer, target, wrapped, revision: 1));
            }

            _store.Add(records);
            var result = new UnwrappedDataKeys(keys[0], keys.Count > 1 ? keys[1] : null);
            keys.Clear();
            return result;
        }
        finally
        {
            foreach (var key in keys)
            {
                key.Dispose();
            }
        }
    }

    public async Task<UnwrappedDataKeys> UnwrapAsync(Guid volumeId, CancellationToken cancellationToken)
    {
        var records = _store.ForVolume(volumeId);
        if (records.Count == 0)
        {
            throw new InvalidOperationException($"Volume {volumeId:D} has no data keys (it was deleted, or never created).");
        }

        DataKey? inner = null;
        DataKey? outer = null;
        try
        {
            foreach (var record in records)
            {
                var key = await UnwrapRecordAsync(record, cancellationToken);
                if (record.Layer == KeyLayer.Inner)
                {
                    inner?.Dispose();
                    inner = key;
                }
                else
                {
                    outer?.Dispose();
                    outer = key;
                }
            }

            if (inner is null)
            {
                throw new InvalidOperationException($"Volume {volumeId:D} has no inner data key.");
            }

            var result = new UnwrappedDataKeys(inner, outer);
            inner = null;
            outer = null;
            return result;
        }
        finally
        {
            inner?.Dispose();
            outer?.Dispose();
        }
    }

    public async Task<DataKeyRecord> RewrapAsync(Guid volumeId, KeyLayer layer, KeyEncryptionTarget target, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        for (var attempt = 0; attempt < RewrapAttemptsMax; attempt++)
        {
            var current = _store.ForVolume(volumeId).FirstOrDefault(r => r.Layer == layer)
                ?? throw new InvalidOperationException($"Volume {volumeId:D} has no {layer} data key.");
            using var key = await UnwrapRecordAsync(current, cancellationToken);
            var wrapped = await WrapAsync(key, target, cancellationToken);
            await ProveUnwrapAsync(key, target, wrapped, cancellationToken);
            var replacement = Record(volumeId, layer, target, wrapped, current.Revision + 1);
            if (_store.TryReplace(replacement, current.Revision))
            {
                return replacement;
            }
        }

        throw new InvalidOperationException($"The {layer} data key of volume {volumeId:D} kept changing during a re-wrap; try again.");
    }

    public void ShareLayers(Guid sourceVolumeId, Guid targetVolumeId) => _store.CopyLayers(sourceVolumeId, targetVolumeId);

    public void Shred(Guid volumeId) => _store.Shred(volumeId);

    // ── Vault calls ────────────────────────────────────────────────────────────────────────────

    private async Task<WrappedKey> WrapAsync(DataKey key, KeyEncryptionTarget target, CancellationToken cancellationToken)
    {
        var plaintext = GC.AllocateArray<byte>(DataKey.SizeBytes, pinned: true);
        try
        {
            key.UseBytes(plaintext, static (bytes, buffer) =>
            {
                bytes.CopyTo(buffer);
                return 0;
            });
            return await _vault.WrapKeyAsync(target.PrincipalId, target.Key, plaintext, cancellationToken);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
        }
    }

    /// <summary>
    /// Unwraps a fresh wrap as the target's identity and checks it gives back the DEK. The vault lets
    /// wrapKey through on a disabled key (it only needs the public key), so this is what refuses a new
    /// disk, copy or re-wrap under a disabled key or an identity that lacks unwrapKey.
    /// </summary>
    private async Task ProveUnwrapAsync(DataKey key, KeyEncryptionTarget target, WrappedKey wrapped, CancellationToken cancellationToken)
    {
        var unwrapped = await _vault.UnwrapKeyAsync(target.PrincipalId, wrapped, cancellationToken);
        try
        {
            var same = key.UseBytes(unwrapped, static (bytes, back) => bytes.Length == back.Length && CryptographicOperations.FixedTimeEquals(bytes, back));
            if (!same)
            {
                throw new KeyAccessException(KeyAccessFailure.Other, wrapped.Kid.ToString(),
                    $"The vault did not unwrap the data key wrapped under '{wrapped.Kid}' to the same value; nothing was stored.");
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(unwrapped);
        }
    }

    private async Task<DataKey> UnwrapRecordAsync(DataKeyRecord record, CancellationToken cancellationToken)
    {
        var principal = ActingPrincipal(record);
        var plaintext = await _vault.UnwrapKeyAsync(principal, record.Wrapped, cancellationToken);
        try
        {
            if (plaintext.Length != DataKey.SizeBytes)
            {
                throw new KeyAccessException(KeyAccessFailure.Other, record.Wrapped.Kid.ToString(),
                    $"The vault unwrapped a {plaintext.Length}-byte value for volume {record.VolumeId:D}; a data key is {DataKey.SizeBytes} bytes.");
            }

            return DataKey.FromBytes(plaintext);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
        }
    }

    /// <summary>Who calls the vault for this layer now: the set's current identity, or the region's platform identity.</summary>
    private Guid ActingPrincipal(DataKeyRecord record)
    {
        if (record.Kind == KeyEncryptionKind.Platform)
        {
            return _platform().PrincipalFor(record.PlatformRegion
                ?? throw new InvalidOperationException($"The platform layer of volume {record.VolumeId:D} names no region."));
        }

        var setId = record.EncryptionSetId ?? throw new InvalidOperationException($"The customer-key layer of volume {record.VolumeId:D} names no disk encryption set.");
        var set = (_sets() ?? throw new InvalidOperationException("Disk encryption sets are not available in this server."))
            .Find(setId);
        return set?.KeyAccessPrincipalId
            ?? throw new KeyAccessException(KeyAccessFailure.IdentityRejected, record.Wrapped.Kid.ToString(),
                $"The disk encryption set '{setId}' that wraps the data key of volume {record.VolumeId:D} no longer exists, so no identity may unwrap it.");
    }

    private DataKeyRecord Record(Guid volumeId, KeyLayer layer, KeyEncryptionTarget target, WrappedKey wrapped, long revision) =>
        new(volumeId, layer, target.Kind,
            target.Kind == KeyEncryptionKind.Customer ? target.EncryptionSetId : null,
            target.Kind == KeyEncryptionKind.Platform ? target.PlatformRegion?.ToLowerInvariant() : null,
            wrapped, _time.GetUtcNow(), revision);
}
