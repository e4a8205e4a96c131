// The identity provider's HTTP surface: OAuth2 client credentials (v2 `/{tenant}/oauth2/v2.0/token`,
// v1 `/{tenant}/oauth2/token`), OpenID Connect discovery and the JWKS, as @azure/identity (MSAL)
// and Azure.Identity expect them (../shared/design/api-compat.md §3). Invariants: every refusal is
// an OAuth2 error from OAuthErrors; a secret is never echoed or logged; managed identities never
// get a token here.
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using Ironclad.Identity;
using Ironclad.Identity.Tokens;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.Tokens;

namespace Ironclad.ControlPlane.Identity;

public static partial class IdentityEndpoints
{
    private const string ClientCredentials = "client_credentials";

    public static IEndpointRouteBuilder MapIdentity(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        // A process (or an in-process test host) that runs no identity role serves none of this.
        if (endpoints.ServiceProvider.GetService<IServiceProviderIsService>()?.IsService(typeof(IdentityProvider)) != true)
        {
            return endpoints;
        }

        endpoints.MapPost("/{tenant}/oauth2/v2.0/token", (string tenant, HttpContext context, [FromServices] IdentityProvider identity) =>
            TokenAsync(tenant, context, identity, version2: true));
        endpoints.MapPost("/{tenant}/oauth2/token", (string tenant, HttpContext context, [FromServices] IdentityProvider identity) =>
            TokenAsync(tenant, context, identity, version2: false));
        endpoints.MapGet("/{tenant}/v2.0/.well-known/openid-configuration", OpenIdConfigurationDocument);
        endpoints.MapGet("/{tenant}/discovery/v2.0/keys", Keys);
        endpoints.MapGet("/{tenant}/discovery/keys", Keys);
        endpoints.MapServicePrincipals();
        return endpoints;
    }

    private static async Task<IResult> TokenAsync(string tenant, HttpContext context, IdentityProvider identity, bool version2)
    {
        if (!Guid.TryParse(tenant, out var tenantId) || identity.FindTenant(tenantId) is null)
        {
            return OAuthErrors.TenantNotFound(context, tenant);
        }

        if (!context.Request.HasFormContentType)
        {
            return OAuthErrors.NotAForm(context);
        }

        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        var grantType = form["grant_type"].FirstOrDefault();
        if (string.IsNullOrEmpty(grantType))
        {
            return OAuthErrors.MissingParameter(context, "grant_type");
        }

        if (!string.Equals(grantType, ClientCredentials, StringComparison.Ordinal))
        {
            return OAuthErrors.UnsupportedGrantType(context);
        }

        // client_secret_post, or client_secret_basic (RFC 6749 §2.3.1: form-urlencoded inside Basic).
        var clientId = form["client_id"].FirstOrDefault();
        var clientSecret = form["client_secret"].FirstOrDefault();
        if (TryBasicCredentials(context.Request, out var basicId, out var basicSecret))
        {
            clientId ??= basicId;
            clientSecret ??= basicSecret;
        }

        if (string.IsNullOrEmpty(clientId))
        {
            return OAuthErrors.MissingParameter(context, "client_id");
        }

        string audience;
        if (version2)
        {
            var scope = form["scope"].FirstOrDefault();
            if (string.IsNullOrEmpty(scope))
            {
                return OAuthErrors.MissingParameter(context, "scope");
            }

            if (!TokenAudience.TryFromScope(scope, out audience))
            {
                return OAuthErrors.InvalidScope(context, "scope");
            }
        }
        else
        {
            var resource = form["resource"].FirstOrDefault();
            if (string.IsNullOrEmpty(resource))
            {
                return OAuthErrors.MissingParameter(context, "resource");
            }

            if (!TokenAudience.TryFromResource(resource, out audience))
            {
                return OAuthErrors.InvalidScope(context, "resource");
            }
        }

        if (!Guid.TryParse(clientId, out var appId))
        {
            return OAuthErrors.UnknownClient(context, clientId, tenant);
        }

        if (string.IsNullOrEmpty(clientSecret))
        {
            return identity.FindPrincipalByAppId(appId) is { IsManagedIdentity: true }
                ? OAuthErrors.ManagedIdentityClient(context, clientId)
                : OAuthErrors.MissingSecret(context);
        }

        var authentication = identity.AuthenticateClient(tenantId, appId, clientSecret);
        switch (authentication.Error)
        {
            case ClientAuthenticationError.UnknownTenant:
                return OAuthErrors.TenantNotFound(context, tenant);
            case ClientAuthenticationError.UnknownClient:
                return OAuthErrors.UnknownClient(context, clientId, tenant);
            case ClientAuthenticationError.ManagedIdentity:
                return OAuthErrors.ManagedIdentityClient(context, clientId);
            case ClientAuthenticationError.InvalidSecret:
                return OAuthErrors.InvalidSecret(context, clientId);
            case ClientAuthenticationError.ExpiredSecret:
                return OAuthErrors.ExpiredSecret(context, clientId);
            case ClientAuthenticationError.None:
                break;
            default:
                throw new InvalidOperationException($"Unmapped client authentication outcome {authentication.Error}.");
        }

        var token = identity.IssueToken(authentication.Principal!, audience);
        context.Response.Headers.CacheControl = "no-store, no-cache";
        context.Response.Headers.Pragma = "no-cache";
        if (version2)
        {
            return Results.Json(new TokenResponse("Bearer", token.ExpiresInSeconds, token.ExpiresInSeconds, token.AccessToken),
                IdentityJsonContext.Default.TokenResponse);
        }

        var notBefore = token.ExpiresOn.ToUnixTimeSeconds() - token.ExpiresInSeconds;
        return Results.Json(new TokenResponseV1("Bearer", Text(token.ExpiresInSeconds), Text(token.ExpiresInSeconds),
            Text(token.ExpiresOn.ToUnixTimeSeconds()), Text(notBefore), audience, token.AccessToken),
            IdentityJsonContext.Default.TokenResponseV1);
    }

