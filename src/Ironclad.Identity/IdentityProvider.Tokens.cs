// Access tokens: RS256 JWTs (RFC 7519) signed by the current key of the ring, with Entra ID v2
// claims. Validation checks signature (current and recently retired keys, RS256 only), then
// issuer, tenant and lifetime (with clock skew, times from TimeProvider). The audience is carried
// to the caller, not checked: each role accepts its own audiences.
using System.Globalization;
using Ironclad.Identity.Store;
using Ironclad.Identity.Tokens;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Ironclad.Identity;

public sealed partial class IdentityProvider
{
    /// <summary>The claim naming a managed identity's resource id (as Entra ID's `xms_mirid`).</summary>
    public const string ManagedIdentityResourceClaim = "xms_mirid";

    private static readonly JsonWebTokenHandler Handler = new() { SetDefaultTimesOnTokenCreation = false };

    /// <summary>Issues a token for an authenticated principal and an audience (see <see cref="TokenAudience"/>).</summary>
    public IssuedToken IssueToken(ServicePrincipal principal, string audience)
    {
        ArgumentNullException.ThrowIfNull(principal);
        ArgumentException.ThrowIfNullOrEmpty(audience);
        var now = _time.GetUtcNow();
        var issuedAt = DateTimeOffset.FromUnixTimeSeconds(now.ToUnixTimeSeconds());
        var expiresOn = issuedAt + Options.TokenLifetime;
        var claims = new Dictionary<string, object>
        {
            ["tid"] = principal.TenantId.ToString("D"),
            ["oid"] = principal.ObjectId.ToString("D"),
            ["sub"] = principal.ObjectId.ToString("D"),
            ["appid"] = principal.AppId.ToString("D"),
            ["azp"] = principal.AppId.ToString("D"),
            ["idtyp"] = "app",
            ["ver"] = "2.0",
        };
        if (principal.IsManagedIdentity && principal.ResourceId is { } resourceId)
        {
            claims[ManagedIdentityResourceClaim] = resourceId;
        }

        var token = Handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Options.IssuerFor(principal.TenantId),
            Audience = audience,
            IssuedAt = issuedAt.UtcDateTime,
            NotBefore = issuedAt.UtcDateTime,
            Expires = expiresOn.UtcDateTime,
            Claims = claims,
            TokenType = "JWT",
            SigningCredentials = new SigningCredentials(_keys.Current, SecurityAlgorithms.RsaSha256),
        });
        return new IssuedToken(token, expiresOn, (long)Options.TokenLifetime.TotalSeconds, audience);
    }

    /// <summary>Validates a bearer token; never throws for a bad token.</summary>
    public async Task<TokenValidation> ValidateTokenAsync(string token, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (string.IsNullOrWhiteSpace(token) || !Handler.CanReadToken(token))
        {
            return TokenValidation.Rejected(TokenRejectionReason.Malformed, "The access token is not a well-formed JWT.");
        }

        var parameters = new TokenValidationParameters
        {
            ValidateAudience = false,
            ValidateIssuer = false,
            ValidateLifetime = false,
            RequireExpirationTime = true,
            RequireSignedTokens = true,
            ValidAlgorithms = [SecurityAlgorithms.RsaSha256],
            IssuerSigningKeys = _keys.ValidationKeys,
            TryAllIssuerSigningKeys = false,
        };
        Microsoft.IdentityModel.Tokens.TokenValidationResult result;
        try
        {
            result = await Handler.ValidateTokenAsync(token, parameters);
        }
        catch (Exception e) when (e is ArgumentException or SecurityTokenException)
        {
            return TokenValidation.Rejected(TokenRejectionReason.Malformed, "The access token is not a well-formed JWT.");
        }

        if (!result.IsValid || result.SecurityToken is not JsonWebToken jwt)
        {
            return result.Exception is SecurityTokenMalformedException or SecurityTokenNoExpirationException
                ? TokenValidation.Rejected(TokenRejectionReason.Malformed, "The access token is not a well-formed JWT.")
                : TokenValidation.Rejected(TokenRejectionReason.InvalidSignature, "The access token has an invalid signature.");
        }

        if (!TryGuid(jwt, "tid", out var tenantId) || !TryGuid(jwt, "oid", out var objectId) || !TryGuid(jwt, "appid", out var appId)
            || !jwt.TryGetPayloadValue<string>("aud", out var audience) || string.IsNullOrEmpty(audience))
        {
            return TokenValidation.Rejected(TokenRejectionReason.Malformed, "The access token lacks a required claim (tid, oid, appid, aud).");
        }

        if (!string.Equals(jwt.Issuer, Options.IssuerFor(tenantId), StringComparison.Ordinal))
        {
            return TokenValidation.Rejected(TokenRejectionReason.InvalidIssuer, "The access token is from an issuer this server does not trust.");
        }

        if (_store.FindTenant(tenantId) is null)
        {
            return TokenValidation.Rejected(TokenRejectionReason.UnknownTenant,
                $"The access token's tenant '{tenantId}' is not a tenant of this server.");
        }

        var now = _time.GetUtcNow();
        var expiresOn = new DateTimeOffset(jwt.ValidTo, TimeSpan.Zero);
        if (now > expiresOn + Options.ClockSkew)
        {
            return TokenValidation.Rejected(TokenRejectionReason.Expired, string.Create(CultureInfo.InvariantCulture,
                $"The access token expiry UTC time '{expiresOn.UtcDateTime:M/d/yyyy h:mm:ss tt}' is earlier than current UTC time '{now.UtcDateTime:M/d/yyyy h:mm:ss tt}'."));
        }

        if (jwt.ValidFrom != DateTime.MinValue && now + Options.ClockSkew < new DateTimeOffset(jwt.ValidFrom, TimeSpan.Zero))
        {
            return TokenValidation.Rejected(TokenRejectionReason.NotYetValid, "The access token is not valid yet (nbf is in the future).");
        }

        var type = jwt.TryGetPayloadValue<string>(ManagedIdentityResourceClaim, out var mirid) && !string.IsNullOrEmpty(mirid)
            ? PrincipalType.ManagedIdentity
            : PrincipalType.ServicePrincipal;
        return new TokenValidation(new CallerIdentity(tenantId, objectId, appId, audience, type), null);
    }

    private static bool TryGuid(JsonWebToken jwt, string claim, out Guid value)
    {
        value = Guid.Empty;
        return jwt.TryGetPayloadValue<string>(claim, out var text) && Guid.TryParseExact(text, "D", out value);
    }
}
