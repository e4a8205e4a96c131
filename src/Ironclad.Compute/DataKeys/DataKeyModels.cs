// The envelope of a disk's data keys: which key-encryption key wraps each layer of a volume's DEKs.
// A volume has one layer (platform key or customer key) or two (double encryption: inner = customer,
// outer = platform), each with its own 512-bit DEK. Invariant: what is stored is only ever a
// wrapped DEK plus the exact key version that wrapped it — never a plaintext DEK.
using Ironclad.Compute.KeyAccess;
using Ironclad.Crypto.Keys;

namespace Ironclad.Compute.DataKeys;

/// <summary>Position of a DEK: Inner is applied to plaintext first (the only layer of a single-layer volume).</summary>
public enum KeyLayer
{
    Inner = 0,
    Outer = 1,
}

public enum KeyEncryptionKind
{
    /// <summary>The region's platform key in the platform's own vault.</summary>
    Platform,

    /// <summary>A customer key, through a disk encryption set's identity.</summary>
    Customer,
}

/// <summary>Who wraps a layer: the key (versionless = current version) and the identity that calls the vault.</summary>
/// <param name="EncryptionSetId">For Customer: the disk encryption set's canonical id.</param>
/// <param name="PlatformRegion">For Platform: the region (lower case, e.g. "eastus").</param>
public sealed record KeyEncryptionTarget(
    KeyEncryptionKind Kind,
    Guid PrincipalId,
    KeyReference Key,
    string? EncryptionSetId,
    string? PlatformRegion);

/// <summary>The layers a volume is encrypted with: <see cref="Outer"/> only for double encryption.</summary>
public sealed record EncryptionPlan(KeyEncryptionTarget Inner, KeyEncryptionTarget? Outer)
{
    public int LayerCount => Outer is null ? 1 : 2;

    public IEnumerable<(KeyLayer Layer, KeyEncryptionTarget Target)> Layers()
    {
        yield return (KeyLayer.Inner, Inner);
        if (Outer is not null)
        {
            yield return (KeyLayer.Outer, Outer);
        }
    }
}

/// <summary>One stored wrapped DEK (a row of the data-key store).</summary>
/// <param name="VolumeId">The storage volume (disk, snapshot or image disk) it belongs to.</param>
/// <param name="Wrapped">The wrapped bytes with the exact key version (kid) and algorithm.</param>
/// <param name="Revision">Optimistic-concurrency counter: a re-wrap replaces only the revision it read.</param>
public sealed record DataKeyRecord(
    Guid VolumeId,
    KeyLayer Layer,
    KeyEncryptionKind Kind,
    string? EncryptionSetId,
    string? PlatformRegion,
    WrappedKey Wrapped,
    DateTimeOffset WrappedAt,
    long Revision);

/// <summary>The plaintext DEKs of one volume, in native memory; dispose to zero them.</summary>
public sealed class UnwrappedDataKeys : IDisposable
{
    public UnwrappedDataKeys(DataKey inner, DataKey? outer)
    {
        Inner = inner ?? throw new ArgumentNullException(nameof(inner));
        Outer = outer;
    }

    public DataKey Inner { get; }

    public DataKey? Outer { get; }

    public void Dispose()
    {
        Inner.Dispose();
        Outer?.Dispose();
    }

    public override string ToString() => "UnwrappedDataKeys(redacted)";
}
