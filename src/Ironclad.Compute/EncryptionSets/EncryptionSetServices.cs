// Composition of the disk encryption sets area for the host: the resource type (also the set
// directory), its store, validator and verifier, and the key rotation worker. Invariant: the data-key
// services are resolved lazily (they read the set directory themselves), so there is no construction cycle.
using Ironclad.Compute.DataKeys;
using Ironclad.Compute.Disks;
using Ironclad.Compute.KeyAccess;
using Ironclad.Compute.Revocation;
using Ironclad.Identity;
using Ironclad.Metadata;
using Ironclad.ResourceManager.KeyVault;
using Ironclad.ResourceManager.Storage;

namespace Ironclad.Compute.EncryptionSets;

public sealed class EncryptionSetServices
{
    private EncryptionSetServices(DiskEncryptionSetsType type, KeyRotationWorker rotation, EncryptionSetWorkList queue)
    {
        Type = type;
        Rotation = rotation;
        Queue = queue;
    }

    /// <summary>The diskEncryptionSets resource type; also the IEncryptionSetDirectory.</summary>
    public DiskEncryptionSetsType Type { get; }

    /// <summary>The rotation worker: the host starts it after the server is composed and disposes it at stop.</summary>
    public KeyRotationWorker Rotation { get; }

    public EncryptionSetWorkList Queue { get; }

    public static EncryptionSetServices Create(
        MetadataDatabase database,
        IdentityProvider identity,
        IResourceManagerStore resourceManager,
        IVaultDirectory vaults,
        IVaultKeyClient keys,
        IVaultKeyClient? callerKeys,
        Func<IDiskDirectory?> disks,
        Func<IDataKeyStore> dataKeys,
        Func<IDataKeyService> dataKeyService,
        KeyAccessSignals signals,
        TimeProvider time,
        TimeSpan? checkInterval = null)
    {
        var store = new EncryptionSetStore(database);
        var queue = new EncryptionSetWorkList();
        var validator = new EncryptionSetKeyValidator(vaults, keys, callerKeys, time);
        var verifier = new EncryptionSetVerifier(store, validator, queue);
        var type = new DiskEncryptionSetsType(store, validator, verifier, identity, resourceManager, disks, queue, time);
        var rotation = new KeyRotationWorker(store, verifier, validator, dataKeys, dataKeyService, queue, signals, time,
            checkInterval ?? KeyRotationWorker.DefaultCheckInterval);
        return new EncryptionSetServices(type, rotation, queue);
    }
}
