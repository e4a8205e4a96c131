// Managed identities: service principals without secrets, tied to a resource id. System-assigned
// ones are created and deleted with the resource that owns them; user-assigned ones are the
// principal behind a Microsoft.ManagedIdentity/userAssignedIdentities resource (the ARM resource
// type itself lives in Resource Manager). Invariant: a managed identity's token is issued only
// through IssueManagedIdentityToken with this provider's PlatformCredential — the token endpoint
// refuses client credentials for them (ClientAuthenticationError.ManagedIdentity).
using Ironclad.Identity.Store;
using Ironclad.Identity.Tokens;

namespace Ironclad.Identity;

public sealed partial class IdentityProvider
{
    private readonly Lock _platformLock = new();
    private PlatformCredential? _platformCredential;

    /// <summary>
    /// The platform credential; callable once per provider (the host calls it while composing the
    /// process), so nothing that starts later can obtain a second one.
    /// </summary>
    public PlatformCredential CreatePlatformCredential()
    {
        lock (_platformLock)
        {
            if (_platformCredential is not null)
            {
                throw new InvalidOperationException("The platform credential has already been created; it is handed out once.");
            }

            _platformCredential = new PlatformCredential(this);
            return _platformCredential;
        }
    }

    /// <summary>The system-assigned identity of <paramref name="resourceId"/>, created if it does not exist (idempotent).</summary>
    public ServicePrincipal EnsureSystemAssignedIdentity(Guid tenantId, string resourceId) =>
        EnsureManagedIdentity(tenantId, resourceId, PrincipalKind.SystemAssigned, LastSegment(resourceId));

    /// <summary>The principal of user-assigned identity resource <paramref name="resourceId"/>, created if it does not exist (idempotent).</summary>
    public ServicePrincipal EnsureUserAssignedIdentity(Guid tenantId, string resourceId) =>
        EnsureManagedIdentity(tenantId, resourceId, PrincipalKind.UserAssigned, LastSegment(resourceId));

    public ServicePrincipal? FindManagedIdentity(string resourceId, PrincipalKind kind)
    {
        ArgumentException.ThrowIfNullOrEmpty(resourceId);
        return kind == PrincipalKind.Application ? null : _store.FindPrincipalByResourceId(resourceId, kind);
    }

    /// <summary>Deletes the managed identity of <paramref name="kind"/> for <paramref name="resourceId"/> (its resource was deleted, or the identity disabled).</summary>
    public bool DeleteManagedIdentity(string resourceId, PrincipalKind kind) =>
        FindManagedIdentity(resourceId, kind) is { } principal && _store.DeletePrincipal(principal.ObjectId);

    /// <summary>
    /// A token for managed identity <paramref name="principalObjectId"/> and <paramref name="resource"/>
    /// (a resource such as https://vault.azure.net, or a `{resource}/.default` scope). Only the
    /// holder of this provider's platform credential may call it.
    /// </summary>
    /// <exception cref="UnauthorizedAccessException">The credential is not this provider's.</exception>
    /// <exception cref="InvalidOperationException">No managed identity has this object id.</exception>
    public IssuedToken IssueManagedIdentityToken(PlatformCredential platformCredential, Guid principalObjectId, string resource)
    {
        ArgumentNullException.ThrowIfNull(platformCredential);
        ArgumentException.ThrowIfNullOrEmpty(resource);
        lock (_platformLock)
        {
            if (_platformCredential is null || !ReferenceEquals(platformCredential, _platformCredential) || !ReferenceEquals(platformCredential.Issuer, this))
            {
                throw new UnauthorizedAccessException("The platform credential was not issued by this identity provider.");
            }
        }

        var principal = _store.FindPrincipal(principalObjectId);
        if (principal is not { IsManagedIdentity: true })
        {
            throw new InvalidOperationException($"No managed identity has object id {principalObjectId}.");
        }

        var audienceFound = resource.EndsWith("/.default", StringComparison.Ordinal)
            ? TokenAudience.TryFromScope(resource, out var audience)
            : TokenAudience.TryFromResource(resource, out audience);
        if (!audienceFound)
        {
            throw new ArgumentException($"'{resource}' is not a resource or a /.default scope.", nameof(resource));
        }

        return IssueToken(principal, audience);
    }

    private ServicePrincipal EnsureManagedIdentity(Guid tenantId, string resourceId, PrincipalKind kind, string displayName)
    {
        ArgumentException.ThrowIfNullOrEmpty(resourceId);
        RequireTenant(tenantId);
        if (_store.FindPrincipalByResourceId(resourceId, kind) is { } existing)
        {
            return existing;
        }

        var principal = new ServicePrincipal(Guid.NewGuid(), Guid.NewGuid(), tenantId, displayName, kind, resourceId, _time.GetUtcNow());
        _store.AddPrincipal(principal);
        return principal;
    }

    private static string LastSegment(string resourceId)
    {
        var trimmed = resourceId.TrimEnd('/');
        var slash = trimmed.LastIndexOf('/');
        return slash < 0 ? trimmed : trimmed[(slash + 1)..];
    }
}
