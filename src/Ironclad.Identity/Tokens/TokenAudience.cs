// Turns an OAuth2 scope into a token audience the way Entra ID does for client credentials:
// `{resource}/.default` -> resource, minus one trailing slash (so the .NET SDK's
// `https://management.azure.com//.default` gives `https://management.azure.com/` -> `.../com`).
// Any resource is allowed: each role checks the audiences it accepts.
namespace Ironclad.Identity.Tokens;

public static class TokenAudience
{
    private const string DefaultSuffix = "/.default";

    // OpenID scopes MSAL may add; they name no resource.
    private static readonly string[] OpenIdScopes = ["openid", "profile", "offline_access", "email"];

    /// <summary>False unless the scope list names exactly one resource as `{resource}/.default`.</summary>
    public static bool TryFromScope(string scope, out string audience)
    {
        audience = string.Empty;
        var resources = (scope ?? string.Empty).Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Where(s => !OpenIdScopes.Contains(s, StringComparer.OrdinalIgnoreCase)).ToList();
        if (resources.Count != 1 || !resources[0].EndsWith(DefaultSuffix, StringComparison.Ordinal))
        {
            return false;
        }

        return TryFromResource(resources[0][..^DefaultSuffix.Length], out audience);
    }

    /// <summary>The v1 `resource` parameter: the audience itself (minus one trailing slash).</summary>
    public static bool TryFromResource(string resource, out string audience)
    {
        audience = resource ?? string.Empty;
        if (audience.EndsWith('/'))
        {
            audience = audience[..^1];
        }

        return audience.Length > 0 && !audience.Any(char.IsWhiteSpace);
    }
}
