// The only way Compute touches a key: the vault's HTTPS data plane, called with a token of the
// managed identity that acts (a disk encryption set's identity, or the platform identity of a
// region). Invariant: the vault enforces access policies / RBAC, disabled keys and expiry exactly as
// for any caller; Compute never sees a private key, and plaintext DEKs it sends or receives are never
// logged or put in an exception.
namespace Ironclad.Compute.KeyAccess;

public interface IVaultKeyClient
{
    /// <summary>GET {vault}/keys/{name}/{version?}: the key's public properties (versionless = the current version).</summary>
    /// <exception cref="KeyAccessException">The vault refused or could not be reached.</exception>
    Task<VaultKeyProperties> GetKeyAsync(Guid principalId, KeyReference key, CancellationToken cancellationToken);

    /// <summary>
    /// POST wrapkey with RSA-OAEP-256. A versionless <paramref name="key"/> wraps under the current
    /// version; the result names the version actually used (the vault's `kid`).
    /// </summary>
    Task<WrappedKey> WrapKeyAsync(Guid principalId, KeyReference key, ReadOnlyMemory<byte> plaintextKey, CancellationToken cancellationToken);

    /// <summary>POST unwrapkey on the exact version that wrapped it. The caller owns (and zeroes) the returned bytes.</summary>
    Task<byte[]> UnwrapKeyAsync(Guid principalId, WrappedKey wrapped, CancellationToken cancellationToken);

    /// <summary>
    /// Which of get / wrapKey / unwrapKey the identity may use on <paramref name="key"/>, each probed
    /// independently against the vault (so an error can name exactly what is missing).
    /// </summary>
    Task<KeyAccessProbe> ProbeAsync(Guid principalId, KeyReference key, CancellationToken cancellationToken);
}

/// <summary>What GET key returns that Compute needs (never the private part; the vault never sends it).</summary>
/// <param name="Kid">The versioned key id.</param>
/// <param name="KeyType">RSA or RSA-HSM (others are refused by validation).</param>
/// <param name="KeySizeBits">Modulus size in bits (from JWK n).</param>
public sealed record VaultKeyProperties(
    KeyReference Kid,
    string KeyType,
    int KeySizeBits,
    bool Enabled,
    DateTimeOffset? NotBefore,
    DateTimeOffset? Expires,
    IReadOnlyList<string> KeyOperations,
    string? RecoveryLevel);

/// <summary>A wrapped DEK: the exact key version that wrapped it, the algorithm, the ciphertext.</summary>
public sealed record WrappedKey(KeyReference Kid, string Algorithm, byte[] Value)
{
    public const string DefaultAlgorithm = "RSA-OAEP-256";

    public override string ToString() => $"WrappedKey({Kid}, {Algorithm}, {Value.Length} bytes)";
}

/// <summary>The result of probing an identity's access to a key; <see cref="Missing"/> names what it lacks.</summary>
public sealed record KeyAccessProbe(bool CanGet, bool CanWrapKey, bool CanUnwrapKey, VaultKeyProperties? Key)
{
    public bool IsSufficient => CanGet && CanWrapKey && CanUnwrapKey;

    /// <summary>The Key Vault permission names missing, e.g. ["wrapKey", "unwrapKey"].</summary>
    public IReadOnlyList<string> Missing =>
        [.. new[] { (CanGet, "get"), (CanWrapKey, "wrapKey"), (CanUnwrapKey, "unwrapKey") }.Where(p => !p.Item1).Select(p => p.Item2)];
}
