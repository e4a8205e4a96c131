// Persistence of wrapped DEKs (SQLite, the metadata database, secure_delete on). Invariant: deleting
// a volume's rows overwrites them in the database file (crypto-shredding), and a re-wrap is a
// compare-and-swap on the revision so a rotation never overwrites a concurrent change.
namespace Ironclad.Compute.DataKeys;

public interface IDataKeyStore
{
    /// <summary>The volume's layers (Inner first); empty when it has none.</summary>
    IReadOnlyList<DataKeyRecord> ForVolume(Guid volumeId);

    /// <summary>Every layer wrapped through <paramref name="encryptionSetId"/> (case-insensitive id).</summary>
    IReadOnlyList<DataKeyRecord> ForEncryptionSet(string encryptionSetId);

    /// <summary>Every platform layer of a region.</summary>
    IReadOnlyList<DataKeyRecord> ForPlatformRegion(string region);

    /// <summary>Every layer wrapped by a version of the key named by vault origin and key name (any version).</summary>
    IReadOnlyList<DataKeyRecord> ForKey(Uri vaultUri, string keyName);

    /// <summary>Stores the layers of a new volume in one transaction; fails if the volume already has any.</summary>
    void Add(IReadOnlyList<DataKeyRecord> layers);

    /// <summary>Replaces one layer if its revision is still <paramref name="expectedRevision"/>; false if it changed.</summary>
    bool TryReplace(DataKeyRecord replacement, long expectedRevision);

    /// <summary>Copies the layers of <paramref name="sourceVolumeId"/> to <paramref name="targetVolumeId"/> (a snapshot shares its disk's DEKs).</summary>
    void CopyLayers(Guid sourceVolumeId, Guid targetVolumeId);

    /// <summary>Destroys the volume's wrapped DEKs (secure delete + WAL checkpoint): its data can never be decrypted again.</summary>
    void Shred(Guid volumeId);
}
