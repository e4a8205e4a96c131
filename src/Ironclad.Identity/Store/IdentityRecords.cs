// The identity provider's persistent records, as every store implementation (SQLite today,
// PostgreSQL later) reads and writes them. Secrets appear only as SHA-256 hashes; signing keys
// only sealed under the root key.
namespace Ironclad.Identity.Store;

/// <summary>A directory (Entra "tenant").</summary>
public sealed record Tenant(Guid TenantId, string DisplayName, DateTimeOffset CreatedOn);

/// <summary>What kind of principal a service principal record is.</summary>
public enum PrincipalKind
{
    /// <summary>An application's service principal: authenticates with client secrets.</summary>
    Application = 0,

    /// <summary>A system-assigned managed identity: lives and dies with the resource that owns it.</summary>
    SystemAssigned = 1,

    /// <summary>A user-assigned managed identity (a Microsoft.ManagedIdentity/userAssignedIdentities resource).</summary>
    UserAssigned = 2,
}

/// <summary>A service principal: <paramref name="ObjectId"/> is what role assignments name, <paramref name="AppId"/> the client id.</summary>
/// <param name="ResourceId">For a managed identity, the resource it belongs to (system-assigned) or is (user-assigned).</param>
public sealed record ServicePrincipal(
    Guid ObjectId, Guid AppId, Guid TenantId, string DisplayName, PrincipalKind Kind, string? ResourceId, DateTimeOffset CreatedOn)
{
    public bool IsManagedIdentity => Kind != PrincipalKind.Application;
}

/// <summary>A client secret as stored: its hash only. <paramref name="Hint"/> is its first three characters, as Entra shows.</summary>
public sealed record ClientSecretRecord(Guid KeyId, Guid ObjectId, byte[] Hash, string Hint, string DisplayName, DateTimeOffset CreatedOn, DateTimeOffset ExpiresOn);

/// <summary>An RS256 signing key: the PKCS#8 private key sealed with associated data = its key id.</summary>
/// <param name="RetiredOn">When a newer key replaced it for signing (it still verifies tokens it signed until they expire).</param>
public sealed record SigningKeyRecord(string KeyId, byte[] SealedPrivateKey, DateTimeOffset CreatedOn, DateTimeOffset? RetiredOn);
