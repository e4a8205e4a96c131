// Who is calling: what a validated bearer token says, handed by the HTTP edge to every role that
// authorizes (Resource Manager by RBAC, Key Vault by access policy or RBAC). Invariant: an instance
// exists only for a token whose signature, issuer and lifetime were verified; the audience is
// carried, not checked, because each role accepts its own audiences.
namespace Ironclad.Identity;

/// <summary>The authenticated principal behind one request.</summary>
/// <param name="TenantId">`tid`: the tenant that issued the token.</param>
/// <param name="ObjectId">`oid`: the principal's object id (what role assignments and access policies name).</param>
/// <param name="AppId">`appid`: the application (client) id; for a managed identity its client id.</param>
/// <param name="Audience">`aud`: the resource the token was issued for, e.g. https://management.azure.com.</param>
/// <param name="PrincipalType">What kind of principal this is.</param>
public sealed record CallerIdentity(Guid TenantId, Guid ObjectId, Guid AppId, string Audience, PrincipalType PrincipalType);

/// <summary>The principal kinds of role assignments (`principalType` on the wire).</summary>
public enum PrincipalType
{
    /// <summary>An application's service principal (client credentials).</summary>
    ServicePrincipal,

    /// <summary>A managed identity (system- or user-assigned); on the wire also `ServicePrincipal`.</summary>
    ManagedIdentity,
}
