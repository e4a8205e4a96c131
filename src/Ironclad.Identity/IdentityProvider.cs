// The identity provider, host-agnostic (no HTTP here): tenants, service principals and their client
// secrets, client authentication, token issuing and validation. The HTTP edge
// (ControlPlane/Identity) and the host's bootstrap are its only callers. Invariants: a secret's
// plaintext is returned once, at creation, and never stored; managed identities have no secrets
// and get tokens only through the platform path (IdentityProvider.ManagedIdentities.cs).
using Ironclad.Identity.Principals;
using Ironclad.Identity.Signing;
using Ironclad.Identity.Store;
using Ironclad.Identity.Tokens;

namespace Ironclad.Identity;

public sealed partial class IdentityProvider
{
    private readonly IIdentityStore _store;
    private readonly SigningKeys _keys;
    private readonly TimeProvider _time;

    public IdentityProvider(IIdentityStore store, SigningKeys keys, IdentityOptions options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        _store = store;
        _keys = keys;
        Options = options;
        _time = time;
    }

    public IdentityOptions Options { get; }

    public SigningKeys SigningKeys => _keys;

    // ── Tenants ─────────────────────────────────────────────────────────────────────────────

    public Tenant CreateTenant(string displayName, Guid? tenantId = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(displayName);
        var tenant = new Tenant(tenantId ?? Guid.NewGuid(), displayName, _time.GetUtcNow());
        _store.AddTenant(tenant);
        return tenant;
    }

    public Tenant? FindTenant(Guid tenantId) => _store.FindTenant(tenantId);

    // ── Service principals (applications) ──────────────────────────────────────────────────

    /// <summary>A new application service principal (fresh app id and object id), with no secret yet.</summary>
    public ServicePrincipal CreateServicePrincipal(Guid tenantId, string displayName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(displayName);
        RequireTenant(tenantId);
        var principal = new ServicePrincipal(Guid.NewGuid(), Guid.NewGuid(), tenantId, displayName, PrincipalKind.Application, null, _time.GetUtcNow());
        _store.AddPrincipal(principal);
        return principal;
    }

    public ServicePrincipal? FindPrincipal(Guid objectId) => _store.FindPrincipal(objectId);

    public ServicePrincipal? FindPrincipalByAppId(Guid appId) => _store.FindPrincipalByAppId(appId);

    public IReadOnlyList<ServicePrincipal> ListPrincipals(Guid tenantId) => _store.ListPrincipals(tenantId);

    /// <summary>Deletes an application service principal and its secrets. Managed identities are deleted with their resource.</summary>
    public bool DeleteServicePrincipal(Guid objectId)
    {
        var principal = _store.FindPrincipal(objectId);
        if (principal is null)
        {
            return false;
        }

        if (principal.IsManagedIdentity)
        {
            throw new InvalidOperationException("A managed identity is deleted with the resource that owns it, not directly.");
        }

        return _store.DeletePrincipal(objectId);
    }

    /// <summary>Adds a client secret; the plaintext is in the result only. Default expiry: <see cref="IdentityOptions.SecretLifetime"/>.</summary>
    public (ClientSecretRecord Record, string Secret) AddSecret(Guid objectId, string displayName = "secret", DateTimeOffset? expiresOn = null)
    {
        var principal = _store.FindPrincipal(objectId)
            ?? throw new InvalidOperationException($"No service principal has object id {objectId}.");
        if (principal.IsManagedIdentity)
        {
            throw new InvalidOperationException("A managed identity has no client secrets.");
        }

        var now = _time.GetUtcNow();
        var secret = ClientSecrets.Generate();
        var record = new ClientSecretRecord(Guid.NewGuid(), objectId, ClientSecrets.Hash(secret), secret[..3], displayName, now,
            expiresOn ?? now + Options.SecretLifetime);
        _store.AddSecret(record);
        return (record, secret);
    }

    public IReadOnlyList<ClientSecretRecord> ListSecrets(Guid objectId) => _store.ListSecrets(objectId);

    public bool RemoveSecret(Guid objectId, Guid keyId) => _store.DeleteSecret(objectId, keyId);

    // ── Client credentials ─────────────────────────────────────────────────────────────────

    /// <summary>
    /// Checks client_id + client_secret against <paramref name="tenantId"/>'s applications. Every
    /// stored secret is compared (constant time each), so timing does not tell which one matched.
    /// </summary>
    public ClientAuthentication AuthenticateClient(Guid tenantId, Guid clientId, string clientSecret)
    {
        ArgumentNullException.ThrowIfNull(clientSecret);
        if (_store.FindTenant(tenantId) is null)
        {
            return new(null, ClientAuthenticationError.UnknownTenant);
        }

        var principal = _store.FindPrincipalByAppId(clientId);
        if (principal is null || principal.TenantId != tenantId)
        {
            return new(null, ClientAuthenticationError.UnknownClient);
        }

        if (principal.IsManagedIdentity)
        {
            return new(null, ClientAuthenticationError.ManagedIdentity);
        }

        var now = _time.GetUtcNow();
        bool matchedLive = false, matchedExpired = false;
        foreach (var secret in _store.ListSecrets(principal.ObjectId))
        {
            if (ClientSecrets.Matches(clientSecret, secret.Hash))
            {
                if (secret.ExpiresOn > now)
                {
                    matchedLive = true;
                }
                else
                {
                    matchedExpired = true;
                }
            }
        }

        return matchedLive ? new(principal, ClientAuthenticationError.None)
            : new(null, matchedExpired ? ClientAuthenticationError.ExpiredSecret : ClientAuthenticationError.InvalidSecret);
    }

    // ── Directory administrators (who may manage service principals over HTTP) ─────────────

    /// <summary>Makes <paramref name="objectId"/> the administrator of <paramref name="tenantId"/>'s directory (the host's bootstrap does).</summary>
    public void SetDirectoryAdministrator(Guid tenantId, Guid objectId)
    {
        RequireTenant(tenantId);
        _store.SetSetting(AdministratorSetting(tenantId), objectId.ToByteArray());
    }

    public bool IsDirectoryAdministrator(Guid tenantId, Guid objectId) =>
        _store.GetSetting(AdministratorSetting(tenantId)) is { Length: 16 } bytes && new Guid(bytes) == objectId;

    private static string AdministratorSetting(Guid tenantId) => $"directory-administrator:{tenantId:D}";

    private Tenant RequireTenant(Guid tenantId) =>
        _store.FindTenant(tenantId) ?? throw new InvalidOperationException($"No tenant has id {tenantId}.");
}
