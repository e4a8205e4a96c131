// The identity provider's persistence port. The SQLite implementation (SqliteIdentityStore) is the
// embedded default; PostgreSQL implements the same interface later. Invariants every
// implementation keeps: an app id is unique; deleting a principal deletes its secrets; every
// method is safe to call from concurrent requests.
namespace Ironclad.Identity.Store;

public interface IIdentityStore
{
    void AddTenant(Tenant tenant);

    Tenant? FindTenant(Guid tenantId);

    void AddPrincipal(ServicePrincipal principal);

    ServicePrincipal? FindPrincipal(Guid objectId);

    ServicePrincipal? FindPrincipalByAppId(Guid appId);

    /// <summary>The managed identity of <paramref name="kind"/> whose resource id is <paramref name="resourceId"/> (case-insensitive).</summary>
    ServicePrincipal? FindPrincipalByResourceId(string resourceId, PrincipalKind kind);

    IReadOnlyList<ServicePrincipal> ListPrincipals(Guid tenantId);

    /// <summary>Deletes the principal and its secrets; false if it did not exist.</summary>
    bool DeletePrincipal(Guid objectId);

    void AddSecret(ClientSecretRecord secret);

    IReadOnlyList<ClientSecretRecord> ListSecrets(Guid objectId);

    bool DeleteSecret(Guid objectId, Guid keyId);

    void AddSigningKey(SigningKeyRecord key);

    /// <summary>All signing keys, oldest first.</summary>
    IReadOnlyList<SigningKeyRecord> ListSigningKeys();

    void RetireSigningKey(string keyId, DateTimeOffset retiredOn);

    /// <summary>A small named value (e.g. the host's sealed bootstrap record), or null.</summary>
    byte[]? GetSetting(string name);

    void SetSetting(string name, byte[] value);
}
