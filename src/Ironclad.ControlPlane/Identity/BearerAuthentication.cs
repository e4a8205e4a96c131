// Bearer-token authentication for every request: if `Authorization: Bearer <jwt>` is present, the
// token is validated and the outcome recorded on the request (CallerContext) for the role that
// serves it. It never rejects a request itself and never checks the audience: each role decides
// whether it needs a caller and which audiences it accepts. Tokens are never logged.
using Ironclad.ControlPlane.Authentication;
using Ironclad.Identity;
using Ironclad.Identity.Tokens;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Ironclad.ControlPlane.Identity;

public static partial class IdentityEndpoints
{
    /// <summary>ARM's codes for a refused token (also used by the Key Vault edge).</summary>
    public const string InvalidAuthenticationToken = "InvalidAuthenticationToken";
    public const string ExpiredAuthenticationToken = "ExpiredAuthenticationToken";
    public const string InvalidAuthenticationTokenTenant = "InvalidAuthenticationTokenTenant";

    /// <summary>Middleware: validates a bearer token if present and records the outcome (CallerContext).</summary>
    public static IApplicationBuilder UseBearerAuthentication(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        return app.Use(async (context, next) =>
        {
            var header = context.Request.Headers.Authorization.ToString();
            if (header.Length > 0 && context.RequestServices.GetService<IdentityProvider>() is { } identity)
            {
                const string Scheme = "Bearer ";
                if (!header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
                {
                    // Basic credentials belong to the token endpoint; any other scheme is no bearer token.
                    if (!header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
                    {
                        context.SetTokenFailure(new TokenFailure(InvalidAuthenticationToken,
                            "The authentication scheme of the Authorization header is not Bearer."));
                    }
                }
                else
                {
                    var validation = await identity.ValidateTokenAsync(header[Scheme.Length..].Trim(), context.RequestAborted);
                    if (validation.Caller is { } caller)
                    {
                        context.SetCaller(caller);
                    }
                    else
                    {
                        context.SetTokenFailure(ToFailure(validation.Rejection!));
                    }
                }
            }

            await next(context);
        });
    }

    /// <summary>The one mapping from a rejection reason to ARM's error code.</summary>
    public static TokenFailure ToFailure(TokenRejection rejection)
    {
        ArgumentNullException.ThrowIfNull(rejection);
        var code = rejection.Reason switch
        {
            TokenRejectionReason.Expired => ExpiredAuthenticationToken,
            TokenRejectionReason.UnknownTenant => InvalidAuthenticationTokenTenant,
            _ => InvalidAuthenticationToken,
        };
        return new TokenFailure(code, rejection.Message);
    }
}
