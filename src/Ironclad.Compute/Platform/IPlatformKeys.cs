// Platform-managed keys: per region, a vault in the platform's own tenant and subscription (invisible
// to customers) holding a versioned RSA key, and the platform identity allowed to use it. Every disk
// without a customer key has its DEK wrapped by the current platform key version of its region.
// Invariant: the platform identity is the only principal with access to a platform vault.
using Ironclad.Compute.DataKeys;

namespace Ironclad.Compute.Platform;

public interface IPlatformKeys
{
    /// <summary>The target for wrapping a new DEK in <paramref name="region"/>: creates the region's vault and key on first use.</summary>
    Task<KeyEncryptionTarget> CurrentAsync(string region, CancellationToken cancellationToken);

    /// <summary>The identity that calls the platform vault of <paramref name="region"/> (for unwrapping existing layers).</summary>
    Guid PrincipalFor(string region);

    /// <summary>
    /// Rotates the region's platform key (a new version) and re-wraps every platform layer of the region
    /// under it in the background; returns when the new version exists.
    /// </summary>
    Task RotateAsync(string region, CancellationToken cancellationToken);
}