    // MSAL checks that `issuer` has the origin of the authority it was configured with, so the
    // document speaks in the origin the client used (in practice the same as endpoints.json's).
    private static IResult OpenIdConfigurationDocument(string tenant, HttpContext context, [FromServices] IdentityProvider identity)
    {
        if (!Guid.TryParse(tenant, out var tenantId) || identity.FindTenant(tenantId) is null)
        {
            return OAuthErrors.TenantNotFound(context, tenant);
        }

        var authority = $"{context.Request.Scheme}://{context.Request.Host}/{tenantId:D}";
        return Results.Json(new OpenIdConfiguration(
            Issuer: $"{authority}/v2.0",
            AuthorizationEndpoint: $"{authority}/oauth2/v2.0/authorize",
            TokenEndpoint: $"{authority}/oauth2/v2.0/token",
            JwksUri: $"{authority}/discovery/v2.0/keys",
            TokenEndpointAuthMethodsSupported: ["client_secret_post", "client_secret_basic"],
            ResponseTypesSupported: ["token"],
            SubjectTypesSupported: ["pairwise"],
            IdTokenSigningAlgValuesSupported: ["RS256"],
            GrantTypesSupported: [ClientCredentials],
            ScopesSupported: ["openid", "profile", "email", "offline_access"],
            ClaimsSupported: ["iss", "aud", "tid", "oid", "sub", "appid", "azp", "idtyp", "ver", "iat", "nbf", "exp", IdentityProvider.ManagedIdentityResourceClaim],
            TenantRegionScope: null,
            CloudInstanceName: "ironclad"), IdentityJsonContext.Default.OpenIdConfiguration);
    }

    /// <summary>RFC 7517 key set: public parts of the current and still-verifying retired keys.</summary>
    private static IResult Keys(string tenant, HttpContext context, [FromServices] IdentityProvider identity)
    {
        if (!Guid.TryParse(tenant, out var tenantId) || identity.FindTenant(tenantId) is null)
        {
            return OAuthErrors.TenantNotFound(context, tenant);
        }

        var keys = identity.SigningKeys.ValidationKeys.Select(key =>
        {
            var parameters = key.Rsa.ExportParameters(includePrivateParameters: false);
            return new JsonWebKeyDocument("RSA", "sig", "RS256", key.KeyId, Base64UrlEncoder.Encode(parameters.Modulus), Base64UrlEncoder.Encode(parameters.Exponent));
        }).ToArray();
        return Results.Json(new JsonWebKeySetDocument(keys), IdentityJsonContext.Default.JsonWebKeySetDocument);
    }

    private static bool TryBasicCredentials(HttpRequest request, out string? clientId, out string? clientSecret)
    {
        clientId = clientSecret = null;
        if (!AuthenticationHeaderValue.TryParse(request.Headers.Authorization.ToString(), out var header)
            || !string.Equals(header.Scheme, "Basic", StringComparison.OrdinalIgnoreCase) || header.Parameter is null)
        {
            return false;
        }

        try
        {
            var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header.Parameter));
            var colon = decoded.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
            {
                return false;
            }

            clientId = Uri.UnescapeDataString(decoded[..colon].Replace('+', ' '));
            clientSecret = Uri.UnescapeDataString(decoded[(colon + 1)..].Replace('+', ' '));
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    private static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);
}
