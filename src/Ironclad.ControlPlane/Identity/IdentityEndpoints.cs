// The identity provider's HTTP surface (OAuth2 token endpoint, OpenID metadata, JWKS) and the
// bearer-token authentication middleware. Owned by the identity work (issue 4).
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;

namespace Ironclad.ControlPlane.Identity;

public static class IdentityEndpoints
{
    /// <summary>Middleware: validates a bearer token if present and records the outcome (CallerContext).</summary>
    public static IApplicationBuilder UseBearerAuthentication(this IApplicationBuilder app) => app;

    public static IEndpointRouteBuilder MapIdentity(this IEndpointRouteBuilder endpoints) => endpoints;
}
