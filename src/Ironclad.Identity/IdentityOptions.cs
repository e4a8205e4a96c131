// Tunables of the identity provider. AuthorityHost is the HTTPS origin clients use as
// `authorityHost`; it is known only once the listener is bound (port 0), so the host sets it then.
// Every issued token carries iss = {AuthorityHost}/{tenantId}/v2.0 and validation demands exactly that.
namespace Ironclad.Identity;

public sealed class IdentityOptions
{
    public static readonly TimeSpan DefaultTokenLifetime = TimeSpan.FromSeconds(3600);
    public static readonly TimeSpan DefaultClockSkew = TimeSpan.FromSeconds(300);
    public static readonly TimeSpan DefaultSecretLifetime = TimeSpan.FromDays(365);

    private volatile string _authorityHost = "https://127.0.0.1";

    /// <summary>e.g. https://127.0.0.1:8443 (no trailing slash).</summary>
    public string AuthorityHost
    {
        get => _authorityHost;
        set
        {
            ArgumentException.ThrowIfNullOrEmpty(value);
            _authorityHost = value.TrimEnd('/');
        }
    }

    /// <summary>exp - iat of every access token.</summary>
    public TimeSpan TokenLifetime { get; init; } = DefaultTokenLifetime;

    /// <summary>Tolerance when checking nbf and exp.</summary>
    public TimeSpan ClockSkew { get; init; } = DefaultClockSkew;

    /// <summary>Expiry of a client secret created without an explicit one.</summary>
    public TimeSpan SecretLifetime { get; init; } = DefaultSecretLifetime;

    /// <summary>The `iss` of tokens issued for <paramref name="tenantId"/>.</summary>
    public string IssuerFor(Guid tenantId) => $"{AuthorityHost}/{tenantId:D}/v2.0";
}
