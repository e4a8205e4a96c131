// The outcomes of the identity provider's decisions, as values: an edge (the OAuth2 endpoint, the
// bearer middleware) maps each to its wire error in one table. Messages here are safe to return:
// they never contain a secret or a token.
using Ironclad.Identity.Store;

namespace Ironclad.Identity.Tokens;

/// <summary>Why a client-credentials request was refused.</summary>
public enum ClientAuthenticationError
{
    None = 0,

    /// <summary>The tenant in the URL does not exist (AADSTS90002).</summary>
    UnknownTenant,

    /// <summary>No application with this client id in the tenant (AADSTS700016).</summary>
    UnknownClient,

    /// <summary>The secret matches none of the application's secrets (AADSTS7000215).</summary>
    InvalidSecret,

    /// <summary>The secret matches only expired secrets (AADSTS7000222).</summary>
    ExpiredSecret,

    /// <summary>The client id is a managed identity's: its tokens come only through the platform path.</summary>
    ManagedIdentity,
}

/// <summary>The principal a client authenticated as, or why it could not.</summary>
public sealed record ClientAuthentication(ServicePrincipal? Principal, ClientAuthenticationError Error)
{
    public bool Succeeded => Error == ClientAuthenticationError.None && Principal is not null;
}

/// <summary>An access token and when it expires.</summary>
public sealed record IssuedToken(string AccessToken, DateTimeOffset ExpiresOn, long ExpiresInSeconds, string Audience);

/// <summary>Why a bearer token was refused.</summary>
public enum TokenRejectionReason
{
    /// <summary>Not a JWT, or required claims missing or malformed.</summary>
    Malformed,

    /// <summary>Not signed by any of our current or recently retired keys.</summary>
    InvalidSignature,

    /// <summary>`iss` is not this authority's issuer for the token's tenant.</summary>
    InvalidIssuer,

    /// <summary>`exp` (plus clock skew) has passed.</summary>
    Expired,

    /// <summary>`nbf` (minus clock skew) is in the future.</summary>
    NotYetValid,

    /// <summary>`tid` names no tenant of this server.</summary>
    UnknownTenant,
}

public sealed record TokenRejection(TokenRejectionReason Reason, string Message);

/// <summary>A verified caller, or the reason the token was refused.</summary>
public sealed record TokenValidation(CallerIdentity? Caller, TokenRejection? Rejection)
{
    public bool IsValid => Caller is not null;

    public static TokenValidation Rejected(TokenRejectionReason reason, string message) => new(null, new TokenRejection(reason, message));
}
